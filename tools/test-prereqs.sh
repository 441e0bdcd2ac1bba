#!/usr/bin/env bash
# npm test's pretest: every requirement the suite has beyond what `npm
# install` needed, each checked here and named with how to get it, instead of
# a failure deep inside a test. What apt can give (strace, cc, setpriv) is
# installed when we are root and have apt-get, as on a fresh Debian machine;
# everything else is listed, all at once, with what to do.
#
#   strace 6.1     test/decode-strace.test.ts compares liveprobe's lines with
#                  strace's, line for line (test/helpers/strace.ts runs
#                  /usr/bin/strace); another version prints some calls
#                  differently (Debian 12's strace is 6.1)
#   cc             the C fixtures and cgo (test/helpers/fixtures.ts)
#   readelf        (binutils) binary-facts.test.ts's oracle for the ELF interpreter
#   go             the Go fixtures; Go 1.19 too (fixtureGo119 in
#                  test/helpers/fixtures.ts): Debian's golang-1.19-go, or
#                  GOTOOLCHAIN=go1.19.13 fetched by a go of 1.21 or later
#   x86_64         syscall numbers and the ELF interpreter the tests expect
#                  (reliability-load's NANOSLEEP, binary-facts' ld.so path)
#   ulimit -s 8192 glibc sizes a pthread's stack from RLIMIT_STACK: the tests
#                  expect 8 MiB stacks, mmap(NULL, 8392704, ...) with the guard
#   merged /usr    /bin -> usr/bin: an exec of /bin/echo is reported as
#                  /usr/bin/echo (engine.test.ts)
#   root           attach to processes the tests do not parent, and
#                  reliability-permissions becomes nobody with setpriv
#   setpriv        (util-linux) for that
#   nobody         uid 65534 must run node (process.execPath) and search
#                  os.tmpdir(), where test/helpers/readable-copy.ts copies what
#                  it loads (dist/lib, the addon, node_modules): the checkout
#                  itself need not be readable by nobody
#   chromium, tmux test/report.test.ts opens the HTML report in headless Chromium
#                  and drives --live in tmux
#   prometheus     test/watch.test.ts starts one to scrape `liveprobe watch --listen`
#   musl-gcc       (musl-tools) the cgo fixture linked statically against musl
#                  (ex7musl), as Alpine images build Go programs
set -euo pipefail

strace=/usr/bin/strace
want_strace=6.1
tmpdir=${TMPDIR:-/tmp}

problems=()
say() { problems+=("$1"); }

# What apt-get can install: installed when root, else named.
missing=()
[ -x "$strace" ] || missing+=(strace)
command -v cc >/dev/null || missing+=(gcc)
command -v readelf >/dev/null || missing+=(binutils)
command -v setpriv >/dev/null || missing+=(util-linux)
# Chromium and tmux, in which test/report.test.ts opens the HTML report and drives --live.
command -v chromium >/dev/null || missing+=(chromium)
command -v tmux >/dev/null || missing+=(tmux)
# Prometheus, which test/watch.test.ts starts to scrape `liveprobe watch --listen`.
command -v prometheus >/dev/null || missing+=(prometheus)
# musl-gcc, for the cgo fixture linked statically against musl (ex7musl).
command -v musl-gcc >/dev/null || missing+=(musl-tools)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "npm test: the tests need ${missing[*]}: installing with apt-get"
    if ! out=$({ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } 2>&1); then
      say "apt-get install ${missing[*]} failed ($(tail -n 1 <<<"$out")): install it yourself"
    fi
  else
    say "the tests need ${missing[*]}: run \`sudo apt-get install ${missing[*]}\` (or your system's equivalent)"
  fi
fi

if [ -x "$strace" ]; then
  version=$("$strace" -V 2>/dev/null | sed -n '1s/.*version \([0-9][0-9.]*\).*/\1/p')
  if [ "$version" != "$want_strace" ]; then
    say "$strace is version ${version:-unknown}; the parity tests compare with strace $want_strace's output: install strace $want_strace (Debian 12's package, or build https://github.com/strace/strace/releases/tag/v$want_strace) at $strace"
  fi
elif [[ " ${missing[*]} " != *" strace "* ]]; then
  say "strace is not at $strace, where the tests run it: install Debian's strace $want_strace package"
fi

if ! command -v go >/dev/null; then
  say "the tests build Go programs and need go on PATH: install Go from https://go.dev/dl/"
elif [ ! -x /usr/lib/go-1.19/bin/go ]; then
  # Go 1.19 is fetched by the go on PATH (GOTOOLCHAIN=go1.19.13), which needs go >= 1.21 and a module proxy.
  gov=$(go env GOVERSION 2>/dev/null || true)
  minor=$(sed -n 's/^go1\.\([0-9]*\).*/\1/p' <<<"$gov")
  if [ -z "$minor" ] || [ "$minor" -lt 21 ]; then
    say "some fixtures are built with Go 1.19, which ${gov:-this go} cannot fetch (GOTOOLCHAIN needs go 1.21 or later): install golang-1.19-go, or a newer go from https://go.dev/dl/"
  elif [ "$(go env GOPROXY)" = off ]; then
    say "some fixtures are built with Go 1.19, fetched as GOTOOLCHAIN=go1.19.13 through the module proxy, but GOPROXY=off: set GOPROXY, or install golang-1.19-go"
  fi
fi

arch=$(uname -m)
[ "$arch" = x86_64 ] || say "the tests run on x86_64 (syscall numbers, ld-linux-x86-64.so.2); this machine is $arch"

stack=$(ulimit -s)
[ "$stack" = 8192 ] || say "the stack limit is $stack, and the tests expect glibc's 8 MiB thread stacks (mmap of 8392704 bytes): run \`ulimit -s 8192\` in this shell, then npm test"

[ "$(readlink -f /bin)" = /usr/bin ] || say "/bin is not a link to /usr/bin (merged /usr): the tests expect /bin/echo to run as /usr/bin/echo"

if [ "$(id -u)" != 0 ]; then
  say "the tests attach to processes they did not start and become nobody with setpriv: run npm test as root (sudo npm test)"
elif command -v setpriv >/dev/null; then
  nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  node=$(command -v node)
  "${nobody[@]}" "$node" -e 0 2>/dev/null ||
    say "nobody (uid 65534) cannot run $node, which the permission tests run as nobody: install node where every user can run it (e.g. /usr/local/bin)"
  "${nobody[@]}" test -x "$tmpdir" ||
    say "nobody (uid 65534) cannot search $tmpdir, where the permission tests copy what it loads (test/helpers/readable-copy.ts): chmod o+x it, or set TMPDIR to such a directory"
fi

# The perf engine's tests (test/perf-engine.test.ts) read tracepoint ids from
# tracefs. liveprobe itself never mounts anything (it falls back to ptrace and
# says so); the test preflight, as root, mounts it when it is not there.
if [ ! -r /sys/kernel/tracing/events/syscalls/sys_enter_mmap/id ]; then
  if [ "$(id -u)" = 0 ] && mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then
    echo "npm test: mounted tracefs at /sys/kernel/tracing for the perf engine's tests"
  else
    say "tracefs is not mounted at /sys/kernel/tracing (the perf engine's tests need it): run \`sudo mount -t tracefs nodev /sys/kernel/tracing\`"
  fi
fi

if [ -r /proc/sys/kernel/yama/ptrace_scope ] && [ "$(cat /proc/sys/kernel/yama/ptrace_scope)" = 3 ]; then
  say "kernel.yama.ptrace_scope is 3: no process may ptrace another until reboot; boot with it at 0-2"
fi

if ((${#problems[@]})); then
  echo "npm test: this machine is missing what the tests need:" >&2
  for p in "${problems[@]}"; do echo "  - $p" >&2; done
  echo "then run npm test again" >&2
  exit 1
fi

#!/usr/bin/env bash
# npm test's pretest: what the tests need from the system beyond what
# `npm install` needed. strace, which the tests compare liveprobe with
# (test/helpers/strace.ts runs this path); cc, for the C fixtures and cgo; go,
# for the Go fixtures (test/helpers/fixtures.ts; Go 1.19 it fetches itself);
# musl-gcc (musl-tools), for the cgo fixture linked statically against musl.
# What apt can give is installed when we are root and have apt-get, as on a
# fresh Debian machine; otherwise one line says what to run.
set -euo pipefail

strace=/usr/bin/strace

missing=()
[ -x "$strace" ] || missing+=(strace)
command -v cc >/dev/null || missing+=(gcc)
command -v musl-gcc >/dev/null || missing+=(musl-tools)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "npm test: the tests need ${missing[*]}: installing with apt-get"
    if ! out=$({ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } 2>&1); then
      echo "npm test: apt-get install ${missing[*]} failed ($(tail -n 1 <<<"$out")): install it yourself, then run npm test again" >&2
      exit 1
    fi
    if [ ! -x "$strace" ]; then
      echo "npm test: apt-get installed strace, but not as $strace, where the tests run it" >&2
      exit 1
    fi
  else
    echo "npm test: the tests need ${missing[*]}: run \`sudo apt-get install ${missing[*]}\` (or your system's equivalent), then npm test again" >&2
    exit 1
  fi
fi
if ! command -v go >/dev/null; then
  echo "npm test: the tests build Go programs and need go on PATH: install Go from https://go.dev/dl/, then run npm test again" >&2
  exit 1
fi

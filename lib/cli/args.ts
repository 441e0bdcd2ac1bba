// Command-line parsing. Errors are UsageError: one line, exit code 2.

import type { FdPaths, XlatStyle } from '../syscalls/decode/format';

export class UsageError extends Error {}

export interface CliOptions {
  command: 'run' | 'attach' | 'compare' | 'help' | 'version';
  output?: string;
  json: boolean;
  durationMs?: number;
  followForks: boolean;
  noAslr: boolean;
  /** Print the address-space model at exit/detach. */
  maps: boolean;
  /** End-of-run explanation: undefined = on when stderr is a terminal. */
  summary?: boolean;
  /** Show only findings (and the summary), not every syscall. */
  findingsOnly: boolean;
  /** compare: when to take each side's explanation (ms), undefined = at exit. */
  atMs?: number;
  /** compare: the two command lines. */
  compare?: [string[], string[]];
  trace?: string;
  /** Show Go's preemption tgkill/SIGURG instead of counting them. */
  preemption: boolean;
  /** strace's -X: how named constants print. */
  xlat: XlatStyle;
  /** strace's -a: the column of a syscall's ` = ` (0: no padding). */
  column: number;
  /** strace's -y (`path`) and -yy (`all`): fds with their paths. */
  fdPaths: FdPaths;
  file?: string;
  args: string[];
  pid?: number;
}

export const USAGE = `usage: liveprobe run [options] [--] <file> [args...]
       liveprobe attach [options] <pid>
       liveprobe compare [--at <sec>] [--json] -- <file> [args...] --- <file> [args...]

Traces every thread of a process with ptrace: memory and thread syscalls,
signals, exec and exit, as they happen.

options:
  -o, --output <file>     write the trace to <file> instead of stderr
      --json              one JSON object per event (NDJSON)
      --duration <sec>    detach after <sec> seconds (fractions allowed)
  -f, --follow-forks      trace child processes too
  -e, --trace <expr>      syscalls to show, as strace's -e trace= (e.g. %memory,clone3)
  -X raw|abbrev|verbose   named constants as numbers, as names (default) or both,
                          as strace's -X (--const-print-style=)
  -a <column>             pad each syscall's " = " out to that column, as strace's -a
                          (--columns=); default: no padding
  -y, -yy                 print the path of a file descriptor after it, as strace's -y
                          (mmap's fd: 3</usr/lib/libc.so.6>); -yy: a pidfd's process
      --preemption        show Go's async preemption (tgkill(..., SIGURG) and its
                          SIGURG), which is otherwise only counted: it is
                          hundreds a second on a busy Go program
      --no-aslr           run: start the target with address randomization off
      --maps              at exit or detach, print the address-space model
                          (/proc/PID/maps layout plus a class column)
      --findings          show only findings (threads, arenas...), not every syscall
      --summary           explain the VmSize at exit or detach (default on a terminal)
      --no-summary        do not
      --at <sec>          compare: explain both at that time, then stop them
                          (default: when each exits)
  -h, --help              this text
  -V, --version           liveprobe's version

run exits with the target's exit code (128 + signal number if it was killed).
attach detaches on Ctrl-C or SIGTERM and leaves the process running.
compare runs both programs, explains each one's VmSize and prints them side
by side with the difference per class (the article's cgo vs pure-Go test).`;

function takeValue(argv: string[], i: number, name: string): string {
  const v = argv[i + 1];
  if (v === undefined) throw new UsageError(`${name} needs a value`);
  return v;
}

export function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = {
    command: 'help', json: false, followForks: false, noAslr: false, maps: false, findingsOnly: false, preemption: false,
    xlat: 'abbrev', column: 0, fdPaths: false, args: [],
  };
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') return opts;
  if (command === '-V' || command === '--version') return { ...opts, command: 'version' };
  if (command !== 'run' && command !== 'attach' && command !== 'compare') {
    throw new UsageError(`unknown command "${command}"; use run, attach or compare`);
  }
  opts.command = command;
  let i = 0;
  for (; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = takeValue(rest, i, flag);
      i++;
      return v;
    };
    switch (flag) {
      case '-o':
      case '--output':
        opts.output = value();
        break;
      case '--json':
        opts.json = true;
        break;
      case '--duration': {
        const v = value();
        const secs = Number(v);
        if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(secs)) {
          throw new UsageError(`--duration takes seconds, e.g. --duration 2.5 (got "${v}")`);
        }
        opts.durationMs = secs * 1000;
        break;
      }
      case '-f':
      case '--follow-forks':
        opts.followForks = true;
        break;
      case '-e':
      case '--trace':
        opts.trace = value();
        break;
      case '--no-aslr':
        opts.noAslr = true;
        break;
      case '-X':
      case '--const-print-style': {
        const v = value();
        if (v !== 'raw' && v !== 'abbrev' && v !== 'verbose') {
          throw new UsageError(`-X takes raw, abbrev or verbose (got "${v}")`);
        }
        opts.xlat = v;
        break;
      }
      case '-y':
        if (opts.fdPaths !== 'all') opts.fdPaths = 'path';
        break;
      case '-yy':
        opts.fdPaths = 'all';
        break;
      case '-a':
      case '--columns': {
        const v = value();
        if (!/^\d{1,4}$/.test(v)) throw new UsageError(`-a takes a column number, e.g. -a 40 (got "${v}")`);
        opts.column = Number(v);
        break;
      }
      case '--preemption':
        opts.preemption = true;
        break;
      case '--summary':
        opts.summary = true;
        break;
      case '--no-summary':
        opts.summary = false;
        break;
      case '--findings':
        opts.findingsOnly = true;
        break;
      case '--at': {
        if (command !== 'compare') throw new UsageError('--at applies to compare only');
        const v = value();
        if (!/^\d+(\.\d+)?s?$/.test(v)) throw new UsageError(`--at takes seconds, e.g. --at 2s (got "${v}")`);
        opts.atMs = Number(v.replace(/s$/, '')) * 1000;
        break;
      }
      case '--maps':
        opts.maps = true;
        break;
      case '-h':
      case '--help':
        return { ...opts, command: 'help' };
      case '-V':
      case '--version':
        return { ...opts, command: 'version' };
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  const positional = rest.slice(i);
  if (command === 'compare') {
    const sep = positional.indexOf('---');
    const a = sep < 0 ? [] : positional.slice(0, sep);
    const b = sep < 0 ? [] : positional.slice(sep + 1);
    if (a.length === 0 || b.length === 0) {
      throw new UsageError('compare needs two programs: liveprobe compare [--at 2s] -- ./ex7 -sleep 5s --- ./ex7pure -sleep 5s');
    }
    opts.compare = [a, b];
  } else if (command === 'run') {
    if (positional.length === 0) throw new UsageError('run needs a program, e.g. liveprobe run ./ex7');
    opts.file = positional[0];
    opts.args = positional.slice(1);
  } else {
    if (positional.length !== 1) throw new UsageError('attach needs exactly one pid, e.g. liveprobe attach 1234');
    const p = positional[0]!;
    if (!/^[1-9]\d{0,9}$/.test(p) || Number(p) > 2 ** 31 - 1) {
      throw new UsageError(`"${p}" is not a pid; give the number of a running process`);
    }
    opts.pid = Number(p);
    if (opts.noAslr) throw new UsageError('--no-aslr applies to run only');
  }
  return opts;
}

// Command-line parsing with Node's util.parseArgs, in strace's habits:
// options anywhere before the program (after it, they are the program's),
// `-p PID` for attach, times with a unit. Errors are UsageError: one line,
// exit code 2.
import { type ParseArgsConfig, parseArgs as parseArgv } from 'node:util';
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
  /** Explain every so often while tracing (ms); SIGUSR1 explains at once in any case. */
  everyMs?: number;
  /** -c: the per-syscall count table instead of the trace; -C: both. */
  counts: 'off' | 'only' | 'both';
  /** -t, -tt, -ttt: 1, 2 or 3, as strace counts them. */
  timestamps: number;
  /** -T: the time spent in each syscall. */
  syscallTimes: boolean;
  /** -r: the time since the previous line. */
  relative: boolean;
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
  /** strace's -v: arrays and structures unabbreviated (execve's envp as its strings). */
  verbose: boolean;
  file?: string;
  args: string[];
  pid?: number;
  /** Write a self-contained HTML report here at exit or detach (lib/report/html.ts). */
  report?: string;
  /** Write the trace in the Trace Event format here (lib/report/perfetto.ts). */
  perfetto?: string;
  /** A live view redrawn in place instead of the event lines (lib/cli/live.ts). */
  live: boolean;
  /** The engine asked for (undefined: attach uses perf where it works, else ptrace; run uses ptrace). */
  engine?: 'perf' | 'ptrace';
  /** The perf engine's ring pages per CPU. */
  perfPages?: number;
}

export const USAGE = `usage: liveprobe run [options] [--] <file> [args...]
       liveprobe attach [options] <pid>     (or: liveprobe -p <pid> [options])
       liveprobe compare [--at <sec>] [--json] -- <file> [args...] --- <file> [args...]
       liveprobe watch [--interval 10s] [--listen host:port] [--json] <pid>... | --all

Traces every thread of a process with ptrace: memory and thread syscalls,
signals, exec and exit, as they happen.

options:
  -o, --output <file>     write the trace to <file> instead of stderr
      --json              one JSON object per event (NDJSON)
      --duration <time>   detach after that long: 2.5, 2s or 500ms
      --every <time>      explain the VmSize every so often while tracing
                          (SIGUSR1 to liveprobe explains it at once)
  -p <pid>                attach to <pid>, as strace -p
      --engine perf|ptrace  read the kernel's syscall tracepoints (perf: no stop
                          at syscalls; attach's default where permitted) or
                          stop at each traced syscall (ptrace: run's default,
                          for the summary at exit, memory reads and -f)
      --perf-pages <n>    the perf engine's ring buffer pages per CPU
                          (a power of two, default 256)
  -X raw|abbrev|verbose   named constants as numbers, as names (default) or both,
                          as strace's -X (--const-print-style=)
  -a <column>             pad each syscall's " = " out to that column, as strace's -a
                          (--columns=); default: no padding
  -y, -yy                 print the path of a file descriptor after it, as strace's -y
                          (mmap's fd: 3</usr/lib/libc.so.6>); -yy: a pidfd's process
  -v, --no-abbrev         arrays and structures in full, as strace's -v (execve's
                          environment as its strings, argv past 32 entries, a
                          seccomp filter's program)
  -c                      count syscalls, errors and time (strace -c) instead
                          of printing them; -C prints both
  -t, -tt, -ttt           prefix each line with the time of day (-tt: with
                          microseconds; -ttt: seconds since the epoch)
  -T                      show the time spent in each syscall, <0.000123>
  -r                      prefix each line with the time since the previous one
  -f, --follow-forks      trace child processes too
  -e, --trace <expr>      syscalls to show, as strace's -e trace= (e.g. %memory,clone3)
      --preemption        show Go's async preemption (tgkill(..., SIGURG) and its
                          SIGURG), which is otherwise only counted: it is
                          hundreds a second on a busy Go program
      --no-aslr           run: start the target with address randomization off
      --maps              at exit or detach, print the address-space model
                          (/proc/PID/maps layout plus a class column)
      --findings          show only findings (threads, arenas...), not every syscall
      --summary           explain the VmSize at exit or detach (default on a terminal)
      --no-summary        do not
      --report <file>     write a self-contained HTML report (charts, the
                          explanation) at exit or detach
      --perfetto <file>   write the trace for ui.perfetto.dev / chrome://tracing
      --live              a live view of classes, threads and findings, redrawn
                          in place (plain lines when stderr is not a terminal)
      --at <time>         compare: explain both at that time, then stop them
                          (default: when each exits)
  -h, --help              this text
  -V, --version           liveprobe's version

run exits with the target's exit code (128 + signal number if it was killed).
attach detaches on Ctrl-C or SIGTERM and leaves the process running.
compare runs both programs, explains each one's VmSize and prints them side
by side with the difference per class (the article's cgo vs pure-Go test).`;

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  duration: { type: 'string' },
  every: { type: 'string' },
  'follow-forks': { type: 'boolean', short: 'f' },
  trace: { type: 'string', short: 'e' },
  pid: { type: 'string', short: 'p' },
  preemption: { type: 'boolean' },
  'no-aslr': { type: 'boolean' },
  maps: { type: 'boolean' },
  findings: { type: 'boolean' },
  summary: { type: 'boolean' },
  'no-summary': { type: 'boolean' },
  at: { type: 'string' },
  count: { type: 'boolean', short: 'c' },
  'count-and-trace': { type: 'boolean', short: 'C' },
  timestamps: { type: 'boolean', short: 't', multiple: true },
  'syscall-times': { type: 'boolean', short: 'T' },
  relative: { type: 'boolean', short: 'r' },
  'const-print-style': { type: 'string', short: 'X' },
  columns: { type: 'string', short: 'a' },
  'fd-paths': { type: 'boolean', short: 'y', multiple: true },
  'no-abbrev': { type: 'boolean', short: 'v' },
  report: { type: 'string' },
  perfetto: { type: 'string' },
  live: { type: 'boolean' },
  engine: { type: 'string' },
  'perf-pages': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

type OptionName = keyof typeof OPTIONS;
const SHORT = new Map<string, OptionName>(
  (Object.entries(OPTIONS) as [OptionName, { short?: string }][]).filter(([, o]) => o.short).map(([n, o]) => [o.short!, n]),
);

/** Whether an option token takes the next argument as its value. */
function takesNext(token: string): boolean {
  if (token.startsWith('--')) {
    const name = token.slice(2) as OptionName;
    return !token.includes('=') && OPTIONS[name]?.type === 'string';
  }
  // A group of short flags ends with at most one that takes a value (-fo FILE).
  const last = SHORT.get(token.at(-1)!);
  const valueAt = [...token.slice(1)].findIndex((c) => OPTIONS[SHORT.get(c)!]?.type === 'string');
  return last !== undefined && OPTIONS[last].type === 'string' && valueAt === token.length - 2;
}

/** run and compare: our options end at the program (or at `--`); what follows is the program's. */
function splitAtProgram(args: string[]): [string[], string[]] {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return [args.slice(0, i), args.slice(i + 1)];
    if (!a.startsWith('-') || a === '-') return [args.slice(0, i), args.slice(i)];
    if (takesNext(a)) i++;
  }
  return [args, []];
}

/** A time as 2.5, 2s or 500ms, in milliseconds. */
export function parseTime(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v);
  if (!m) throw new UsageError(`${flag} takes seconds, e.g. ${flag} 2.5, 2s or 500ms (got "${v}")`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : 1000);
}

function parseOptions(args: string[], positionals: boolean) {
  try {
    return parseArgv({ args, options: OPTIONS, allowPositionals: positionals, strict: true });
  } catch (err) {
    const e = err as { code?: string; message: string };
    const quoted = /'([^']+)'/.exec(e.message)?.[1] ?? '';
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${quoted}`);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${quoted.replace(/ <value>$/, '')} needs a value`);
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument ${quoted}`);
    throw err;
  }
}

function parsePid(p: string): number {
  if (!/^[1-9]\d{0,9}$/.test(p) || Number(p) > 2 ** 31 - 1) {
    throw new UsageError(`"${p}" is not a pid; give the number of a running process`);
  }
  return Number(p);
}

export function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = {
    command: 'help', json: false, followForks: false, noAslr: false, maps: false, findingsOnly: false, preemption: false,
    counts: 'off', timestamps: 0, syscallTimes: false, relative: false, live: false,
    xlat: 'abbrev', column: 0, fdPaths: false, verbose: false, args: [],
  };
  const [first, ...more] = argv;
  if (first === undefined || first === 'help') return opts;
  // strace's spelling: `liveprobe -p PID [options]`, `liveprobe [options] prog args`.
  const command = first.startsWith('-') ? undefined : first;
  if (command !== undefined && command !== 'run' && command !== 'attach' && command !== 'compare') {
    throw new UsageError(`unknown command "${command}"; use run, attach or compare`);
  }
  const rest = command === undefined ? argv : more;
  const implicitAttach = command === undefined && splitAtProgram(rest)[0].some((a) => a.startsWith('-p') || a === '--pid' || a.startsWith('--pid='));
  const mode = command ?? (implicitAttach ? 'attach' : 'run');
  const [ours, program] = mode === 'attach' ? [rest, []] : splitAtProgram(rest);
  const { values: v, positionals } = parseOptions(ours, mode === 'attach');
  if (v.help) return opts;
  if (v.version) return { ...opts, command: 'version' };
  if (command === undefined && !implicitAttach && program.length === 0) return opts;
  opts.command = mode;
  opts.output = v.output;
  opts.json = v.json ?? false;
  opts.followForks = v['follow-forks'] ?? false;
  opts.trace = v.trace;
  opts.noAslr = v['no-aslr'] ?? false;
  opts.preemption = v.preemption ?? false;
  opts.maps = v.maps ?? false;
  opts.findingsOnly = v.findings ?? false;
  if (v.summary) opts.summary = true;
  if (v['no-summary']) opts.summary = false;
  opts.counts = v['count-and-trace'] ? 'both' : v.count ? 'only' : 'off';
  opts.timestamps = Math.min(3, v.timestamps?.length ?? 0);
  opts.syscallTimes = v['syscall-times'] ?? false;
  opts.relative = v.relative ?? false;
  const style = v['const-print-style'];
  if (style !== undefined) {
    if (style !== 'raw' && style !== 'abbrev' && style !== 'verbose') throw new UsageError(`-X takes raw, abbrev or verbose (got "${style}")`);
    opts.xlat = style;
  }
  if (v.columns !== undefined) {
    if (!/^\d{1,4}$/.test(v.columns)) throw new UsageError(`-a takes a column number, e.g. -a 40 (got "${v.columns}")`);
    opts.column = Number(v.columns);
  }
  const y = v['fd-paths']?.length ?? 0;
  opts.fdPaths = y >= 2 ? 'all' : y === 1 ? 'path' : false;
  opts.verbose = v['no-abbrev'] ?? false;
  opts.report = v.report;
  opts.perfetto = v.perfetto;
  opts.live = v.live ?? false;
  if (mode === 'compare' && (opts.perfetto !== undefined || opts.live)) throw new UsageError('--perfetto and --live apply to run and attach');
  if (v.engine !== undefined) {
    if (v.engine !== 'perf' && v.engine !== 'ptrace') throw new UsageError(`--engine takes perf or ptrace (got "${v.engine}")`);
    if (mode !== 'attach' && mode !== 'run') throw new UsageError('--engine applies to run and attach');
    opts.engine = v.engine;
  }
  if (v['perf-pages'] !== undefined) {
    const n = Number(v['perf-pages']);
    if (!/^\d{1,5}$/.test(v['perf-pages']) || n < 1 || n > 65536 || (n & (n - 1)) !== 0) {
      throw new UsageError(`--perf-pages takes a power of two from 1 to 65536 (got "${v['perf-pages']}")`);
    }
    // docs/perf-engine.md, "Choosing": attach uses perf unless told not to, run only when told to.
    const perf = mode === 'attach' ? opts.engine !== 'ptrace' : mode === 'run' && opts.engine === 'perf';
    if (!perf) throw new UsageError('--perf-pages applies to the perf engine: attach, or run --engine perf');
    opts.perfPages = n;
  }
  if (v.duration !== undefined) {
    opts.durationMs = parseTime(v.duration, '--duration');
    if (opts.durationMs === 0) {
      throw new UsageError('--duration 0 would detach before anything is traced; give a time above 0, or leave it out to trace until the target exits');
    }
  }
  if (v.every !== undefined) {
    opts.everyMs = parseTime(v.every, '--every');
    if (opts.everyMs < 100) throw new UsageError('--every takes at least 100ms');
  }
  if (v.at !== undefined) {
    if (mode !== 'compare') throw new UsageError('--at applies to compare only');
    opts.atMs = parseTime(v.at, '--at');
  }
  if (mode === 'compare') {
    const sep = program.indexOf('---');
    const a = sep < 0 ? [] : program.slice(0, sep);
    const b = sep < 0 ? [] : program.slice(sep + 1);
    if (a.length === 0 || b.length === 0) {
      throw new UsageError('compare needs two programs: liveprobe compare [--at 2s] -- ./ex7 -sleep 5s --- ./ex7pure -sleep 5s');
    }
    opts.compare = [a, b];
  } else if (mode === 'run') {
    if (v.pid !== undefined) throw new UsageError('-p is attach\'s: liveprobe attach 1234, or liveprobe -p 1234');
    if (program.length === 0) throw new UsageError('run needs a program, e.g. liveprobe run ./ex7');
    opts.file = program[0];
    opts.args = program.slice(1);
  } else {
    const pids = [...(v.pid !== undefined ? [v.pid] : []), ...positionals];
    if (pids.length !== 1) throw new UsageError('attach needs exactly one pid, e.g. liveprobe attach 1234');
    opts.pid = parsePid(pids[0]!);
    if (opts.noAslr) throw new UsageError('--no-aslr applies to run only');
  }
  return opts;
}

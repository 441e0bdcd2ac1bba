// bench/overhead: what tracing costs the target, measured side by side.
//
// For a syscall-heavy pure-Go workload and its C/pthreads twin (~100k
// syscalls/s, test/fixtures/sysload*), runs in turn, round after round:
// untraced; strace -f -e trace=%memory,clone,clone3; the same with
// --seccomp-bpf; liveprobe run (default filter, Go's preemption quiet);
// bench/seccomp-floor.c, the least a tracer launching with the same seccomp
// stops can do (the floor for run); the same two with Go's preemption
// tgkill stopped and shown (--preemption); liveprobe attach; strace attached the same way (-p); and
// bench/ptrace-floor.c, the least an attached syscall tracer can do per stop
// (the floor for attach); liveprobe attach --engine perf, liveprobe run
// --engine perf and their floor, bench/perf-floor.c (the same tracepoints
// opened and drained, nothing else), the floor split in two (without the
// raw_syscalls pair; with a tracepoint per call instead of it,
// bench/tracers.ts PerfFloorLayout), `perf trace -p` on the same calls
// where perf is installed (a row saying why where it cannot trace a load),
// on these two loads and on test/fixtures/mallocload, a cgo program
// whose threads malloc and free (glibc's arenas grow and shrink: some 65,000
// memory syscalls a second). Wall time is
// the workload's own (it starts timing when released through its stdin gate,
// so tracer start-up is not counted); CPU is user+sys of the whole process
// tree (tracer included), from this process's cutime/cstime. Prints the median
// of each variant's per-round ratio to the untraced run of the same round,
// checks every traced run printed the untraced checksum, and counts the
// records the perf engine's runs said they lost (none may be).
//
//   npm run bench -- [--rounds N] [--ops N] [--work N] [--quick] [--load Go|C] [--only run,attach,...]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fixture, repoRoot } from '../test/helpers/fixtures';
import { shellChild } from '../test/helpers/trace';
import { run } from '../lib';
import { allTraced, cli, floorTracer, lostIn, median, perfFloorEvents } from './tracers';
import { SYSCALL_CLASSES, defaultTraceFilter, hostArch, stopSetFor } from '../lib/syscalls';
import { QUIET_CALL_FIELDS, nativeQuietRules } from '../lib/syscalls/quieting';
import path from 'node:path';

interface Options {
  rounds: number;
  ops: number;
  work: number;
  /** Only the variants whose names contain one of these (untraced always runs). */
  only: string[];
  /** Only the workloads whose labels contain this. */
  load: string;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { rounds: 5, ops: 300_000, work: 7_500, only: [], load: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') Object.assign(o, { rounds: 2, ops: 60_000 });
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--ops') o.ops = Number(argv[++i]);
    else if (a === '--work') o.work = Number(argv[++i]);
    else if (a === '--only') o.only = String(argv[++i]).split(',');
    else if (a === '--load') o.load = String(argv[++i]);
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const CLK_TCK = 100; // USER_HZ on Linux

/** user+sys of every waited-for child of this process, in seconds. */
function childrenCpu(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): cutime is field 16, cstime field 17.
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
}

interface Sample {
  wallMs: number;
  cpuS: number;
  checksum: string;
  /** Records a liveprobe run said it lost (its trace file's closing line); undefined where not read. */
  lost?: number;
}

function parseOutput(out: string): { checksum: string; wallMs: number } {
  const m = /checksum (\w+) elapsed_ms ([\d.]+)/.exec(out);
  if (!m) throw new Error(`workload printed no checksum: ${JSON.stringify(out.slice(-300))}`);
  return { checksum: m[1]!, wallMs: Number(m[2]) };
}

function waitExit(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((r) => child.on('close', (code) => r(code)));
}

function collectStdout(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (s += c));
    child.stdout!.on('end', () => resolve(s));
  });
}


/** Runs `argv` (workload with -gate last), releases the gate, returns its figures. */
async function runCommand(argv: string[]): Promise<Sample> {
  const cpu0 = childrenCpu();
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = collectStdout(child);
  child.stdin!.end('g');
  const code = await waitExit(child);
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}`);
  const { checksum, wallMs } = parseOutput(await out);
  return { wallMs, cpuS: childrenCpu() - cpu0, checksum };
}

/** How runAttached knows the tracer is in place: every thread ptrace'd, or a line from a tracer that does not stop anyone. */
type Readiness =
  | { kind: 'ptrace' }
  | { kind: 'stdout'; line: string }
  | { kind: 'file'; path: string; line: string }
  // perf trace says nothing when it has attached: its perf_event fds, then a settling pause.
  | { kind: 'perf-events' };

/** How many perf_event fds a process holds. */
function perfEventFds(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[perf_event]';
      } catch {
        return false;
      }
    }).length;
  } catch {
    return 0;
  }
}

/**
 * Starts the workload under sh (not our child), attaches a tracer (the
 * command `tracer(pid)`; by default the liveprobe CLI), then opens the gate.
 */
async function runAttached(
  workload: string[],
  tracer: (pid: number) => string[] = (pid) => [process.execPath, cli(), 'attach', '--engine', 'ptrace', '-o', '/dev/null', String(pid)],
  ready: Readiness = { kind: 'ptrace' },
): Promise<Sample> {
  const cpu0 = childrenCpu();
  const sh = spawn('/bin/sh', ['-c', '"$@"; exit $?', 'sh', ...workload], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out = collectStdout(sh);
  const pid = await shellChild(sh.pid!, workload[0]!);
  // Let the runtime start its threads before attaching, as with a real process.
  await new Promise((r) => setTimeout(r, 100));
  const argv = tracer(pid);
  if (ready.kind === 'file') fs.writeFileSync(ready.path, '');
  const traced = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', ready.kind === 'stdout' ? 'pipe' : 'ignore', 'pipe'] });
  let said = '';
  let complaint = '';
  let gone = false;
  if (ready.kind === 'stdout') traced.stdout!.setEncoding('utf8').on('data', (c: string) => (said += c));
  traced.stderr!.setEncoding('utf8').on('data', (c: string) => (complaint += c));
  traced.on('exit', () => (gone = true));
  const isReady = (): boolean =>
    ready.kind === 'ptrace' ? allTraced(pid)
      : ready.kind === 'stdout' ? said.includes(ready.line)
      : ready.kind === 'perf-events' ? perfEventFds(traced.pid!) > 0
      : fs.readFileSync(ready.path, 'utf8').includes(ready.line);
  while (!isReady()) {
    if (gone) {
      sh.kill('SIGKILL');
      process.kill(pid, 'SIGKILL');
      throw new Error(`${argv[0]} ended before it traced: ${complaint.trim().split('\n')[0] ?? ''}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, ready.kind === 'perf-events' ? 500 : 50));
  sh.stdin!.end('g');
  const [code] = await Promise.all([waitExit(sh), waitExit(traced)]);
  if (code !== 0) throw new Error(`attached ${workload.join(' ')} exited ${code}`);
  const { checksum, wallMs } = parseOutput(await out);
  return { wallMs, cpuS: childrenCpu() - cpu0, checksum };
}

/** p50/p99 of the delay from a syscall's exit stop to its event in a for-await loop. */
async function liveLatency(workload: string[]): Promise<{ p50: number; p99: number; n: number }> {
  // Taken just before the session's own base: delays are over-, never under-estimated.
  const base = process.hrtime.bigint();
  const session = run(workload[0]!, [...workload.slice(1, -1)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const delays: number[] = [];
  for await (const ev of session) {
    if (ev.type !== 'syscall') continue;
    const nowMs = Number(process.hrtime.bigint() - base) / 1e6;
    delays.push(nowMs - ev.time);
  }
  delays.sort((a, b) => a - b);
  const q = (p: number) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))]!;
  return { p50: q(0.5), p99: q(0.99), n: delays.length };
}

/** The sample with the records the run writing `trace` said it lost: the perf engine's rows, where the kernel may drop. */
async function withLost(trace: string, sample: Promise<Sample>): Promise<Sample> {
  const s = await sample;
  return { ...s, lost: lostIn(trace) };
}

/** Variant names that other rows refer to. */
const RUN = 'liveprobe run';
const SECCOMP_FLOOR = 'bare seccomp run (floor, same stops)';
const RUN_PREEMPTION = 'liveprobe run --preemption';
const SECCOMP_FLOOR_PREEMPTION = 'bare seccomp run, preemption tgkill stopped (its floor)';
const ATTACH = 'liveprobe attach --engine ptrace';
const PTRACE_FLOOR = 'bare ptrace attach (floor)';
const ATTACH_PERF = 'liveprobe attach --engine perf';
const RUN_PERF = 'liveprobe run --engine perf';
const PERF_TRACE = 'perf trace -p (attach, same calls)';
const PERF_FLOOR = 'bare perf-event attach (floor, same events)';
// Where the floor goes (bench/tracers.ts PerfFloorLayout).
const PERF_FLOOR_NO_RAW = 'bare perf-event attach, without the raw_syscalls pair';
const PERF_FLOOR_PER_CALL = 'bare perf-event attach, a tracepoint per call';
/** The least a tracer of the same design can do: liveprobe's mode → its floor variant. */
const FLOOR_OF: Record<string, string> = {
  [RUN]: SECCOMP_FLOOR,
  [RUN_PREEMPTION]: SECCOMP_FLOOR_PREEMPTION,
  [ATTACH]: PTRACE_FLOOR,
  [ATTACH_PERF]: PERF_FLOOR,
  [RUN_PERF]: PERF_FLOOR,
};

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const [goLoad, cLoad, mallocLoad] = await Promise.all([fixture('sysload'), fixture('sysload-c'), fixture('mallocload')]);
  const ptraceFloor = floorTracer('ptrace-floor');
  const seccompFloor = floorTracer('seccomp-floor');
  const perfFloor = floorTracer('perf-floor');
  // liveprobe's default stop set, for the seccomp floor's filter.
  const arch = hostArch();
  const defaultStops = stopSetFor(defaultTraceFilter(arch), arch).numbers.join(',');
  // The same quiet calls as liveprobe's filter (lib/syscalls/quieting.ts), as -q nr:arg:value.
  const { quietCalls } = nativeQuietRules(arch, false);
  const quietArgs: string[] = [];
  for (let i = 0; i < quietCalls.length; i += QUIET_CALL_FIELDS) quietArgs.push('-q', quietCalls.slice(i + 1, i + 4).join(':'));
  // The perf engine's events for the default set, as its floor is given them.
  const floorEvents = perfFloorEvents();
  const floorNoRaw = perfFloorEvents('no-raw-syscalls');
  const floorPerCall = perfFloorEvents('per-call');
  // The perf rows write their text trace to a file (like any user's -o), whose closing line says what was lost.
  const perfTrace = path.join(repoRoot(), 'dist', 'bench', 'attach-perf.trace');
  const runPerfTrace = path.join(repoRoot(), 'dist', 'bench', 'run-perf.trace');
  const filter = '%memory,clone,clone3';
  // perf trace takes syscall names, not strace's classes.
  const perfTraceCalls = [...SYSCALL_CLASSES['%memory']!, 'clone', 'clone3'].join(',');
  const perfTool = spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
  const rows: string[] = [];
  console.log(`liveprobe overhead: ${o.rounds} rounds, -ops ${o.ops} -work ${o.work}, 4 workers, GOMAXPROCS 2, ${new Date().toISOString()}`);
  // mallocload's ops are rounds of 16 malloc/free pairs: fewer, with more work between them.
  for (const [label, bin, ops, work] of [
    ['Go (sysload)', goLoad, o.ops, o.work],
    ['C (sysload-c)', cLoad, o.ops, o.work],
    ['memory-heavy cgo (mallocload)', mallocLoad, Math.round(o.ops / 15), o.work * 3],
  ] as const) {
    if (!label.includes(o.load)) continue;
    const load = [bin, '-ops', String(ops), '-work', String(work), '-gate'];
    const all: [string, () => Promise<Sample>][] = [
      ['untraced', () => runCommand(load)],
      ['strace -f -e trace=' + filter, () => runCommand(['strace', '-f', '-o', '/dev/null', '-e', `trace=${filter}`, ...load])],
      ['strace -f --seccomp-bpf', () => runCommand(['strace', '-f', '--seccomp-bpf', '-o', '/dev/null', '-e', `trace=${filter}`, ...load])],
      [RUN, () => runCommand([process.execPath, cli(), 'run', '-o', '/dev/null', '--', ...load])],
      [SECCOMP_FLOOR, () => runCommand([seccompFloor, ...quietArgs, defaultStops, ...load])],
      [RUN_PREEMPTION, () => runCommand([process.execPath, cli(), 'run', '--preemption', '-o', '/dev/null', '--', ...load])],
      [RUN_PERF, () => withLost(runPerfTrace, runCommand([process.execPath, cli(), 'run', '--engine', 'perf', '-o', runPerfTrace, '--', ...load]))],
      [SECCOMP_FLOOR_PREEMPTION, () => runCommand([seccompFloor, defaultStops, ...load])],
      [ATTACH, () => runAttached(load)],
      ['strace -f -p (attach, same filter)', () => runAttached(load, (pid) => ['strace', '-f', '-o', '/dev/null', '-e', `trace=${filter}`, '-p', String(pid)])],
      [PTRACE_FLOOR, () => runAttached(load, (pid) => [ptraceFloor, String(pid)])],
      // Ready once the CLI says it traces the threads: the events are open and the snapshot taken.
      [ATTACH_PERF, () => withLost(perfTrace, runAttached(load, (pid) => [process.execPath, cli(), 'attach', '--engine', 'perf', '-o', perfTrace, String(pid)], { kind: 'file', path: perfTrace, line: '+++ tracing ' }))],
      [PERF_FLOOR, () => runAttached(load, (pid) => [perfFloor, String(pid), '256', ...floorEvents], { kind: 'stdout', line: 'ready' })],
      [PERF_FLOOR_NO_RAW, () => runAttached(load, (pid) => [perfFloor, String(pid), '256', ...floorNoRaw], { kind: 'stdout', line: 'ready' })],
      [PERF_FLOOR_PER_CALL, () => runAttached(load, (pid) => [perfFloor, String(pid), '256', ...floorPerCall], { kind: 'stdout', line: 'ready' })],
      // Where installed: the kernel's own syscall tracer on the same events, attached the same way.
      ...(perfTool
        ? [[PERF_TRACE, () => runAttached(load, (pid) => ['perf', 'trace', '-p', String(pid), '-e', perfTraceCalls, '-o', '/dev/null'], { kind: 'perf-events' })] as [string, () => Promise<Sample>]]
        : []),
    ];
    const variants = all.filter(([name], i) => i === 0 || o.only.length === 0 || o.only.some((w) => name.includes(w)));
    const samples = new Map<string, Sample[]>(variants.map(([n]) => [n, []]));
    /** A tracer that could not trace this load (perf trace on Go binaries here): why, in its row. */
    const failed = new Map<string, string>();
    await variants[0]![1](); // warm-up: page cache, CPU frequency
    for (let r = 0; r < o.rounds; r++) {
      for (const [name, fn] of variants) {
        if (failed.has(name)) continue;
        try {
          samples.get(name)!.push(await fn());
        } catch (err) {
          if (name === 'untraced') throw err;
          failed.set(name, err instanceof Error ? err.message : String(err));
        }
      }
    }
    const base = samples.get('untraced')!;
    rows.push(`\n${label}, -ops ${ops} -work ${work}`);
    rows.push('| traced by | wall ms (median) | cpu s (median) | wall ratio | cpu ratio | wall vs its floor | records lost | checksum |');
    rows.push('|---|---|---|---|---|---|---|---|');
    for (const [name] of variants) {
      const why = failed.get(name);
      if (why !== undefined) {
        rows.push(`| ${name} | ${why.replace(/\|/g, '/')} | | | | | | |`);
        continue;
      }
      const s = samples.get(name)!;
      const ok = s.every((x) => x.checksum === base[0]!.checksum);
      const wallRatio = median(s.map((x, i) => x.wallMs / base[i]!.wallMs));
      const cpuRatio = median(s.map((x, i) => x.cpuS / base[i]!.cpuS));
      // The floors swing with the machine as much as liveprobe does, so each
      // liveprobe mode is also compared with its floor of the same round.
      // Blank when --only left the floor out.
      const floorSamples = samples.get(FLOOR_OF[name] ?? '');
      const vsFloor = floorSamples ? median(s.map((x, i) => x.wallMs / floorSamples[i]!.wallMs)).toFixed(2) : '';
      // Over all rounds; the perf rows only. Nothing may be lost at these loads with the default buffers.
      const lost = s.some((x) => x.lost !== undefined) ? s.reduce((n, x) => n + (x.lost ?? 0), 0) : undefined;
      rows.push(
        `| ${name} | ${median(s.map((x) => x.wallMs)).toFixed(0)} | ${median(s.map((x) => x.cpuS)).toFixed(2)} | ` +
          `${wallRatio.toFixed(2)} | ${cpuRatio.toFixed(2)} | ${vsFloor} | ${lost ?? ''} | ${ok ? 'ok' : 'MISMATCH'} |`,
      );
      if (!ok || (lost ?? 0) > 0) process.exitCode = 1;
    }
    if (o.only.length > 0) continue;
    const lat = await liveLatency(load);
    rows.push(`live latency (liveprobe run, syscall exit → event in for-await): p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms over ${lat.n} events`);
  }
  console.log(rows.join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

// Which engine a session uses: for an attach, the perf engine where the
// kernel and our privileges allow it and the options ask nothing only ptrace
// can do, else ptrace, with one line saying why; for a run, perf only when
// asked (docs/perf-engine.md, "Choosing").
import { LiveprobeError } from '../errors';
import { readProc } from '../proc';
import { type CommonOptions, stopSetOf } from '../session-options';
import type { StopSet } from '../syscalls';
import { type Arch, hostArch } from '../syscalls/table';
import { type PerfEventList, perfEventList } from './events';
import { MOUNT_COMMAND, findTracefs } from './tracefs';

export type EngineName = 'perf' | 'ptrace';

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;

export interface EngineChoice {
  engine: EngineName;
  /** perf: the events to open. */
  events?: PerfEventList;
  /** ptrace although perf was possible or asked for: why, in one line. */
  reason?: string;
}

/** Raw tracepoint samples need CAP_PERFMON (or CAP_SYS_ADMIN) unless perf_event_paranoid is -1 (kernel/events/core.c perf_trace_event_perm). */
export function perfPrivilegeProblem(): string | undefined {
  const paranoid = Number(readProc('/proc/sys/kernel/perf_event_paranoid')?.trim() ?? 'NaN');
  if (Number.isNaN(paranoid)) return 'this kernel has no perf events (/proc/sys/kernel/perf_event_paranoid is missing)';
  if (paranoid <= -1) return undefined;
  const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(readProc('/proc/self/status') ?? '')?.[1];
  const caps = capEff === undefined ? 0n : BigInt(`0x${capEff}`);
  if ((caps >> CAP_PERFMON) & 1n || (caps >> CAP_SYS_ADMIN) & 1n) return undefined;
  return `reading raw tracepoint records needs CAP_PERFMON (perf_event_paranoid is ${paranoid}); run as root or grant CAP_PERFMON`;
}

/** What the perf engine cannot do for these options, or undefined. */
function optionProblem(opts: { followForks?: boolean }, stop: StopSet): string | undefined {
  if (opts.followForks) return '-f (follow forks) needs ptrace';
  if (stop.all) return '-e trace=all (or a negated set): the perf engine traces a named set of calls';
  return undefined;
}

export function chooseEngine(
  asked: EngineName | undefined,
  opts: { followForks?: boolean },
  stop: StopSet,
  arch: Arch,
): EngineChoice {
  if (asked === 'ptrace') return { engine: 'ptrace' };
  const problem = optionProblem(opts, stop) ?? perfPrivilegeProblem();
  if (problem) return { engine: 'ptrace', reason: problem };
  const root = findTracefs();
  if (typeof root !== 'string') {
    return {
      engine: 'ptrace',
      reason: root.kind === 'not-mounted'
        ? `the kernel's tracepoint ids are unreadable: tracefs is not mounted (${MOUNT_COMMAND})`
        : `the kernel's tracepoint ids under ${root.root} are not readable by this user; run as root`,
    };
  }
  const events = perfEventList(root, arch, stop.numbers);
  if (events.unsupported) return { engine: 'ptrace', reason: `this kernel lacks ${events.unsupported}` };
  if (events.tooLong) return { engine: 'ptrace', reason: events.tooLong };
  return { engine: 'perf', events };
}

/** What a session is told: the engine, the note on a fallback, the native options of the perf engine ({} for ptrace). */
export interface EngineSetUp {
  engine: EngineName;
  note?: string;
  native: { engine?: 'perf'; perfEvents?: number[]; perfFilters?: string[]; perfPages?: number };
}

/** The engine for a session's options (run: ptrace unless perf is asked for); perf asked for and not possible is a one-line error. */
export function engineFor(opts: CommonOptions, mode: 'run' | 'attach'): EngineSetUp | LiveprobeError {
  if (mode === 'run' && opts.engine !== 'perf') return { engine: 'ptrace', native: {} };
  const stop = stopSetOf(opts);
  if (stop instanceof LiveprobeError) return stop;
  const choice = chooseEngine(opts.engine, opts, stop, hostArch());
  if (opts.engine === 'perf' && choice.engine !== 'perf') {
    return new LiveprobeError('EINVAL', `cannot ${mode} with the perf engine: ${choice.reason}; or use --engine ptrace`);
  }
  return {
    engine: choice.engine,
    note: choice.reason ? `liveprobe: attaching with ptrace: ${choice.reason}` : undefined,
    native: choice.engine === 'perf'
      ? { engine: 'perf', perfEvents: choice.events!.flat, perfFilters: choice.events!.filters, perfPages: opts.perfBufferPages }
      : {},
  };
}

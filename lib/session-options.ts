// What a session is asked to do: the options of run() and attach(), and
// what of them the native tracer is told (the trace set as numbers, the
// memory-read and quiet rules).
import { LiveprobeError } from './errors';
import type { NativeTracingOptions } from './native';
import type { EngineName } from './perf/choose';
import { FilterError, type StopSet, defaultTraceFilter, hostArch, parseTraceFilter, stopSetFor } from './syscalls';
import { nativeReadRules } from './syscalls/memory-reads';
import { nativeQuietRules } from './syscalls/quieting';

export type StdioSpec = 'inherit' | 'pipe' | 'ignore' | number;

export interface CommonOptions {
  /** Detaches when aborted. */
  signal?: AbortSignal;
  /** Also trace child processes (fork, vfork, clone without CLONE_THREAD). */
  followForks?: boolean;
  /** 'block' (default): a slow consumer pauses the target. 'drop': count and drop. */
  overflow?: 'block' | 'drop';
  /** Batches in flight between the tracer thread and the consumer (default 4). */
  window?: number;
  /**
   * Syscalls to trace, in strace's `-e trace=` syntax (default
   * `%memory,%process,%thread`; `all` for everything). The memory and
   * lifecycle syscalls the model needs are always traced too. In run, the set
   * becomes a seccomp filter: other syscalls run at full speed.
   */
  trace?: string;
  /**
   * Show Go's asynchronous preemption: the tgkill(pid, tid, SIGURG) calls of
   * its sysmon and the SIGURG deliveries they cause. Default false: they are
   * left out (and cost almost nothing under the seccomp filter); the signals
   * are delivered all the same and counted in stats.hiddenSignals
   * (lib/syscalls/quieting.ts).
   */
  preemption?: boolean;
  /**
   * Take the explanation at the target's exit_group, while /proc still has
   * everything, for explain() after the exit (default true). false saves a
   * run that never asks for it the work (the CLI without a summary).
   */
  explainAtExit?: boolean;
  /**
   * 'perf': the kernel's syscall tracepoints, nothing stops the target;
   * 'ptrace': every traced syscall stops. attach's default: perf where this
   * kernel and our privileges allow it and no option needs ptrace, else
   * ptrace (session.engineNote says why; an attach with perf stops every
   * thread once, for the snapshot). run's default: ptrace, which holds the
   * exit for the summary, reads memory and follows forks; run with 'perf'
   * stops the target once, at its exec. docs/perf-engine.md, "Choosing".
   */
  engine?: EngineName;
  /** perf engine: ring buffer pages per CPU, a power of two (default 256: 1 MiB). */
  perfBufferPages?: number;
}

export interface RunOptions extends CommonOptions {
  /** The target's environment (default: process.env), as with child_process. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdio?: StdioSpec | [StdioSpec, StdioSpec, StdioSpec];
  /** Start the target with address-space randomization off (personality ADDR_NO_RANDOMIZE). */
  noAslr?: boolean;
}

export type AttachOptions = CommonOptions;

/** The syscalls a session stops on (ptrace) or opens tracepoints for (perf); an EINVAL for a bad filter. */
export function stopSetOf(opts: CommonOptions): StopSet | LiveprobeError {
  const arch = hostArch();
  try {
    return stopSetFor(opts.trace === undefined ? defaultTraceFilter(arch) : parseTraceFilter(opts.trace, arch), arch);
  } catch (err) {
    if (err instanceof FilterError) return new LiveprobeError('EINVAL', err.message);
    throw err;
  }
}

/** What the native side is told about tracing, the same for run and attach; an EINVAL for a bad filter. */
export function tracingOptions(opts: CommonOptions): NativeTracingOptions | LiveprobeError {
  const arch = hostArch();
  const stop = stopSetOf(opts);
  if (stop instanceof LiveprobeError) return stop;
  return {
    followForks: opts.followForks ?? false,
    overflow: opts.overflow ?? 'block',
    traceAll: stop.all,
    traceNrs: stop.numbers,
    readRules: nativeReadRules(arch),
    ...nativeQuietRules(arch, opts.preemption ?? false),
  };
}

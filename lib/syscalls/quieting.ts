// What liveprobe leaves out of the trace unless asked: Go's asynchronous
// preemption. sysmon preempts a goroutine that has run for 10 ms by sending
// its thread SIGURG with tgkill(getpid(), tid, SIGURG) (runtime.preemptM →
// signalM). On a busy Go program that is hundreds of tgkill calls and as many
// signal deliveries a second: most of what a default trace would show (the
// bench's Go load: 722 of 838 lines), none of it about memory or threads, and most of what tracing costs (each
// call stops twice under the seccomp filter, each delivery once, and every
// report wakes the consumer). README, Performance, has the figures.
//
// Quiet does not mean changed: the signal is still delivered, the call still
// runs. Under the seccomp filter a tgkill/tkill of SIGURG does not stop at
// all (BPF sees the arguments, not the caller, so one aimed at another
// process is let through too); when every syscall stops (attach, -e
// trace=all) it stops but is not reported. A delivery stop of SIGURG that
// the process sent itself (si_code SI_TKILL from its own pid, in its own pid
// namespace) is passed on and counted (SessionStats hiddenSignals), whatever
// the program: a C program's raise(SIGURG) is quiet too. A SIGURG from
// another process, or from a socket's out-of-band data, is always reported.
// The `preemption` option (--preemption) shows them all again.
import { signalNumber } from './decode/format';
import { type Arch, syscallNumber } from './table';
import { AUDIT_ARCH } from '../wire';

/** The calls that send a preemption signal: their name and the argument holding the signal. */
const PREEMPTION_CALLS: readonly { syscall: string; sigArg: number }[] = [
  { syscall: 'tgkill', sigArg: 2 },
  { syscall: 'tkill', sigArg: 1 },
];
export const PREEMPTION_SIGNAL = 'SIGURG';

/** Numbers per call rule in nativeQuietRules' quietCalls (native/src/quiet_rules.h). */
export const QUIET_CALL_FIELDS = 4;

export interface NativeQuietRules {
  /** arch, nr, arg, value per rule. */
  quietCalls: number[];
  /** Signals not reported when a process sends them to its own thread. */
  quietSelfSignals: number[];
}

/** The rules for the native side: none when preemption is to be shown. */
export function nativeQuietRules(arch: Arch, showPreemption: boolean): NativeQuietRules {
  if (showPreemption) return { quietCalls: [], quietSelfSignals: [] };
  const sig = signalNumber(PREEMPTION_SIGNAL);
  const quietCalls: number[] = [];
  for (const c of PREEMPTION_CALLS) {
    const nr = syscallNumber(arch, c.syscall);
    if (nr !== undefined) quietCalls.push(AUDIT_ARCH[arch], nr, c.sigArg, sig);
  }
  return { quietCalls, quietSelfSignals: [sig] };
}

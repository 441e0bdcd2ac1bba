// What the perf engine's tests share (test/perf-engine.test.ts, test/perf-run.test.ts).
import assert from 'node:assert/strict';
import type { Finding, TraceEvent } from '../../lib/events';
import type { VerifyResult } from '../../lib/model';
import type { Session } from '../../lib/session';
import { taskStates, until } from './reliability';
import { sleep } from './trace';

export /**
 * Each finding as its kind and the calls of its evidence, in order, each
 * once: what both engines must agree on. Without a glibc arena's munmaps:
 * whether glibc trims its 128 MiB reservation at the head, the tail or not
 * at all (the aligned hint) depends on where the kernel placed it, which
 * differs from run to run whatever traces it (docs/go-glibc-musl.md).
 */
function findingForms(events: readonly TraceEvent[]): string[] {
  const names = new Map<number, string>();
  for (const ev of events) if (ev.type === 'syscall') names.set(ev.seq, ev.name);
  return events
    .filter((ev): ev is Finding => ev.type === 'finding')
    .map((f) => {
      const calls = [...new Set(f.evidence.map((seq) => names.get(seq) ?? '?'))];
      return `${f.kind}: ${calls.filter((c) => !(f.kind === 'glibc-arena' && c === 'munmap')).join(',')}`;
    })
    .sort();
}

export /**
 * The model against /proc/PID/maps with every thread stopped (SIGSTOP; no
 * ptrace here to report the group-stop): once all are in T the process
 * makes no call, so the model must reach the maps as the reader catches up,
 * and a wrong model never does.
 */
async function verifyAtRest(session: Session, pid: number): Promise<VerifyResult> {
  process.kill(pid, 'SIGSTOP');
  try {
    await until(() => [...taskStates(pid).values()].every((st) => st === 'T'), 'every thread to stop');
    let r = session.model!.verify();
    for (let i = 0; i < 100 && !r.equal; i++) {
      await sleep(20);
      r = session.model!.verify();
    }
    return r;
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

export function assertContiguousSeqs(events: readonly TraceEvent[]): void {
  const seqs = events.filter((e) => e.type !== 'finding' && e.type !== 'resync').map((e) => e.seq);
  seqs.forEach((seq, i) => assert.equal(seq, i, 'seqs contiguous from 0'));
}

// The one path every event takes, in record order: the address-space model
// applies it, then the detectors see it (asking the model), and the findings
// it completed come back to be placed right after it. Events come from the
// session's batches (lib/session.ts), but any producer of TraceEvents in
// order — a recorded trace, a unit test, another engine — feeds the same
// path. docs/architecture.md draws it.
import os from 'node:os';
import { arenaMaxSetting } from './detect/arena-limit';
import { DetectorPipeline, type Extent } from './detect/pipeline';
import type { ArenaLimits } from './detect/arenas';
import type { Finding, ResyncEvent, SnapshotEvent, TraceEvent } from './events';
import { AddressSpaces, formatDifference } from './model';
import { readEnviron } from './proc';
import { callOf } from './syscalls/calls';

/** glibc's arena limit for a process: MALLOC_ARENA_MAX or glibc.malloc.arena_max from its environment, else 8 × CPUs. */
export type ArenaLimitsOf = (pid: number) => ArenaLimits;

const hostLimits: ArenaLimitsOf = () => ({ arenaMax: null, arenaMaxFrom: null, cpus: os.availableParallelism() });

/** The limit a traced process's glibc applies: its own setting, read from /proc/PID/environ. */
export const targetArenaLimits: ArenaLimitsOf = (pid) => {
  const setting = arenaMaxSetting(readEnviron(pid));
  return { arenaMax: setting?.max ?? null, arenaMaxFrom: setting?.from ?? null, cpus: os.availableParallelism() };
};

/** The call view; none for an event too malformed to read (a hand-made one with missing registers). */
function viewOf(ev: Parameters<typeof callOf>[0] & { seq: number }): ReturnType<typeof callOf> {
  try {
    return callOf(ev);
  } catch {
    return undefined;
  }
}

const MAX_LOSSES_KEPT = 1024;

export class Analysis {
  readonly models = new AddressSpaces();
  readonly #detectors: DetectorPipeline;

  constructor(limits: ArenaLimitsOf = hostLimits) {
    this.#detectors = new DetectorPipeline(this.models, limits);
  }

  /** Every finding so far, in order. */
  get findings(): readonly Finding[] {
    return this.#detectors.findings;
  }

  /** The allocations the detectors proved in process pid (for the explanation's counts). */
  extents(pid: number): readonly Extent[] | undefined {
    return this.#detectors.extents.get(pid);
  }

  /**
   * Where records were lost: before the event with seq `before`, count of
   * them; in stream order, the last MAX_LOSSES_KEPT (a long session that keeps
   * overflowing must not grow without end; a proof older than all of them is
   * not marked).
   */
  readonly #losses: { before: number; count: number }[] = [];

  /** Records were dropped (overflow 'drop') before the event with seq `before`. */
  lost(count: bigint, before: number): void {
    this.models.lost(count, before);
    this.#losses.push({ before, count: Number(count) });
    if (this.#losses.length > MAX_LOSSES_KEPT) this.#losses.splice(0, this.#losses.length - MAX_LOSSES_KEPT);
  }

  /** A resync snapshot: the model re-read from it; the event saying what changed, placed right after it. */
  resync(ev: SnapshotEvent, lost: number): ResyncEvent {
    const diffs = this.models.resync(ev);
    return {
      type: 'resync', seq: ev.seq, time: ev.time, pid: ev.pid, tid: ev.tid, lost,
      differences: diffs.slice(0, 20).map(formatDifference), differing: diffs.length,
    };
  }

  /** Model, then detectors, for one event; the findings it completed (usually none). */
  process(ev: TraceEvent): readonly Finding[] {
    const call = ev.type === 'syscall' ? viewOf(ev) : undefined;
    this.models.apply(ev, call);
    const found = this.#detectors.process(ev, call);
    if (this.#losses.length) for (const f of found) this.#markLoss(f);
    return found;
  }

  /** A finding whose proof spans a loss says how many records it may miss (Finding.lostInProof). */
  #markLoss(f: Finding): void {
    const first = Math.min(f.seq, ...f.evidence);
    let lost = 0;
    for (const l of this.#losses) if (first < l.before && l.before <= f.seq) lost += l.count;
    if (lost > 0) f.lostInProof = lost;
  }
}

// Runs the detectors over the event stream, in order, after the model has
// applied each event, and hands each finding back to be placed right after
// the event that completed it.
import type { Finding, TraceEvent } from '../events';
import type { AddressSpaces, RegionClass } from '../model';
import type { Call } from '../syscalls/calls';
import { ArenaDetector, type ArenaLimits } from './arenas';
import type { Detector, DetectorContext } from './detector';
import { ThreadDetector } from './threads';

/** One allocation a detector proved: the range it classified. */
export interface Extent {
  cls: RegionClass;
  start: bigint;
  end: bigint;
}

export class DetectorPipeline {
  readonly arenas: ArenaDetector;
  readonly threads = new ThreadDetector();
  readonly #detectors: Detector[];
  readonly findings: Finding[] = [];
  /** What each classify() call covered, per process: one entry per allocation the detectors proved. */
  readonly extents = new Map<number, Extent[]>();
  #out: Finding[] = [];
  readonly #ctx: DetectorContext;

  constructor(models: AddressSpaces, limits?: (pid: number) => ArenaLimits) {
    this.arenas = new ArenaDetector(limits);
    this.#detectors = [this.threads, this.arenas];
    this.#ctx = {
      emit: (f) => {
        this.#out.push(f);
        this.findings.push(f);
      },
      model: (pid) => models.get(pid),
      classify: (pid, start, end, cls, by) => {
        models.get(pid)?.setClass(start, end, cls, { tid: by.tid, seq: by.seq, time: by.time, cause: cls });
        let list = this.extents.get(pid);
        if (!list) this.extents.set(pid, (list = []));
        // A commit inside a known allocation is part of it, not another one.
        if (list.some((e) => e.cls === cls && e.start <= start && end <= e.end)) return;
        // A later proof for the same range (a reused pthread stack) replaces the earlier one.
        const same = list.findIndex((e) => e.start === start && e.end === end);
        if (same >= 0) list.splice(same, 1);
        list.push({ cls, start, end });
      },
    };
  }

  /** The findings this event completed (usually none). */
  process(ev: TraceEvent, call: Call | undefined): readonly Finding[] {
    if (ev.type === 'exec') this.extents.delete(ev.pid);
    for (const d of this.#detectors) d.onEvent(ev, call, this.#ctx);
    if (this.#out.length === 0) return NO_FINDINGS;
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

const NO_FINDINGS: readonly Finding[] = [];

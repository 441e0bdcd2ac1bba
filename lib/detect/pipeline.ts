// Runs the detectors over the event stream, in order, and hands each
// finding back to be placed right after the event that completed it.
import type { TraceEvent } from '../events';
import type { AddressSpaces } from '../model';
import type { RegionClass } from '../model';
import { ArenaDetector, type ArenaLimits } from './arenas';
import type { Finding } from './finding';
import { ThreadDetector } from './threads';

export interface DetectorContext {
  emit(f: Finding): void;
  /** Labels [start, end) of the process's model; `by` is the event that proved it. */
  classify(pid: number, start: bigint, end: bigint, cls: RegionClass, by: TraceEvent): void;
}

export interface Detector {
  onEvent(ev: TraceEvent, ctx: DetectorContext): void;
}

export class DetectorPipeline {
  readonly arenas: ArenaDetector;
  readonly threads = new ThreadDetector();
  readonly #detectors: Detector[];
  readonly findings: Finding[] = [];
  /** What each classify() call covered, per process: one entry per allocation the detectors proved. */
  readonly extents = new Map<number, { cls: RegionClass; start: bigint; end: bigint }[]>();
  #out: Finding[] = [];
  readonly #ctx: DetectorContext;

  constructor(models: AddressSpaces | undefined, limits?: (pid: number) => ArenaLimits) {
    this.arenas = new ArenaDetector(limits);
    this.#detectors = [this.threads, this.arenas];
    this.#ctx = {
      emit: (f) => {
        this.#out.push(f);
        this.findings.push(f);
      },
      classify: (pid, start, end, cls, by) => {
        models?.get(pid)?.setClass(start, end, cls, { tid: by.tid, seq: by.seq, time: by.time, cause: cls });
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
  process(ev: TraceEvent): Finding[] {
    if (ev.type === 'exec') this.extents.delete(ev.pid);
    for (const d of this.#detectors) d.onEvent(ev, this.#ctx);
    if (this.#out.length === 0) return NO_FINDINGS;
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

const NO_FINDINGS: Finding[] = [];

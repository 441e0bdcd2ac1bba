// What the pictures need that the explanation at the end does not keep: the
// target's VmSize and RSS over time, each finding with its time, and each
// thread's life. Fed every event of a session (and the usage samples) in
// order; small (a point per 10 ms of trace at most), whatever the trace's
// length.
import type { Finding, TraceEvent } from '../events';

export interface TimelinePoint {
  /** ms since the session started. */
  t: number;
  /** The model's VmSize then (kB). */
  vmSizeKb: number;
  /** RSS from the latest usage sample (kB), null before the first. */
  rssKb: number | null;
}

export interface ThreadLife {
  pid: number;
  tid: number;
  start: number;
  /** null: still running at the end. */
  end: number | null;
}

export interface Recording {
  timeline: TimelinePoint[];
  findings: Finding[];
  threads: ThreadLife[];
  /** ms: the last event's time. */
  end: number;
}

/** A new timeline point at most this often (ms), and at every finding. */
const STEP_MS = 10;

export class Recorder {
  readonly #timeline: TimelinePoint[] = [];
  readonly #findings: Finding[] = [];
  readonly #threads = new Map<number, ThreadLife>();
  #rssKb: number | null = null;
  #end = 0;

  /**
   * One event, after the session applied it; `vmSizeBytes` is the traced
   * process's model size now (undefined before its first snapshot).
   */
  add(ev: TraceEvent, vmSizeBytes: bigint | undefined): void {
    this.#end = Math.max(this.#end, ev.time);
    switch (ev.type) {
      case 'thread-start':
        if (ev.followed) this.#threads.set(ev.tid, { pid: ev.pid, tid: ev.tid, start: ev.time, end: null });
        break;
      case 'snapshot':
        // The threads there at an attach, or the one that exec'd.
        if (!this.#threads.has(ev.tid)) this.#threads.set(ev.tid, { pid: ev.pid, tid: ev.tid, start: ev.time, end: null });
        for (const t of ev.threads ?? []) {
          if (!this.#threads.has(t.tid)) this.#threads.set(t.tid, { pid: ev.pid, tid: t.tid, start: ev.time, end: null });
        }
        break;
      case 'thread-exit':
      case 'exit': {
        const t = this.#threads.get(ev.tid);
        if (t && t.end === null) t.end = ev.time;
        break;
      }
      case 'finding':
        this.#findings.push(ev);
        break;
    }
    if (vmSizeBytes === undefined) return;
    const last = this.#timeline.at(-1);
    const kb = Number(vmSizeBytes / 1024n);
    if (!last || ev.type === 'finding' || (ev.time - last.t >= STEP_MS && kb !== last.vmSizeKb)) {
      this.#timeline.push({ t: ev.time, vmSizeKb: kb, rssKb: this.#rssKb });
    }
  }

  /** A usage sample (CPU/RSS sampling): the RSS from now on, at the trace's latest time. */
  usage(rssBytes: number): void {
    this.#rssKb = Math.round(rssBytes / 1024);
    const last = this.#timeline.at(-1);
    if (last) this.#timeline.push({ t: this.#end, vmSizeKb: last.vmSizeKb, rssKb: this.#rssKb });
  }

  result(): Recording {
    return { timeline: [...this.#timeline], findings: [...this.#findings], threads: [...this.#threads.values()], end: this.#end };
  }
}

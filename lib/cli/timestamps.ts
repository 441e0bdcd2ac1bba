// -t/-tt/-ttt, -r and -T: times on each line as strace prints them. Event
// times are milliseconds since the session started (lib/events.ts); the
// session's wall-clock start turns them into times of day.
import type { TraceEvent } from '../events';

export interface TimeOptions {
  /** -t 1, -tt 2, -ttt 3. */
  timestamps: number;
  relative: boolean;
  syscallTimes: boolean;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export class LineTimes {
  #previousMs: number | undefined;

  constructor(
    readonly opts: TimeOptions,
    /** Wall-clock ms (epoch) at the session's time 0. */
    readonly epochMs: number,
  ) {}

  get active(): boolean {
    return this.opts.timestamps > 0 || this.opts.relative || this.opts.syscallTimes;
  }

  /** Inserts the prefix after `[pid N] ` and, for -T, appends ` <seconds>` to a syscall that returned. */
  apply(ev: TraceEvent, line: string): string {
    // strace stamps a call with the time of its entry.
    const at = ev.type === 'syscall' && ev.entryTime !== null ? ev.entryTime : ev.time;
    let prefix = '';
    if (this.opts.relative) {
      const rel = this.#previousMs === undefined ? 0 : Math.max(0, at - this.#previousMs);
      this.#previousMs = at;
      prefix += `${(rel / 1000).toFixed(6).padStart(13)} `;
    }
    if (this.opts.timestamps > 0) prefix += `${this.#clock(this.epochMs + at)} `;
    const cut = line.indexOf('] ') + 2;
    let out = line.slice(0, cut) + prefix + line.slice(cut);
    if (this.opts.syscallTimes && ev.type === 'syscall' && ev.ret !== null && ev.entryTime !== null) {
      out += ` <${(Math.max(0, ev.time - ev.entryTime) / 1000).toFixed(6)}>`;
    }
    return out;
  }

  #clock(epochMs: number): string {
    const micros = Math.floor((epochMs % 1000) * 1000);
    if (this.opts.timestamps >= 3) return `${Math.floor(epochMs / 1000)}.${pad(micros, 6)}`;
    const d = new Date(epochMs);
    const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return this.opts.timestamps === 2 ? `${hms}.${pad(micros, 6)}` : hms;
  }
}

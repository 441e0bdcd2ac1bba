// CPU and RSS of the target over time, sampled with pidusage while tracing.
import pidusage from 'pidusage';
import { native } from '../native';

export interface UsageSample {
  /** ms since sampling started */
  time: number;
  /** percent of one CPU since the previous sample */
  cpu: number;
  rssBytes: number;
}

export interface UsageSummary {
  samples: number;
  cpu: { min: number; max: number; last: number };
  rssBytes: { min: number; max: number; last: number };
}

/**
 * pidusage learns the clock tick and page size by running `getconf` twice
 * (two forks of this whole Node process) on its first call. Done here, before
 * a target starts, that happens while nothing is traced instead of in the
 * target's first milliseconds; and the SIGCHLD handler it gives Node is made
 * quiet about ptrace stops before there are any (see the addon).
 */
export async function prepareUsageSampling(): Promise<void> {
  try {
    await pidusage(process.pid);
  } catch {
    // sampling will try again, and report nothing if it cannot
  }
  native().quietChildStops();
}

export class UsageSampler {
  readonly samples: UsageSample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #start = performance.now();
  #busy = false;
  #stopped = false;

  constructor(
    readonly pid: number,
    readonly intervalMs = 500,
    private readonly onSample?: (s: UsageSample) => void,
  ) {}

  start(): void {
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.intervalMs);
    this.#timer.unref(); // sampling never keeps the process alive
  }

  async sample(): Promise<UsageSample | undefined> {
    if (this.#busy) return undefined;
    this.#busy = true;
    try {
      const st = await pidusage(this.pid);
      // A sample still under way when stop() came is dropped: after stop the
      // CLI writes its closing lines, and nothing may follow them.
      if (this.#stopped) return undefined;
      // pidusage runs getconf once through child_process, which gives Node a
      // SIGCHLD handler: keep ptrace stops from waking it (see the addon).
      if (this.samples.length === 0) native().quietChildStops();
      const s = { time: performance.now() - this.#start, cpu: st.cpu, rssBytes: st.memory };
      this.samples.push(s);
      this.onSample?.(s);
      return s;
    } catch {
      return undefined; // the process is gone; the last sample stands
    } finally {
      this.#busy = false;
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    pidusage.clear();
  }

  summary(): UsageSummary | null {
    if (this.samples.length === 0) return null;
    const cpu = this.samples.map((s) => s.cpu);
    const rss = this.samples.map((s) => s.rssBytes);
    return {
      samples: this.samples.length,
      cpu: { min: Math.min(...cpu), max: Math.max(...cpu), last: cpu.at(-1)! },
      rssBytes: { min: Math.min(...rss), max: Math.max(...rss), last: rss.at(-1)! },
    };
  }
}

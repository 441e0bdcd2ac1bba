// CPU and RSS of the target over time, sampled from /proc/PID/stat while tracing.
import { clockTicks, pageSize } from '../model/page';
import { native } from '../native';
import { readProc } from '../proc';

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

/** CPU seconds used so far, resident bytes, and seconds since it started, from /proc/PID/stat; undefined once gone. */
function readStat(pid: number): { cpuSec: number; rssBytes: number; ageSec: number } | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  const uptime = readProc('/proc/uptime');
  if (stat === undefined || uptime === undefined) return undefined;
  // Fields after the parenthesised comm (which may contain ')'), from field 3 (state) on: proc(5).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(f[n - 3]);
  const hz = clockTicks();
  return {
    cpuSec: (field(14) + field(15)) / hz,
    rssBytes: field(24) * Number(pageSize()),
    ageSec: Number(uptime.split(' ')[0]) - field(22) / hz,
  };
}

/**
 * Before a target starts: makes the SIGCHLD handler Node may have (any use of
 * child_process gives it one) quiet about ptrace stops before there are any
 * (see the addon), and reads the auxv values sampling needs.
 */
export function prepareUsageSampling(): void {
  clockTicks();
  native().quietChildStops();
}

export class UsageSampler {
  readonly samples: UsageSample[] = [];
  #timer: NodeJS.Timeout | undefined;
  // process.hrtime, not performance.now(): the global `performance` loads
  // node:perf_hooks, milliseconds of every start-up (docs/architecture.md, "Start-up").
  #start = process.hrtime.bigint();
  #busy = false;
  #previous: { cpuSec: number; ageSec: number } | undefined;

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
      const now = readStat(this.pid);
      if (!now) return undefined; // the process is gone; the last sample stands
      // Percent of one CPU since the previous sample; the first, over the process's life so far.
      const prev = this.#previous;
      const cpuSec = prev ? now.cpuSec - prev.cpuSec : now.cpuSec;
      const wallSec = prev ? now.ageSec - prev.ageSec : now.ageSec;
      this.#previous = now;
      const s = { time: Number(process.hrtime.bigint() - this.#start) / 1e6, cpu: wallSec > 0 ? (100 * cpuSec) / wallSec : 0, rssBytes: now.rssBytes };
      this.samples.push(s);
      this.onSample?.(s);
      return s;
    } finally {
      this.#busy = false;
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
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

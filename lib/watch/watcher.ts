// `liveprobe watch`: look at processes every interval without tracing them
// (no ptrace, no perf events: /proc only), turn what changed into findings,
// and keep the Prometheus series current. With `all`, every Go process on the
// host (found by its buildinfo), new ones picked up, gone ones dropped.
import os from 'node:os';
import { type BinaryFacts, binaryFacts } from '../explain/binary-facts';
import { listProc, readEnviron, readProcLink } from '../proc';
import { type ArenaLimit, ProcessHistory, type WatchFinding, arenaLimitOf } from './changes';
import type { WatchMetrics } from './metrics';
import { type ProcessSample, type SampleError, isSampleError, sampleProcess } from './sample';

export interface WatchTargets {
  /** Watch these pids (a gone one is said once and dropped). */
  pids?: readonly number[];
  /** Watch every Go process on the host. */
  all?: boolean;
}

export interface WatchRound {
  samples: ProcessSample[];
  errors: SampleError[];
  findings: WatchFinding[];
}

interface Known {
  exe: string;
  facts: BinaryFacts | null;
  limit: ArenaLimit;
  history: ProcessHistory;
}

export class Watcher {
  readonly #targets: WatchTargets;
  readonly #metrics: WatchMetrics | undefined;
  readonly #known = new Map<number, Known>();
  /** --all: whether an executable is Go, by path (parsed once). */
  readonly #isGo = new Map<string, boolean>();
  /** Explicit pids still watched. */
  readonly #pids: Set<number>;
  readonly #start = performance.now();
  readonly #cpus = os.availableParallelism();

  constructor(targets: WatchTargets, metrics?: WatchMetrics) {
    this.#targets = targets;
    this.#metrics = metrics;
    this.#pids = new Set(targets.pids ?? []);
  }

  /** Nothing left to watch: every explicit pid is gone (never true with `all`). */
  get done(): boolean {
    return !this.#targets.all && this.#pids.size === 0;
  }

  /** One look at every target. */
  round(): WatchRound {
    const time = performance.now() - this.#start;
    const out: WatchRound = { samples: [], errors: [], findings: [] };
    const pids = this.#targets.all ? this.#goProcesses() : [...this.#pids];
    for (const pid of pids) {
      const s = sampleProcess(pid, time, this.#factsOf(pid));
      if (isSampleError(s)) {
        out.errors.push(s);
        if (s.gone) this.#drop(pid);
        else this.#metrics?.failed(pid, s.error);
        continue;
      }
      const k = this.#known.get(pid)!;
      out.samples.push(s);
      out.findings.push(...k.history.update(s, k.limit));
      this.#metrics?.update(s, k.limit);
    }
    // --all: processes that exited since the last round.
    if (this.#targets.all) {
      const now = new Set(pids);
      for (const pid of [...this.#known.keys()]) if (!now.has(pid)) this.#drop(pid);
    }
    return out;
  }

  /** Binary facts and arena limit, kept per pid until it execs something else. */
  #factsOf(pid: number): BinaryFacts | null | undefined {
    const exe = readProcLink(`/proc/${pid}/exe`);
    if (exe === undefined) return undefined;
    let k = this.#known.get(pid);
    if (!k || k.exe !== exe) {
      const env = readEnviron(pid);
      let facts: BinaryFacts | null;
      try {
        facts = binaryFacts(exe, env);
      } catch {
        facts = null;
      }
      k = { exe, facts, limit: arenaLimitOf(env, this.#cpus), history: new ProcessHistory(pid) };
      this.#known.set(pid, k);
    }
    return k.facts;
  }

  #drop(pid: number): void {
    this.#known.delete(pid);
    this.#pids.delete(pid);
    this.#metrics?.forget(pid);
  }

  /** Every process whose executable is a Go binary (its buildinfo says so), liveprobe itself aside. */
  #goProcesses(): number[] {
    const out: number[] = [];
    for (const name of listProc('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      if (pid === process.pid) continue;
      const exe = readProcLink(`/proc/${pid}/exe`);
      if (exe === undefined) continue; // a kernel thread, or not ours to read
      let go = this.#isGo.get(exe);
      if (go === undefined) {
        try {
          go = binaryFacts(exe).isGo;
        } catch {
          go = false;
        }
        this.#isGo.set(exe, go);
      }
      if (go) out.push(pid);
    }
    return out;
  }
}

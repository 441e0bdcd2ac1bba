// --perfetto FILE.json: the trace in the Trace Event format that
// ui.perfetto.dev and chrome://tracing open. A process per traced process,
// a track per thread named by its kind, each syscall a slice (from its entry
// to its return) with its decoded arguments, each finding an instant event
// with its evidence seqs, and VmSize, RSS and the glibc arena count as counter
// tracks. Written as the events come (the array is streamed), the names and
// counters the end knows at the close.
import fs from 'node:fs';
import type { TraceEvent } from '../events';
import type { Explanation } from '../explain/explain';

/** Trace Event timestamps are µs; event times are ms. */
const US = 1000;

function json(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x));
}

export class PerfettoWriter {
  readonly #fd: number;
  #first = true;
  readonly #arenas = new Map<number, number>();
  readonly #named = new Set<string>();

  /** Opens (truncates) the file; throws a LiveprobeError-worthy Error if it cannot. */
  constructor(file: string) {
    this.#fd = fs.openSync(file, 'w');
    fs.writeSync(this.#fd, '{"displayTimeUnit":"ms","traceEvents":[\n');
  }

  #emit(e: Record<string, unknown>): void {
    fs.writeSync(this.#fd, (this.#first ? '' : ',\n') + json(e));
    this.#first = false;
  }

  /** One event of the session; `vmSizeBytes` the model's size after it, when known. */
  add(ev: TraceEvent, vmSizeBytes?: bigint): void {
    const base = { pid: ev.pid, tid: ev.tid };
    if (!this.#named.has(`p${ev.pid}`)) {
      this.#named.add(`p${ev.pid}`);
      this.#emit({ ph: 'M', name: 'process_name', ...base, tid: ev.pid, args: { name: `pid ${ev.pid}` } });
    }
    switch (ev.type) {
      case 'syscall': {
        const start = ev.entryTime ?? ev.time;
        this.#emit({
          ph: 'X', cat: 'syscall', name: ev.name, ...base, ts: start * US, dur: Math.max(0, ev.time - start) * US,
          args: { seq: ev.seq, text: ev.text, ret: ev.ret, ...ev.args },
        });
        break;
      }
      case 'finding':
        this.#emit({
          ph: 'i', s: 't', cat: 'finding', name: ev.kind, ...base, ts: ev.time * US,
          args: { seq: ev.seq, evidence: ev.evidence, summary: ev.summary, ...ev.details },
        });
        if (ev.kind === 'glibc-arena') {
          const n = (this.#arenas.get(ev.pid) ?? 0) + 1;
          this.#arenas.set(ev.pid, n);
          this.#emit({ ph: 'C', name: 'glibc arenas', ...base, ts: ev.time * US, args: { arenas: Number(ev.details.arenas ?? n) } });
        }
        break;
      case 'signal':
      case 'exec':
      case 'exit':
      case 'thread-start':
      case 'thread-exit':
      case 'detached':
        this.#emit({ ph: 'i', s: 't', cat: 'lifecycle', name: ev.type === 'signal' ? ev.signal : ev.type, ...base, ts: ev.time * US, args: { seq: ev.seq } });
        break;
    }
    if (vmSizeBytes !== undefined && (ev.type === 'syscall' || ev.type === 'snapshot')) {
      this.#emit({ ph: 'C', name: 'VmSize', ...base, ts: ev.time * US, args: { kB: Number(vmSizeBytes / 1024n) } });
    }
  }

  /** A usage sample at trace time t (ms). */
  usage(pid: number, t: number, rssBytes: number): void {
    this.#emit({ ph: 'C', name: 'RSS', pid, tid: pid, ts: t * US, args: { kB: Math.round(rssBytes / 1024) } });
  }

  /** Thread tracks named by kind (known at the end), then the closing bracket. */
  close(explanations: readonly Explanation[]): void {
    for (const e of explanations) {
      for (const t of e.threads) this.#emit({ ph: 'M', name: 'thread_name', pid: e.pid, tid: t.tid, args: { name: `${t.kind} ${t.tid}` } });
    }
    fs.writeSync(this.#fd, '\n]}\n');
    fs.closeSync(this.#fd);
  }
}

// The watch's samples as Prometheus metrics (prom-client), one exporter per
// host as node_exporter is: bytes and RSS per class, threads by kind, glibc
// arenas with their limit and per-arena RSS, VmSize, labelled with what a
// fleet groups by (pid, exe, Go version, cgo, libc). Names and units follow
// Prometheus's conventions: a `liveprobe_` prefix, base units (`_bytes`).
import http from 'node:http';
import { Gauge, Registry } from 'prom-client';
import type { ArenaLimit } from './changes';
import type { ProcessSample } from './sample';

const PROCESS_LABELS = ['pid', 'exe', 'go_version', 'cgo', 'libc'] as const;

export class WatchMetrics {
  readonly registry = new Registry();
  readonly #vmsize: Gauge<string>;
  readonly #classBytes: Gauge<string>;
  readonly #classRss: Gauge<string>;
  readonly #threads: Gauge<string>;
  readonly #arenas: Gauge<string>;
  readonly #arenaLimit: Gauge<string>;
  readonly #arenaRss: Gauge<string>;
  readonly #sampleErrors: Gauge<string>;
  /** Label values last set per pid, to remove a process's series when it goes. */
  readonly #series = new Map<number, (() => void)[]>();

  constructor() {
    const g = (name: string, help: string, extra: string[] = []) =>
      new Gauge({ name, help, labelNames: [...PROCESS_LABELS, ...extra], registers: [this.registry] });
    this.#vmsize = g('liveprobe_vmsize_bytes', 'Virtual memory size of the process (VmSize).');
    this.#classBytes = g('liveprobe_class_bytes', 'Virtual memory by region class.', ['class']);
    this.#classRss = g('liveprobe_class_resident_bytes', 'Resident memory by region class, from smaps.', ['class']);
    this.#threads = g('liveprobe_threads', 'Threads by kind.', ['kind']);
    this.#arenas = g('liveprobe_glibc_arenas', 'glibc malloc arenas, the main arena included.');
    this.#arenaLimit = g('liveprobe_glibc_arena_limit', "glibc's arena limit for the process (MALLOC_ARENA_MAX, the tunable, or 8 x CPUs).");
    this.#arenaRss = g('liveprobe_glibc_arena_resident_bytes', 'Resident memory of one glibc arena heap.', ['arena']);
    this.#sampleErrors = g('liveprobe_sample_error', '1 while the process cannot be sampled (not permitted, no address space).', ['reason']);
  }

  /** Sets every series of a process from its latest sample. */
  update(s: ProcessSample, limit: ArenaLimit): void {
    this.forget(s.pid);
    const b = s.explanation.binary;
    const base = {
      pid: String(s.pid),
      exe: s.exe ?? '',
      go_version: b?.goVersion ?? '',
      cgo: b?.cgoEnabled === null || b?.cgoEnabled === undefined ? '' : String(b.cgoEnabled),
      libc: b?.libc ?? '',
    };
    const undo: (() => void)[] = [];
    const set = (gauge: Gauge<string>, labels: Record<string, string>, v: number | bigint) => {
      const l = { ...base, ...labels };
      gauge.set(l, Number(v));
      undo.push(() => gauge.remove(l));
    };
    const e = s.explanation;
    if (e.vmSizeKb !== null) set(this.#vmsize, {}, e.vmSizeKb * 1024);
    for (const c of e.classes) {
      set(this.#classBytes, { class: c.class }, c.bytes);
      if (c.rss !== null) set(this.#classRss, { class: c.class }, c.rss);
    }
    const kinds = new Map<string, number>();
    for (const t of e.threads) if (t.state !== 'exited') kinds.set(t.kind, (kinds.get(t.kind) ?? 0) + 1);
    for (const [kind, n] of kinds) set(this.#threads, { kind }, n);
    set(this.#arenas, {}, s.arenas.length + 1);
    set(this.#arenaLimit, {}, limit.limit);
    for (const a of s.arenas) set(this.#arenaRss, { arena: `0x${a.base.toString(16)}` }, a.rssBytes);
    this.#series.set(s.pid, undo);
  }

  /** A process that cannot be sampled: one series saying why, nothing else. */
  failed(pid: number, reason: string): void {
    this.forget(pid);
    const l = { pid: String(pid), exe: '', go_version: '', cgo: '', libc: '', reason };
    this.#sampleErrors.set(l, 1);
    this.#series.set(pid, [() => this.#sampleErrors.remove(l)]);
  }

  /** Removes a process's series (it exited, or is no longer watched). */
  forget(pid: number): void {
    for (const undo of this.#series.get(pid) ?? []) undo();
    this.#series.delete(pid);
  }

  /** Serves the metrics at /metrics on host:port; resolves with the bound address. */
  listen(host: string, port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      if (req.url !== '/metrics' && req.url !== '/') {
        res.writeHead(404).end('liveprobe watch serves /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }
}

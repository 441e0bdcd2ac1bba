// `liveprobe watch`: the command line of lib/watch. Findings as text lines
// (or NDJSON with a `sample` object per process per interval), Prometheus
// metrics with --listen. Runs until Ctrl-C/SIGTERM, --duration, or until every
// pid it was given is gone.
import { parseArgs } from 'node:util';
import { LiveprobeError } from '../errors';
import { WatchMetrics } from '../watch/metrics';
import type { ProcessSample, SampleError } from '../watch/sample';
import { type WatchRound, Watcher } from '../watch/watcher';
import type { WatchFinding } from '../watch/changes';
import { UsageError } from './args';
import { toJson } from './format-json';
import { LineWriter } from './line-writer';

export const WATCH_USAGE = `usage: liveprobe watch [options] <pid>...
       liveprobe watch [options] --all

Looks at processes every interval without tracing them (/proc only: no
ptrace, no perf events), classifies every region and thread by its shape,
and reports what changes as findings: a new arena or thread, the arena limit
reached, a class growing, glibc's arena RSS ratcheting up while the Go heap's
does not (or the other way round).

options:
      --all                 every Go process on the host, new ones picked up
      --interval <dur>      time between looks (default 10s; 500ms, 2s, 1m)
      --listen <host:port>  serve Prometheus metrics at http://<host:port>/metrics
      --json                NDJSON: findings, and a sample object per process per look
  -o, --output <file>       write to <file> instead of stderr
      --duration <dur>      stop after that long`;

/** "10s", "500ms", "1m", or plain seconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) throw new UsageError(`${what} must be a duration such as 10s, 500ms or 1m, not '${text}'`);
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (n <= 0) throw new UsageError(`${what} must be more than 0`);
  return n;
}

export interface WatchCliOptions {
  pids: number[];
  all: boolean;
  intervalMs: number;
  listen?: { host: string; port: number };
  json: boolean;
  output?: string;
  durationMs?: number;
}

export function parseWatchArgs(argv: string[]): WatchCliOptions | 'help' {
  let v;
  try {
    v = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        all: { type: 'boolean' },
        interval: { type: 'string' },
        listen: { type: 'string' },
        json: { type: 'boolean' },
        output: { type: 'string', short: 'o' },
        duration: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // Node's message names the option; keep it to one line.
    throw new UsageError(`watch: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
  }
  const o = v.values;
  if (o.help) return 'help';
  const pids = v.positionals.map((p) => {
    if (!/^\d+$/.test(p) || Number(p) <= 0) throw new UsageError(`watch: '${p}' is not a pid`);
    return Number(p);
  });
  if (o.all && pids.length) throw new UsageError('watch: give pids or --all, not both');
  if (!o.all && !pids.length) throw new UsageError('watch needs at least one pid, or --all');
  let listen: WatchCliOptions['listen'];
  if (o.listen !== undefined) {
    const m = /^(.*):(\d+)$/.exec(o.listen);
    if (!m || Number(m[2]) > 65535) throw new UsageError(`watch: --listen takes host:port (e.g. 127.0.0.1:9464), not '${o.listen}'`);
    listen = { host: m[1] || '127.0.0.1', port: Number(m[2]) };
  }
  return {
    pids, all: o.all ?? false, json: o.json ?? false, output: o.output, listen,
    intervalMs: o.interval === undefined ? 10_000 : parseDuration(o.interval, 'watch: --interval'),
    durationMs: o.duration === undefined ? undefined : parseDuration(o.duration, 'watch: --duration'),
  };
}

function findingLine(f: WatchFinding): string {
  return `[pid ${String(f.pid).padStart(6)}] >>> ${f.kind}: ${f.summary}`;
}

function sampleJson(s: ProcessSample): string {
  const e = s.explanation;
  return toJson({
    type: 'sample', pid: s.pid, time: s.time, vmSizeKb: e.vmSizeKb, explainedKb: e.explainedKb,
    classes: e.classes.map((c) => ({ class: c.class, count: c.count, bytes: c.bytes, rss: c.rss, basis: c.basis })),
    threads: e.threads.map((t) => ({ tid: t.tid, kind: t.kind, basis: t.basis })),
    arenas: s.arenas, goHeapRss: s.goHeapRssBytes,
  });
}

export async function watchCommand(argv: string[]): Promise<number> {
  const opts = parseWatchArgs(argv);
  if (opts === 'help') {
    process.stdout.write(WATCH_USAGE + '\n');
    return 0;
  }
  const metrics = opts.listen ? new WatchMetrics() : undefined;
  let server: Awaited<ReturnType<WatchMetrics['listen']>> | undefined;
  if (metrics && opts.listen) {
    try {
      server = await metrics.listen(opts.listen.host, opts.listen.port);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new LiveprobeError('EINVAL', `cannot listen on ${opts.listen.host}:${opts.listen.port} (${code}); choose another address with --listen`);
    }
  }
  const out = new LineWriter(opts.output);
  const watcher = new Watcher({ pids: opts.pids, all: opts.all }, metrics);
  const said = new Set<number>();
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, stop);
  const timer = opts.durationMs !== undefined ? setTimeout(stop, opts.durationMs) : undefined;
  const report = async (r: WatchRound): Promise<void> => {
    for (const e of r.errors) await reportError(e);
    for (const s of r.samples) {
      if (opts.json) await out.write(sampleJson(s));
      else if (!said.has(s.pid)) {
        said.add(s.pid);
        const e = s.explanation;
        const pct = e.vmSizeKb ? ((100 * e.explainedKb) / e.vmSizeKb).toFixed(1) : '-';
        await out.write(`[pid ${String(s.pid).padStart(6)}] watching ${s.exe ?? '?'}: VmSize ${e.vmSizeKb ?? '?'} kB, ${pct}% explained, ${e.threads.length} threads, ${s.arenas.length + 1} glibc arenas`);
      }
    }
    for (const f of r.findings) await out.write(opts.json ? toJson(f) : findingLine(f));
  };
  const errorsSaid = new Map<number, string>();
  const reportError = async (e: SampleError): Promise<void> => {
    if (errorsSaid.get(e.pid) === e.error) return;
    errorsSaid.set(e.pid, e.error);
    await out.write(opts.json ? toJson({ type: 'sample-error', pid: e.pid, time: e.time, error: e.error, gone: e.gone }) : `liveprobe: ${e.error}`);
  };
  try {
    for (;;) {
      await report(watcher.round());
      if (watcher.done) break;
      let tick: NodeJS.Timeout | undefined;
      const next = new Promise<'tick'>((r) => (tick = setTimeout(() => r('tick'), opts.intervalMs)));
      const why = await Promise.race([next, stopped.then(() => 'stop' as const)]);
      clearTimeout(tick);
      if (why === 'stop') break;
    }
    return 0;
  } finally {
    if (timer) clearTimeout(timer);
    for (const s of signals) process.off(s, stop);
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await out.close();
  }
}

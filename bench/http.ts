// bench/http: what attaching costs a live Go HTTP server, on two servers:
// - test/fixtures/httpload on loopback (its / and /slow make the memory and
//   thread calls of a real server), loaded by its own client on 2
//   connections, which counts the requests served;
// - Debian's caddy (`caddy file-server`, a real Go server), a 4 kB static
//   file loaded by ApacheBench (`ab -k -c 2`), when both are installed
//   (apt-get install caddy apache2-utils); its row says so when they are not.
// Each run is bounded at --seconds. Per round, in turn: untraced; liveprobe
// attach --engine perf; its floor bench/perf-floor.c (the same events opened
// and drained, nothing else); the same floor with a tracepoint per call
// instead of raw_syscalls (bench/tracers.ts PerfFloorLayout); liveprobe
// attach --engine ptrace; strace -f -p
// with the same filter. Prints the median requests/s of each, its median
// per-round ratio to the untraced run of the same round, and the perf
// engine's to its floor; every run must end with 0 failed requests, and the
// perf engine's with 0 records lost.
//
//   node dist/bench/http.js [--rounds N] [--seconds S] [--server httpload|caddy]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixture, repoRoot } from '../test/helpers/fixtures';
import { shellChild } from '../test/helpers/trace';
import { allTraced, cli, floorTracer, lostIn, median, perfFloorEvents } from './tracers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await sleep(5);
  if (!cond()) throw new Error(`bench: ${what} did not happen in 10 s`);
}

/** A server under test: started under sh (attach refuses its own children), loaded for some seconds, stopped. */
interface Server {
  label: string;
  pid: number;
  /** Requests served in `seconds`, and how many failed. */
  load(seconds: number): Promise<{ ok: number; fail: number }>;
  stop(): void;
}

/** Starts argv under sh; resolves with the server's pid once its output (stdout and stderr) matches ready. */
async function startUnderSh(argv: string[], ready: RegExp): Promise<{ pid: number; said: () => string }> {
  const sh = spawn('/bin/sh', ['-c', '"$@"; exit $?', 'sh', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  for (const s of [sh.stdout!, sh.stderr!]) s.setEncoding('utf8').on('data', (d: string) => (said += d));
  const pid = await shellChild(sh.pid!, argv[0]!);
  await until(() => ready.test(said), `${argv[0]} to say ${ready}`);
  return { pid, said: () => said };
}

async function httpload(): Promise<Server> {
  const bin = await fixture('httpload');
  const { pid, said } = await startUnderSh([bin, 'server'], /listening (\d+)/);
  const port = Number(/listening (\d+)/.exec(said())![1]);
  return {
    label: 'httpload fixture on loopback, its client -c 2',
    pid,
    async load(seconds) {
      const c = spawn(bin, ['client', '-port', String(port), '-c', '2'], { stdio: ['pipe', 'pipe', 'ignore'] });
      let out = '';
      c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      await sleep(seconds * 1000);
      c.stdin!.end();
      await new Promise((r) => c.on('close', r));
      const m = /ok=(\d+) fail=(\d+)\nend/.exec(out);
      if (!m) throw new Error(`httpload client printed no total: ${out.slice(-200)}`);
      return { ok: Number(m[1]), fail: Number(m[2]) };
    },
    stop: () => process.kill(pid, 'SIGTERM'),
  };
}

const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

async function caddy(): Promise<Server | string> {
  if (!has('caddy') || !has('ab')) return 'caddy: not run (needs caddy and ab: apt-get install caddy apache2-utils)';
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-caddy-'));
  fs.writeFileSync(path.join(root, 'index.html'), 'x'.repeat(4096));
  const port = 18000 + (process.pid % 1000);
  const { pid } = await startUnderSh(['caddy', 'file-server', '--listen', `127.0.0.1:${port}`, '--root', root], /serving static files on/);
  return {
    label: `caddy ${execFileSync('caddy', ['version'], { encoding: 'utf8' }).trim()} file-server, 4 kB file, ab -k -c 2`,
    pid,
    async load(seconds) {
      // -n: a bound ab does not reach (it allocates a record per request), so
      // -t ends the run; -r: a socket error is counted as failed, not fatal.
      const out = execFileSync('ab', ['-q', '-r', '-k', '-c', '2', '-t', String(seconds), '-n', '10000000', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
      const complete = /^Complete requests:\s+(\d+)/m.exec(out);
      const failed = /^Failed requests:\s+(\d+)/m.exec(out);
      const non2xx = /^Non-2xx responses:\s+(\d+)/m.exec(out);
      if (!complete || !failed) throw new Error(`ab printed no totals: ${out.slice(-300)}`);
      const fail = Number(failed[1]) + Number(non2xx?.[1] ?? 0);
      return { ok: Number(complete[1]) - fail, fail };
    },
    stop: () => {
      process.kill(pid, 'SIGTERM');
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

interface Tracer {
  argv: (pid: number) => string[];
  /** Resolves once the tracer is in place. */
  ready: (pid: number, said: () => string) => Promise<void>;
}

const UNTRACED = 'untraced';
const PERF = 'liveprobe attach --engine perf';
const FLOOR = 'bare perf-event attach (floor, same events)';
const FLOOR_PER_CALL = 'bare perf-event attach, a tracepoint per call';

async function measure(server: Server, rounds: number, seconds: number): Promise<{ rows: string[]; failed: number; lost: number }> {
  const floor = floorTracer('perf-floor');
  const floorEvents = perfFloorEvents();
  const floorPerCall = perfFloorEvents('per-call');
  const perfTrace = path.join(repoRoot(), 'dist', 'bench', 'http-perf.trace');
  const tracers: [string, Tracer | null][] = [
    [UNTRACED, null],
    [PERF, {
      argv: (p) => [process.execPath, cli(), 'attach', '--engine', 'perf', '-o', perfTrace, String(p)],
      ready: () => until(() => fs.existsSync(perfTrace) && fs.readFileSync(perfTrace, 'utf8').includes('+++ tracing '), 'the perf engine to attach'),
    }],
    [FLOOR, {
      argv: (p) => [floor, String(p), '256', ...floorEvents],
      ready: (_p, out) => until(() => out().includes('ready'), 'the floor to open its events'),
    }],
    // The layout the engine does not use: a server switches threads often, and each switch moves every per-thread event.
    [FLOOR_PER_CALL, {
      argv: (p) => [floor, String(p), '256', ...floorPerCall],
      ready: (_p, out) => until(() => out().includes('ready'), 'the floor to open its events'),
    }],
    ['liveprobe attach --engine ptrace', {
      argv: (p) => [process.execPath, cli(), 'attach', '--engine', 'ptrace', '-o', '/dev/null', String(p)],
      ready: (p) => until(() => allTraced(p), 'every thread to be ptrace\'d'),
    }],
    ['strace -f -p (%memory,clone,clone3)', {
      argv: (p) => ['strace', '-f', '-o', '/dev/null', '-e', 'trace=%memory,clone,clone3', '-p', String(p)],
      ready: (p) => until(() => allTraced(p), 'every thread to be ptrace\'d'),
    }],
  ];
  const rates = new Map<string, number[]>(tracers.map(([n]) => [n, []]));
  let failed = 0;
  // Records the perf engine said it lost, over all rounds: none may be at these loads with the default buffers.
  let lost = 0;
  await server.load(1); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const [name, t] of tracers) {
      let child: ReturnType<typeof spawn> | undefined;
      if (t) {
        fs.rmSync(perfTrace, { force: true });
        let out = '';
        child = spawn(t.argv(server.pid)[0]!, t.argv(server.pid).slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
        child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
        await t.ready(server.pid, () => out);
        await sleep(100);
      }
      const { ok, fail } = await server.load(seconds);
      failed += fail;
      rates.get(name)!.push(ok / seconds);
      if (child) {
        const gone = new Promise((res) => child!.on('close', res));
        child.kill('SIGINT');
        await gone;
        if (name === PERF) lost += lostIn(perfTrace);
        // Let the kernel finish unregistering a perf tracer's events before the next run.
        await sleep(1500);
      }
    }
  }
  const base = rates.get(UNTRACED)!;
  const floorRates = rates.get(FLOOR)!;
  const rows = [
    `\n${server.label}: ${seconds} s per run, ${rounds} rounds`,
    '| traced by | requests/s (median) | ratio to untraced | ratio to the perf floor |',
    '|---|---|---|---|',
  ];
  for (const [name] of tracers) {
    const r = rates.get(name)!;
    const vsFloor = name === PERF ? median(r.map((x, i) => x / floorRates[i]!)).toFixed(2) : '';
    rows.push(`| ${name} | ${median(r).toFixed(0)} | ${median(r.map((x, i) => x / base[i]!)).toFixed(2)} | ${vsFloor} |`);
  }
  rows.push(`records the perf engine lost: ${lost}`);
  return { rows, failed, lost };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const rounds = Number(opt('--rounds') ?? 3) || 3;
  const seconds = Number(opt('--seconds') ?? 3) || 3;
  const only = opt('--server');
  console.log(`liveprobe attached to Go HTTP servers, ${new Date().toISOString()}`);
  let failed = 0;
  for (const [name, start] of [['httpload', httpload], ['caddy', caddy]] as const) {
    if (only && only !== name) continue;
    const server = await start();
    if (typeof server === 'string') {
      console.log(`\n${server}`);
      continue;
    }
    try {
      const m = await measure(server, rounds, seconds);
      failed += m.failed;
      if (m.lost > 0) process.exitCode = 1;
      console.log(m.rows.join('\n'));
    } finally {
      server.stop();
    }
  }
  console.log(`failed requests: ${failed}`);
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

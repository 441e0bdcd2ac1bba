// bench/http: what attaching costs a live Go HTTP server. test/fixtures/
// httpload serves on loopback (its / and /slow make the memory and thread
// calls of a real server); its own client, 2 connections, bounded at
// --seconds per run, counts the requests served. Per round, in turn:
// untraced; liveprobe attach --engine perf; its floor bench/perf-floor.c
// (the same events opened and drained); liveprobe attach --engine ptrace;
// strace -f -p with the same filter. Prints the median requests/s of each
// and its median per-round ratio to the untraced run of the same round;
// every run must end with 0 failed requests.
//
//   node dist/bench/http.js [--rounds N] [--seconds S]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fixture, repoRoot } from '../test/helpers/fixtures';
import { shellChild } from '../test/helpers/trace';
import { perfEventList } from '../lib/perf/events';
import { floorArgs } from './perf-floor-args';
import { findTracefs } from '../lib/perf/tracefs';
import { defaultTraceFilter, hostArch, stopSetFor } from '../lib/syscalls';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cli = (): string => path.join(repoRoot(), 'dist', 'lib', 'cli', 'main.js');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function allTraced(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).every((tid) =>
      /^TracerPid:\s*[1-9]/m.test(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')),
    );
  } catch {
    return false;
  }
}

/** Requests served in `seconds` by the client on 2 connections, and how many failed. */
async function load(bin: string, port: number, seconds: number): Promise<{ ok: number; fail: number }> {
  const c = spawn(bin, ['client', '-port', String(port), '-c', '2'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await sleep(seconds * 1000);
  c.stdin!.end();
  await new Promise((r) => c.on('close', r));
  const m = /ok=(\d+) fail=(\d+)\nend/.exec(out);
  if (!m) throw new Error(`httpload client printed no total: ${out.slice(-200)}`);
  return { ok: Number(m[1]), fail: Number(m[2]) };
}

interface Tracer {
  argv: (pid: number) => string[];
  /** Resolves once the tracer is in place. */
  ready: (pid: number, child: ReturnType<typeof spawn>, said: () => string) => Promise<void>;
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await sleep(5);
  if (!cond()) throw new Error('a tracer did not get ready');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const rounds = Number(argv[argv.indexOf('--rounds') + 1] || 3) || 3;
  const seconds = Number(argv[argv.indexOf('--seconds') + 1] || 3) || 3;
  const bin = await fixture('httpload');
  const floorSrc = path.join(repoRoot(), 'bench', 'perf-floor.c');
  const floor = path.join(repoRoot(), 'dist', 'bench', 'perf-floor');
  if (!fs.existsSync(floor) || fs.statSync(floor).mtimeMs < fs.statSync(floorSrc).mtimeMs) {
    execFileSync('cc', ['-O2', '-Wall', '-o', floor, floorSrc], { stdio: 'inherit' });
  }
  const arch = hostArch();
  const tracefs = findTracefs();
  if (typeof tracefs !== 'string') throw new Error('bench: tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)');
  const list = perfEventList(tracefs, arch, stopSetFor(defaultTraceFilter(arch), arch).numbers);
  const floorEvents = floorArgs(list.flat, list.filters);
  const perfTrace = path.join(repoRoot(), 'dist', 'bench', 'http-perf.trace');

  const sh = spawn('/bin/sh', ['-c', '"$@"; exit $?', 'sh', bin, 'server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let said = '';
  sh.stdout!.setEncoding('utf8').on('data', (d: string) => (said += d));
  const pid = await shellChild(sh.pid!, bin);
  await until(() => /listening (\d+)/.test(said));
  const port = Number(/listening (\d+)/.exec(said)![1]);

  const tracers: [string, Tracer | null][] = [
    ['untraced', null],
    ['liveprobe attach --engine perf', {
      argv: (p) => [process.execPath, cli(), 'attach', '--engine', 'perf', '-o', perfTrace, String(p)],
      ready: () => until(() => fs.existsSync(perfTrace) && fs.readFileSync(perfTrace, 'utf8').includes('+++ tracing ')),
    }],
    ['bare perf-event attach (floor, same events)', {
      argv: (p) => [floor, String(p), '256', ...floorEvents],
      ready: (_p, _c, out) => until(() => out().includes('ready')),
    }],
    ['liveprobe attach --engine ptrace', {
      argv: (p) => [process.execPath, cli(), 'attach', '--engine', 'ptrace', '-o', '/dev/null', String(p)],
      ready: (p) => until(() => allTraced(p)),
    }],
    ['strace -f -p (%memory,clone,clone3)', {
      argv: (p) => ['strace', '-f', '-o', '/dev/null', '-e', 'trace=%memory,clone,clone3', '-p', String(p)],
      ready: (p) => until(() => allTraced(p)),
    }],
  ];
  const rates = new Map<string, number[]>(tracers.map(([n]) => [n, []]));
  let failed = 0;
  try {
    await load(bin, port, 1); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const [name, t] of tracers) {
        let child: ReturnType<typeof spawn> | undefined;
        if (t) {
          fs.rmSync(perfTrace, { force: true });
          let out = '';
          child = spawn(t.argv(pid)[0]!, t.argv(pid).slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
          child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
          await t.ready(pid, child, () => out);
          await sleep(100);
        }
        const { ok, fail } = await load(bin, port, seconds);
        failed += fail;
        rates.get(name)!.push(ok / seconds);
        if (child) {
          const gone = new Promise((res) => child!.on('close', res));
          child.kill('SIGINT');
          await gone;
          // Let the kernel finish unregistering a perf tracer's events before the next run.
          await sleep(1500);
        }
      }
    }
  } finally {
    process.kill(pid, 'SIGTERM');
  }
  const base = rates.get('untraced')!;
  console.log(`httpload on loopback, client -c 2, ${seconds} s per run, ${rounds} rounds, ${new Date().toISOString()}`);
  console.log('| traced by | requests/s (median) | ratio to untraced |');
  console.log('|---|---|---|');
  for (const [name] of tracers) {
    const r = rates.get(name)!;
    console.log(`| ${name} | ${median(r).toFixed(0)} | ${median(r.map((x, i) => x / base[i]!)).toFixed(2)} |`);
  }
  console.log(`failed requests: ${failed}`);
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

// liveprobe watch (issue 19): processes looked at from /proc only, never
// traced. The ratchet fixture is driven on stdin, a thread at a time, and the
// watch takes one look after each step: no timing decides what is seen. The
// oracles are the program's own: glibc's count of its arenas (malloc_info)
// and the threads it has.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { WatchFinding } from '../lib/watch/changes';
import type { ProcessSample } from '../lib/watch/sample';
import { Watcher } from '../lib/watch/watcher';
import { fixture } from './helpers/fixtures';
import { untilValue } from './helpers/patience';
import { cliPath, runCli } from './helpers/trace';

const T = { timeout: 120_000 };
const MiB = 1n << 20n;

interface Ratchet {
  pid: number;
  /** Starts one more C thread; resolves once its working set is freed. */
  thread(): Promise<void>;
  /** glibc's own arena count (main arena included) and the pthreads the program made. */
  info(): Promise<{ arenas: number; pthreads: number }>;
  stop(): void;
}

async function startRatchet(env: NodeJS.ProcessEnv = {}): Promise<Ratchet> {
  const bin = await fixture('ratchet');
  const child: ChildProcessWithoutNullStreams = spawn(bin, ['-mib', '4'], { env: { ...process.env, ...env } });
  let out = '';
  let wake: (() => void) | undefined;
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    wake?.();
  });
  const next = async (pattern: RegExp): Promise<RegExpExecArray> => {
    for (;;) {
      const m = pattern.exec(out);
      if (m) {
        out = out.slice(m.index + m[0].length);
        return m;
      }
      if (child.exitCode !== null) throw new Error(`ratchet exited (${child.exitCode}) before printing ${pattern}`);
      await new Promise<void>((r) => (wake = r));
    }
  };
  let started = 0;
  return {
    pid: child.pid!,
    async thread() {
      child.stdin.write('t\n');
      await next(new RegExp(`thread ${++started} ready\n`));
    },
    async info() {
      child.stdin.write('i\n');
      const m = await next(/arenas (\d+)\npthreads (\d+)\n/);
      return { arenas: Number(m[1]), pthreads: Number(m[2]) };
    },
    stop() {
      child.stdin.end();
      child.kill('SIGKILL');
    },
  };
}

function sampleOf(w: Watcher, findings: WatchFinding[]): ProcessSample {
  const r = w.round();
  assert.deepEqual(r.errors, []);
  findings.push(...r.findings);
  return r.samples[0]!;
}

function tasks(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/task`).length;
}

const STEPS = 6;

describe('liveprobe watch', () => {
  test("the arena ratchet is flagged once, with the setting to try; arenas and pthread stacks equal the program's own counts", T, async () => {
    const r = await startRatchet();
    try {
      const w = new Watcher({ pids: [r.pid] });
      const findings: WatchFinding[] = [];
      const first = sampleOf(w, findings);
      let last = first;
      for (let i = 0; i < STEPS; i++) {
        await r.thread();
        last = sampleOf(w, findings);
      }
      const info = await r.info();
      assert.equal(info.pthreads, STEPS);
      // glibc's malloc_info counts the main arena too; the watch lists the mmap'd heaps.
      assert.equal(last.arenas.length + 1, info.arenas);
      assert.equal(last.arenas.length - first.arenas.length, STEPS, 'one arena per C thread');
      // Every thread but main is a pthread with an 8 MiB stack (RLIMIT_STACK 8192 KiB) and its guard.
      const stacks = last.explanation.classes.find((c) => c.class === 'pthread-stack')!;
      assert.deepEqual([stacks.count, stacks.each], [tasks(r.pid) - 1, 8n * MiB]);
      assert.equal(last.explanation.threads.filter((t) => t.kind === 'cgo-thread').length, tasks(r.pid) - 1);

      const newArenas = findings.filter((f) => f.kind === 'new-arena');
      assert.deepEqual(
        newArenas.map((f) => f.details.base).sort(),
        last.arenas.filter((a) => !first.arenas.some((b) => b.base === a.base)).map((a) => a.base).sort(),
      );
      assert.equal(findings.filter((f) => f.kind === 'new-thread').length, STEPS);
      const ratchets = findings.filter((f) => f.kind === 'arena-ratchet');
      assert.equal(ratchets.length, 1, 'said once');
      const f = ratchets[0]!;
      // Four looks in a row, each higher: the fourth look (after the third thread) says it.
      assert.equal(findings.indexOf(f) > findings.indexOf(newArenas[2]!), true);
      assert.equal(f.basis, 'shape');
      assert.match(f.summary, /^glibc arena RSS grew \d+(\.\d)? (KiB|MiB) → \d+(\.\d)? (KiB|MiB) over 4 samples while the Go heap's stayed /);
      assert.match(f.summary, /Try MALLOC_ARENA_MAX=2 \(or GLIBC_TUNABLES=glibc\.malloc\.arena_max=2\), or a lower M_TRIM_THRESHOLD/);
      // Each look after a thread: its 4 MiB working set more, resident in its arena.
      assert.ok((f.details.to as bigint) - (f.details.from as bigint) >= 3n * 4n * MiB, `grew by 3 working sets: ${f.summary}`);
      assert.equal(findings.filter((x) => x.kind === 'go-heap-growth').length, 0);
    } finally {
      r.stop();
    }
  });

  test('under MALLOC_ARENA_MAX=2 the threads share arenas: the limit is said once, no ratchet', T, async () => {
    const r = await startRatchet({ MALLOC_ARENA_MAX: '2' });
    try {
      const w = new Watcher({ pids: [r.pid] });
      const findings: WatchFinding[] = [];
      const first = sampleOf(w, findings);
      let last = first;
      for (let i = 0; i < STEPS; i++) {
        await r.thread();
        last = sampleOf(w, findings);
      }
      assert.equal(last.arenas.length + 1, (await r.info()).arenas);
      assert.equal(last.arenas.length + 1, 2);
      const limit = findings.filter((f) => f.kind === 'arena-limit');
      assert.deepEqual(limit.map((f) => f.summary), ['2 glibc arenas: the limit (2, MALLOC_ARENA_MAX=2) is reached; new threads now share arenas']);
      assert.deepEqual(findings.filter((f) => f.kind === 'arena-ratchet'), []);
      // The one arena the limit allows is new only if it came after the first
      // look: a Go M's first C malloc (runtime/cgo's thread start) may make it
      // before or after, as the runtime schedules. No other arena is ever new.
      const appeared = last.arenas.filter((a) => !first.arenas.some((b) => b.base === a.base)).map((a) => a.base);
      assert.ok(appeared.length <= 1, `${appeared.length} arenas appeared under MALLOC_ARENA_MAX=2`);
      assert.deepEqual(findings.filter((f) => f.kind === 'new-arena').map((f) => f.details.base), appeared);
    } finally {
      r.stop();
    }
  });

  test("the arena limit comes from GLIBC_TUNABLES' glibc.malloc.arena_max too", T, async () => {
    const r = await startRatchet({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=3' });
    try {
      const w = new Watcher({ pids: [r.pid] });
      const findings: WatchFinding[] = [];
      let last = sampleOf(w, findings);
      for (let i = 0; i < 3; i++) {
        await r.thread();
        last = sampleOf(w, findings);
      }
      assert.equal(last.arenas.length + 1, (await r.info()).arenas);
      assert.equal(last.arenas.length + 1, 3);
      assert.deepEqual(findings.filter((f) => f.kind === 'arena-limit').map((f) => f.details.limit), [3]);
      assert.match(findings.find((f) => f.kind === 'arena-limit')!.summary, /\(3, GLIBC_TUNABLES=glibc\.malloc\.arena_max=3\) is reached/);
    } finally {
      r.stop();
    }
  });

  test('a process that exits between two looks is said once and dropped; an unreadable one is a line, not a crash', T, async () => {
    const r = await startRatchet();
    const w = new Watcher({ pids: [r.pid, 1 << 22] });
    const one = w.round();
    assert.equal(one.samples.length, 1);
    assert.deepEqual(one.errors.map((e) => [e.pid, e.gone, e.error]), [[1 << 22, true, `process ${1 << 22} is gone`]]);
    r.stop();
    await new Promise<void>((resolve) => {
      const check = () => (fs.existsSync(`/proc/${r.pid}`) ? setTimeout(check, 20) : resolve());
      check();
    });
    const two = w.round();
    assert.deepEqual(two.errors.map((e) => [e.pid, e.gone]), [[r.pid, true]]);
    assert.equal(w.done, true);
    // Kernel threads have no address space: a per-process line.
    const kthread = new Watcher({ pids: [2] }).round();
    assert.deepEqual(kthread.errors.map((e) => [e.pid, e.gone, e.error]), [[2, false, 'process 2 has no address space (a kernel thread or a zombie)']]);
  });

  test('--all: every Go process is picked up as it starts and dropped when it goes', T, async () => {
    const w = new Watcher({ all: true });
    const a = await startRatchet();
    const b = await startRatchet();
    try {
      const seen = w.round().samples.map((s) => s.pid);
      assert.ok(seen.includes(a.pid) && seen.includes(b.pid), `both fixtures in ${seen.join(' ')}`);
      assert.ok(!seen.includes(process.pid), 'not liveprobe itself (not Go anyway)');
      // A C program is not Go: never watched.
      assert.equal(seen.includes(1), false);
      a.stop();
      await new Promise<void>((resolve) => {
        const check = () => (fs.existsSync(`/proc/${a.pid}`) ? setTimeout(check, 20) : resolve());
        check();
      });
      const after = w.round().samples.map((s) => s.pid);
      assert.ok(!after.includes(a.pid) && after.includes(b.pid));
      assert.equal(w.done, false, '--all never runs out of targets');
    } finally {
      a.stop();
      b.stop();
    }
  });

  test('the CLI: bad input is one line and exit 2; a gone pid ends the watch with exit 0', T, async () => {
    for (const [args, line] of [
      [['watch'], 'liveprobe: watch needs at least one pid, or --all; see liveprobe --help'],
      [['watch', '--interval', 'soon', '1'], "liveprobe: watch: --interval must be a duration such as 10s, 500ms or 1m, not 'soon'; see liveprobe --help"],
      [['watch', '--all', '1'], 'liveprobe: watch: give pids or --all, not both; see liveprobe --help'],
      [['watch', '--listen', 'nowhere', '1'], "liveprobe: watch: --listen takes host:port (e.g. 127.0.0.1:9464), not 'nowhere'; see liveprobe --help"],
    ] as const) {
      const res = await runCli([...args]);
      assert.deepEqual([res.code, res.stderr], [2, line + '\n']);
    }
    const gone = await runCli(['watch', '--interval', '100ms', String(1 << 22)]);
    assert.deepEqual([gone.code, gone.stderr], [0, `liveprobe: process ${1 << 22} is gone\n`]);
  });

  test('Prometheus scrapes liveprobe watch --listen: arenas, pthread stacks and threads equal the program\'s own counts', T, async () => {
    const r = await startRatchet();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-prom-'));
    const [ours, theirs] = [await freePort(), await freePort()];
    const watch = spawn(process.execPath, [cliPath(), 'watch', '--interval', '200ms', '--listen', `127.0.0.1:${ours}`, String(r.pid)], { stdio: 'ignore' });
    fs.writeFileSync(path.join(tmp, 'prometheus.yml'), [
      'global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: liveprobe', '    static_configs:',
      `      - targets: ['127.0.0.1:${ours}']`, '',
    ].join('\n'));
    const prom = spawn('prometheus', [
      `--config.file=${path.join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${theirs}`,
    ], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 3; i++) await r.thread();
      const info = await r.info();
      const threads = tasks(r.pid);
      const want = new Map([
        [`liveprobe_glibc_arenas{pid="${r.pid}"}`, info.arenas],
        [`liveprobe_class_bytes{pid="${r.pid}",class="pthread-stack"}`, (threads - 1) * 8 * 2 ** 20],
        [`liveprobe_threads{pid="${r.pid}",kind="cgo-thread"}`, threads - 1],
        [`liveprobe_glibc_arena_limit{pid="${r.pid}"}`, 8 * os.availableParallelism()],
      ]);
      for (const [query, value] of want) {
        // Until Prometheus has scraped a look taken after the last thread: the state no longer changes.
        const got = await untilValue(() => promQuery(theirs, query), (v) => v === value, `Prometheus to scrape ${query} = ${value}`, 60_000, 250);
        assert.equal(got, value, query);
      }
      // Labels a fleet needs.
      const labels = await promLabels(theirs, `liveprobe_vmsize_bytes{pid="${r.pid}"}`);
      assert.deepEqual([labels.exe, labels.cgo, labels.libc, /^go1\.\d+/.test(labels.go_version ?? '')], [await fixture('ratchet'), 'true', 'glibc', true]);
    } finally {
      prom.kill('SIGKILL');
      watch.kill('SIGKILL');
      r.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function promResult(port: number, query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`);
    const body = (await res.json()) as { status: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data?.result ?? [];
  } catch {
    return []; // Prometheus not up yet
  }
}

async function promQuery(port: number, query: string): Promise<number | undefined> {
  const r = await promResult(port, query);
  return r.length === 1 ? Number(r[0]!.value[1]) : undefined;
}

async function promLabels(port: number, query: string): Promise<Record<string, string>> {
  const r = await untilValue(() => promResult(port, query), (x) => x.length === 1, `one series for ${query} in Prometheus`, 60_000, 250);
  return r[0]?.metric ?? {};
}


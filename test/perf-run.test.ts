// Issue 18: `run --engine perf` (native/src/perf_engine.cc runSession;
// docs/perf-engine.md, "run --engine perf"). The child is held before its
// execve while the events are opened, stops once at the exec for the
// snapshot, and then runs with no stop at all: the same findings as `run`
// with ptrace, its exact exit status, a model equal to /proc/PID/maps at
// rest, and the same one-line errors.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { lostIn } from '../bench/tracers';
import { run } from '../lib';
import type { TraceEvent } from '../lib/events';
import type { Session } from '../lib/session';
import { fixture } from './helpers/fixtures';
import { explain, owning } from './helpers/model';
import { assertContiguousSeqs, findingForms, verifyAtRest } from './helpers/perf';
import { LineReader } from './helpers/ready';
import { killStrayTracees } from './helpers/reliability';

afterEach(() => {
  killStrayTracees();
});

const T = { timeout: 120_000 };
const PTHREAD_STACK_MMAP = 'mmap(NULL, 8392704, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0) = 0x';
const cli = path.join(__dirname, '..', 'bin', 'liveprobe.js');
// Without LD_PRELOAD: the sanitizer run (.ci/run) preloads ASan into Node,
// and in the target it would replace glibc's malloc and pthread stacks.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'LD_PRELOAD'));

async function whole(session: Session): Promise<TraceEvent[]> {
  const events: TraceEvent[] = [];
  await owning(session, async () => {
    for await (const ev of session) events.push(ev);
  });
  return events;
}

function liveprobe(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

describe('run --engine perf', () => {
  test('ex7: the same findings as run with ptrace, its pthread stacks exactly; the exec is the one stop, then exec, snapshot and started', T, async () => {
    const ex7 = await fixture('ex7');
    const perf = run(ex7, ['-sleep', '300ms'], { engine: 'perf', env, stdio: ['ignore', 'ignore', 'inherit'] });
    const events = await whole(perf);
    assert.equal(perf.engine, 'perf');
    assert.deepEqual(await perf.exited, { code: 0, signal: null, detached: false });
    assert.deepEqual([perf.stats.stops, perf.stats.lost], [1, 0], 'one stop (the exec), nothing lost');
    assert.deepEqual(events.slice(0, 3).map((e) => e.type), ['exec', 'snapshot', 'started']);
    const exec = events[0]!;
    assert.ok(exec.type === 'exec' && exec.path === ex7 && exec.pid === perf.pid);
    const snapshot = events[1]!;
    assert.ok(snapshot.type === 'snapshot' && snapshot.maps.includes(ex7), 'the new image, taken at the exec stop');
    assertContiguousSeqs(events);
    // glibc's pthread_create: an 8 MiB + 4 KiB MAP_STACK mmap per clone3, each a cgo-thread.
    const clones = events.filter((e) => e.type === 'syscall' && e.name === 'clone3' && e.ret !== null && e.ret > 0n);
    assert.ok(clones.length >= 4, `${clones.length} clone3`);
    assert.equal(events.filter((e) => e.type === 'syscall' && e.text.startsWith(PTHREAD_STACK_MMAP)).length, clones.length);
    assert.equal(perf.findings.filter((f) => f.kind === 'cgo-thread').length, clones.length);

    const ptrace = run(ex7, ['-sleep', '300ms'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const traced = await whole(ptrace);
    assert.equal(ptrace.engine, 'ptrace');
    assert.deepEqual([...new Set(findingForms(events))].sort(), [...new Set(findingForms(traced))].sort());
  });

  test('exit statuses as exact as ptrace gives them: a code, a death by signal', T, async () => {
    const exitwith = await fixture('exitwith');
    for (const engine of ['perf', 'ptrace'] as const) {
      const code = run(exitwith, ['code', '3'], { engine, env, stdio: 'ignore' });
      await whole(code);
      assert.deepEqual(await code.exited, { code: 3, signal: null, detached: false }, engine);
      const killed = run(exitwith, ['signal', '9'], { engine, env, stdio: 'ignore' });
      const events = await whole(killed);
      assert.deepEqual(await killed.exited, { code: null, signal: 'SIGKILL', detached: false }, engine);
      assert.ok(events.some((e) => e.type === 'exit' && e.signal === 'SIGKILL'), engine);
    }
  });

  test('a detach: the target runs on untraced, and its exit code is still reported, as with ptrace', T, async () => {
    const exitwith = await fixture('exitwith');
    // After a detach the session does not keep Node alive (lib/session.ts): this test does, to see the exit.
    const keep = setInterval(() => undefined, 1000);
    try {
      for (const engine of ['perf', 'ptrace'] as const) {
        const s = run(exitwith, ['code', '5', '-sleep-ms', '1500'], { engine, env, stdio: 'ignore' });
        const types: string[] = [];
        const done = (async () => {
          for await (const ev of s) types.push(ev.type);
        })();
        await s.ready;
        await s.detach();
        await done;
        assert.deepEqual(await s.exited, { code: 5, signal: null, detached: false }, engine);
        assert.equal(types.at(-1), 'detached', engine);
      }
    } finally {
      clearInterval(keep);
    }
  });

  test('ex7 -ready: the model equals /proc/PID/maps at rest, and the target runs on to its end', T, async () => {
    const session = run(await fixture('ex7'), ['-ready', '-flush'], { engine: 'perf', env, stdio: ['ignore', 'pipe', 'inherit'] });
    await owning(session, async () => {
      const lines = new LineReader(session.stdout!);
      const pid = await session.ready;
      const done = (async () => {
        for await (const _ of session) void _;
      })();
      await lines.next(/^ready$/);
      const r = await verifyAtRest(session, pid);
      assert.ok(r.equal, explain(r));
      process.kill(pid, 'SIGUSR1');
      await lines.next(/^Hello from stdio$/);
      assert.equal((await session.exited).code, 0);
      await done;
    });
  });

  test('an execve that fails: the same one-line error and exit as with ptrace', T, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-noexec-'));
    try {
      const bad = path.join(dir, 'not-a-program');
      fs.writeFileSync(bad, '\x7fELF but not really\n', { mode: 0o755 });
      const perf = await liveprobe(['run', '--engine', 'perf', '--', bad]);
      const ptrace = await liveprobe(['run', '--', bad]);
      assert.equal(perf.stderr.split('\n').filter(Boolean).length, 1, perf.stderr);
      assert.match(perf.stderr, /exec format error|ENOEXEC/i);
      assert.deepEqual([perf.code, perf.stderr], [ptrace.code, ptrace.stderr]);
      assert.notEqual(perf.code, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a loss in the CLI's words: a resync line per re-read, then one closing line with the count, as the benches read it; exit 0", T, async (ctx) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-loss-'));
    const target: number[] = [];
    try {
      const out = path.join(dir, 'trace.txt');
      // A one-page ring and a brk loop: records are lost every time (test/fixtures/brkloop.c).
      // The CLI keeps this process's environment (under the sanitizer run, Node
      // needs its LD_PRELOAD); the target execs through env without it.
      const cliRun = spawn(process.execPath, [
        cli, 'run', '--engine', 'perf', '--perf-pages', '1', '--no-summary', '-o', out, '--', 'env', '-u', 'LD_PRELOAD', await fixture('brkloop'), '200000',
      ], { stdio: ['ignore', 'pipe', 'inherit'] });
      // brkloop waits for SIGUSR1 and the CLI for brkloop: neither may outlive a failure.
      ctx.after(() => {
        for (const pid of [...target, cliRun.pid!]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      });
      const exited = new Promise<number | null>((r) => cliRun.on('close', r));
      await new LineReader(cliRun.stdout!).next(/^done$/);
      // The engine's thread launched it: the target is a child of one of the CLI's tasks.
      for (const t of fs.readdirSync(`/proc/${cliRun.pid}/task`)) {
        try {
          target.push(...fs.readFileSync(`/proc/${cliRun.pid}/task/${t}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number));
        } catch {
          // a thread that ended since the listing
        }
      }
      assert.equal(target.length, 1, 'one child');
      process.kill(target[0]!, 'SIGUSR1');
      assert.equal(await exited, 0);
      const text = fs.readFileSync(out, 'utf8');
      const resyncs = [...text.matchAll(/^(?:\[pid +\d+\] )?\+\+\+ resync after (\d+) lost records: model re-read from \/proc\/(\d+)\/maps, \d+ ranges? differed \+\+\+$/gm)];
      assert.ok(resyncs.length >= 1, 'a resync line');
      assert.ok(resyncs.every((m) => Number(m[2]) === target[0]), 'of the target');
      const closing = text.split('\n').filter((l) => l.startsWith('liveprobe: '));
      assert.equal(closing.length, 1, closing.join('\n'));
      const m = /^liveprobe: (\d+) records? lost \(the kernel's ring buffer was full\); the model was re-read from \/proc (\d+) times?$/.exec(closing[0]!);
      assert.ok(m, closing[0]);
      assert.equal(Number(m[2]), resyncs.length, 'one resync line per re-read');
      assert.ok(Number(m[1]) >= resyncs.reduce((n, r) => n + Number(r[1]), 0), 'the count covers every resync');
      assert.equal(lostIn(out), Number(m[1]), "bench/tracers.ts lostIn reads the same count");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('what only ptrace can do is a one-line usage error: -f; --perf-pages without the perf engine', T, async () => {
    const f = await liveprobe(['run', '--engine', 'perf', '-f', '--', '/bin/true']);
    assert.deepEqual([f.code, f.stderr], [1, 'liveprobe: cannot run with the perf engine: -f (follow forks) needs ptrace; or use --engine ptrace\n']);
    const pages = await liveprobe(['run', '--perf-pages', '8', '--', '/bin/true']);
    assert.equal(pages.stderr.split('\n')[0], 'liveprobe: --perf-pages applies to the perf engine: attach, or run --engine perf; see liveprobe --help');
    assert.equal(pages.code, 2);
    const ok = await liveprobe(['run', '--engine', 'perf', '--perf-pages', '8', '--no-summary', '--', '/bin/true']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /^\[pid +\d+\] execve\(0x[0-9a-f]+, 0x[0-9a-f]+, 0x[0-9a-f]+\) = 0$/m, 'the path and arrays, never read, as pointers');
  });
});

// Issue 8, item 5: --follow-forks on a Go program that starts children with
// os/exec. Go starts them with a vfork-style clone (CLONE_VFORK|CLONE_VM): the
// parent thread waits in the kernel until the child execs, so a tracer that
// releases the parent before the child, or keeps the child stopped, deadlocks
// the parent (strace#277). Detach must never hang there.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import { attach, run } from '../lib';
import type { ExecEvent, ExitEvent, SnapshotEvent, ThreadStartEvent, TraceEvent } from '../lib/events';
import { fixture } from './helpers/fixtures';
import { consume, killStrayTracees, prng, startLive, taskStates, until, untraced, watched } from './helpers/reliability';
import { assertContiguous, collect, readAll, runCli, sleep } from './helpers/trace';

// A failed test must not leave a tracee stopped (and this file's process waiting).
afterEach(() => {
  killStrayTracees();
});

const T = { timeout: 40_000 };

/** Every process below pid (children, grandchildren), from /proc/PID/task/TID/children. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let tids: string[] = [];
    try {
      tids = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let kids = '';
      try {
        kids = fs.readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.trim().split(' ').filter(Boolean)) {
        out.push(Number(k));
        visit(Number(k));
      }
    }
  };
  visit(pid);
  return out;
}

describe('--follow-forks with os/exec children', () => {
  test('run -f: every child is traced: its vfork start, its exec, its own snapshot and its exit code', T, async () => {
    const spawner = await fixture('spawner');
    const session = run(spawner, ['-n', '6', '-par', '2'], { followForks: true, stdio: ['ignore', 'pipe', 'inherit'] });
    const [events, out] = await watched(Promise.all([collect(session), readAll(session.stdout)]), 'run -f spawner');
    assert.equal(out, 'spawner: ran 6\n');
    assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
    const pid = session.pid!;
    const vforked = events.filter((e): e is ThreadStartEvent => e.type === 'thread-start' && e.how === 'vfork');
    const children = vforked.filter((c) => events.some((e) => e.type === 'exec' && e.pid === c.pid));
    assert.equal(children.length, 6);
    // Go ≥ 1.23's os package probes pidfd support once with a vfork child that
    // exits at once; it is traced as well, and exits 0.
    const probes = vforked.filter((c) => !children.includes(c));
    assert.ok(probes.length <= 1);
    for (const p of probes) assert.ok(events.some((e) => e.type === 'exit' && e.pid === p.pid && e.code === 0));
    for (const c of children) {
      // Go's os/exec: clone(CLONE_VFORK|CLONE_VM|SIGCHLD), reported as a vfork.
      assert.deepEqual([c.how, c.followed, c.tid], ['vfork', true, c.pid]);
      const exec = events.find((e): e is ExecEvent => e.type === 'exec' && e.pid === c.pid);
      assert.ok(exec, `child ${c.pid} exec`);
      assert.equal(exec.path, spawner);
      const snap = events.find((e): e is SnapshotEvent => e.type === 'snapshot' && e.pid === c.pid);
      assert.ok(snap && snap.seq > exec.seq && snap.maps.includes(spawner), `child ${c.pid}: its own maps after its exec`);
      const execve = events.find((e) => e.type === 'syscall' && e.name === 'execve' && e.pid === c.pid);
      assert.ok(execve && execve.type === 'syscall');
      const k = Number(execve.argv![2]);
      assert.deepEqual(execve.argv, [spawner, 'child', String(k)]);
      const exit = events.find((e): e is ExitEvent => e.type === 'exit' && e.pid === c.pid);
      assert.ok(exit, `child ${c.pid} exit`);
      assert.deepEqual([exit.code, exit.signal], [k % 4, null]);
    }
    assert.deepEqual(
      children.map((c) => Number((events.find((e) => e.type === 'syscall' && e.name === 'execve' && e.pid === c.pid) as { argv: string[] }).argv[2])).sort(),
      [0, 1, 2, 3, 4, 5],
    );
    // A model per process: the spawner's and each child's, seeded from its
    // own snapshot, marked exited.
    for (const p of [pid, ...children.map((c) => c.pid)]) {
      const model = session.models.get(p);
      assert.ok(model, `a model for ${p}`);
      assert.deepEqual([model.pid, model.seeded, model.exited], [p, true, true]);
    }
    assert.equal(events.at(-1)!.type, 'exit');
    assert.equal(events.at(-1)!.pid, pid);
    assertContiguous(events);
  });

  test('the CLI: liveprobe run -f traces the children, exit code 0', T, async () => {
    const spawner = await fixture('spawner');
    const r = await runCli(['run', '-f', '--json', spawner, '-n', '3'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr.slice(-500));
    assert.equal(r.stdout, 'spawner: ran 3\n');
    const lines = r.stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as TraceEvent);
    const execs = lines.filter((e) => e.type === 'exec');
    assert.equal(execs.length, 4, 'the spawner and its three children');
    assert.equal(new Set(execs.map((e) => e.pid)).size, 4);
  });

  test('attach -f: 20 detaches while children are being started (vfork) never hang; the children all exit right', T, async () => {
    const spawner = await fixture('spawner');
    const target = await startLive(spawner, ['-until-usr1', '-par', '3']);
    const rand = prng(5);
    let vforks = 0;
    let heldMidVfork = 0;
    for (let i = 0; i < 20; i++) {
      const session = attach(target.pid, { followForks: true });
      const done = consume(session);
      await watched(session.ready, `attach ${i}`);
      await sleep(Math.floor(rand() * 60));
      // A vfork parent in the kernel's vfork wait right now.
      if (taskStates(target.pid).size && descendants(target.pid).length > 0) heldMidVfork++;
      await watched(session.detach(), `detach ${i} (children being started)`);
      const events = await watched(done, `session ${i}`);
      assert.equal(events.at(-1)!.type, 'detached');
      vforks += events.filter((e) => e.type === 'thread-start' && e.how === 'vfork').length;
      assert.ok(untraced(target.pid), `cycle ${i}: the spawner is untraced`);
      for (const child of descendants(target.pid)) {
        try {
          assert.ok(untraced(child), `cycle ${i}: child ${child} untraced`);
        } catch (err) {
          if (fs.existsSync(`/proc/${child}`)) throw err;
        }
      }
    }
    // Every child exited with its expected code, and the spawner ends when asked.
    await target.waitFor(/^spawner: running\n/);
    process.kill(target.pid, 'SIGUSR1');
    assert.equal(await watched(target.exited, 'the spawner after 20 detaches'), 0);
    await target.waitFor(/^spawner: running\nspawner: ran \d+\n$/);
    assert.ok(vforks >= 20, `children were started while traced: ${vforks}`);
    assert.ok(heldMidVfork >= 5, `detaches with a child in flight: ${heldMidVfork}`);
  });

  test('run -f: detach while children are being started, with a seccomp filter (keeps serving) and without (real detach)', T, async () => {
    const spawner = await fixture('spawner');
    for (const trace of [undefined, 'all']) {
      const session = run(spawner, ['-until-usr1', '-par', '3'], { followForks: true, trace, stdio: ['ignore', 'pipe', 'inherit'] });
      const out = readAll(session.stdout);
      let childStarted!: () => void;
      const child = new Promise<void>((r) => (childStarted = r));
      const done = consume(session, (e) => {
        if (e.type === 'thread-start' && e.how !== 'clone') childStarted();
      });
      await session.ready;
      // Detach once children are being started: the first one has been reported.
      await watched(child, 'a child of the spawner');
      await watched(session.detach(), `detach (trace=${trace ?? 'default'})`);
      const events = await watched(done, `session (trace=${trace ?? 'default'})`);
      assert.equal(events.at(-1)!.type, 'detached');
      // A child has started, so the spawner awaits its SIGUSR1 (it says so before its first child).
      process.kill(session.pid!, 'SIGUSR1');
      assert.deepEqual(await watched(session.exited, 'the target'), { code: 0, signal: null, detached: false });
      assert.match(await out, /^spawner: running\nspawner: ran \d+\n$/);
    }
  });
});

test('attach -f, the spawner SIGKILLed with children in flight (10 times): no hang, its exit reported, no child left stopped', T, async () => {
  // A child whose parent dies before reporting the clone event (a SIGKILL
  // skips that stop) would otherwise be held for the event forever.
  const spawner = await fixture('spawner');
  const rand = prng(9);
  for (let i = 0; i < 10; i++) {
    const target = await startLive(spawner, ['-until-usr1', '-par', '6']);
    const session = attach(target.pid, { followForks: true });
    const done = consume(session);
    await session.ready;
    await until(() => descendants(target.pid).length > 0, 'a child in flight');
    await sleep(Math.floor(rand() * 20));
    target.kill('SIGKILL');
    const events = await watched(done, `the session after SIGKILL ${i}`);
    const exit = events.find((e): e is ExitEvent => e.type === 'exit' && e.pid === target.pid);
    assert.ok(exit);
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(await target.exited, 137);
    assert.deepEqual(killStrayTracees(), [], 'no process is left traced (and stopped) by this session');
  }
});

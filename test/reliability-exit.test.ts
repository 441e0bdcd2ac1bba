// Issue 8, item 4: the awkward exits. exec from a non-leader thread, a
// zombie leader, threads that exit while liveprobe detaches, a process that
// exits while liveprobe attaches. Each test has a deadline: a hang fails.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { LiveprobeError, attach, run } from '../lib';
import type { ExecEvent, TraceEvent } from '../lib/events';
import { fixture } from './helpers/fixtures';
import { consume, killStrayTracees, prng, startLive, statusField, taskState, taskStates, until, untraced, watched } from './helpers/reliability';
import { assertContiguous, collect, readAll, sleep } from './helpers/trace';

// A failed test must not leave a tracee stopped (and this file's process waiting).
afterEach(() => {
  killStrayTracees();
});

const T = { timeout: 30_000 };

function execEvents(events: TraceEvent[]): ExecEvent[] {
  return events.filter((e): e is ExecEvent => e.type === 'exec');
}

describe('exec from a non-leader thread', () => {
  for (const trace of [undefined, 'all']) {
    test(`run${trace ? ' -e trace=all' : ''}: the thread takes the leader's tid; the new image exits 7`, T, async () => {
      const lifecycle = await fixture('lifecycle');
      const session = run(lifecycle, ['exec-from-thread', '50'], { stdio: ['ignore', 'pipe', 'inherit'], trace });
      const [events, out] = await watched(Promise.all([collect(session), readAll(session.stdout)]), 'run exec-from-thread');
      const pid = session.pid!;
      assert.deepEqual(await session.exited, { code: 7, signal: null, detached: false });
      const thread = Number(/exec from tid=(\d+)/.exec(out)![1]);
      assert.notEqual(thread, pid);
      assert.match(out, new RegExp(`after-exec pid=${pid} tid=${pid}\n`));
      // The first exec is ours (the launch), the second the thread's.
      const execs = execEvents(events);
      assert.equal(execs.length, 2);
      assert.deepEqual(
        { tid: execs[1]!.tid, pid: execs[1]!.pid, formerTid: execs[1]!.formerTid, path: execs[1]!.path },
        { tid: pid, pid, formerTid: thread, path: lifecycle },
      );
      const starts = events.filter((e) => e.type === 'thread-start').map((e) => e.tid);
      assert.ok(starts.includes(thread), 'the exec-ing thread was seen starting');
      // The execve returned 0 in the new image, reported under the leader's tid.
      const execve = events.filter((e) => e.type === 'syscall' && e.name === 'execve').at(-1);
      assert.ok(execve && execve.type === 'syscall');
      assert.equal(execve.tid, pid);
      assert.equal(execve.ret, 0n);
      assert.deepEqual(execve.argv, [lifecycle, 'after-exec', '7']);
      assert.equal(events.at(-1)!.type, 'exit');
      assertContiguous(events);
    });
  }

  test('attach: seen while attached, then the new image exits 7 under trace', T, async () => {
    const lifecycle = await fixture('lifecycle');
    // The thread execs on SIGUSR1, sent once the attach is complete.
    const target = await startLive(lifecycle, ['exec-from-thread', '-1']);
    await target.waitFor(/leader tid=\d+ waits\n/);
    const session = attach(target.pid);
    const collecting = collect(session);
    await watched(session.ready, 'attach');
    process.kill(target.pid, 'SIGUSR1');
    const events = await watched(collecting, 'attach until the exec-ed image exits');
    assert.deepEqual(await session.exited, { code: 7, signal: null, detached: false });
    assert.equal(await target.exited, 7);
    const thread = Number(/exec from tid=(\d+)/.exec(target.output())![1]);
    const execs = execEvents(events);
    assert.equal(execs.length, 1);
    assert.deepEqual([execs[0]!.tid, execs[0]!.formerTid], [target.pid, thread]);
    assert.equal(events.at(-1)!.type, 'exit');
    assertContiguous(events);
  });

  test('attach: detach right after the exec leaves the new image running to exit 7', T, async () => {
    const lifecycle = await fixture('lifecycle');
    // The thread execs on a SIGUSR1 once attached; the new image exits on the next, after the detach.
    const target = await startLive(lifecycle, ['exec-from-thread', '-1', 'hold']);
    await target.waitFor(/leader tid=\d+ waits\n/);
    const session = attach(target.pid);
    const consuming = consume(session, async (ev) => {
      if (ev.type === 'exec') await session.detach();
    });
    await watched(session.ready, 'attach');
    process.kill(target.pid, 'SIGUSR1');
    const events = await watched(consuming, 'detach after a non-leader exec');
    assert.equal(events.at(-1)!.type, 'detached');
    await target.waitFor(/after-exec pid=\d+ tid=\d+\n/);
    assert.ok(untraced(target.pid), 'the new image runs untraced');
    process.kill(target.pid, 'SIGUSR1');
    assert.equal(await watched(target.exited, 'the target after detach'), 7);
  });
});

describe('zombie leader (the leader exits before its threads)', () => {
  test('run: the process exit comes last, with the code thread 0 chose', T, async () => {
    const lifecycle = await fixture('lifecycle');
    const session = run(lifecycle, ['zombie-leader', '3', '0', '200', '5'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [events, out] = await watched(Promise.all([collect(session), readAll(session.stdout)]), 'run zombie-leader');
    const pid = session.pid!;
    assert.equal(out, 'threads started\nleader exits\nthread 0 exits the process with 5\n');
    assert.deepEqual(await session.exited, { code: 5, signal: null, detached: false });
    const leaderExit = events.find((e) => e.type === 'syscall' && e.name === 'exit' && e.tid === pid);
    assert.ok(leaderExit, 'the leader called exit(0) alone');
    const exits = events.filter((e) => e.type === 'thread-exit');
    assert.equal(exits.length, 4);
    assert.equal(exits.at(-1)!.tid, pid, "the leader's exit is reported after its threads'");
    assert.equal(events.at(-1)!.type, 'exit');
    assertContiguous(events);
  });

  test('attach to a process whose leader is already a zombie: its threads are traced, the exit is reported', T, async () => {
    const lifecycle = await fixture('lifecycle');
    const target = await startLive(lifecycle, ['zombie-leader', '3', '0', '700', '5']);
    await target.waitFor(/leader exits\n/);
    await until(() => taskState(target.pid) === 'Z', 'the leader to be a zombie');
    const session = attach(target.pid);
    const events = await watched(collect(session), 'attach to a zombie leader');
    const started = events.find((e) => e.type === 'started');
    assert.ok(started && started.type === 'started');
    assert.equal(started.tasks, 3, 'the three live threads, not the zombie');
    assert.deepEqual(await session.exited, { code: 5, signal: null, detached: false });
    assert.equal(events.at(-1)!.type, 'exit');
    assert.equal(await target.exited, 5);
    assertContiguous(events);
  });

  test('attach, the leader exits while traced, detach with the leader a zombie: the threads run on', T, async () => {
    const lifecycle = await fixture('lifecycle');
    // The leader leaves after 300 ms, thread 0 ends the process after 1.5 s.
    const target = await startLive(lifecycle, ['zombie-leader', '3', '300', '1500', '5']);
    await target.waitFor(/threads started\n/);
    const session = attach(target.pid);
    const done = consume(session);
    await session.ready;
    await target.waitFor(/leader exits\n/);
    await until(() => taskState(target.pid) === 'Z', 'the leader to be a zombie');
    await watched(session.detach(), 'detach with a zombie leader');
    const events = await done;
    assert.equal(events.at(-1)!.type, 'detached');
    await until(() => untraced(target.pid), 'every task to be untraced', 2_000);
    assert.equal(await watched(target.exited, 'the target'), 5);
  });
});

describe('threads come and go while liveprobe attaches and detaches', () => {
  test('20 attach/detach cycles on a process that starts and ends a thread every few hundred µs', T, async () => {
    const lifecycle = await fixture('lifecycle');
    const target = await startLive(lifecycle, ['churn', '60000']);
    const rand = prng(8);
    let starts = 0;
    try {
      for (let i = 0; i < 20; i++) {
        const session = attach(target.pid);
        const done = consume(session);
        await watched(session.ready, `attach ${i}`);
        await sleep(Math.floor(rand() * 40));
        await watched(session.detach(), `detach ${i}`);
        const events = await watched(done, `session ${i} end`);
        assert.equal(events.at(-1)!.type, 'detached');
        starts += events.filter((e) => e.type === 'thread-start' && e.how === 'clone').length;
        await until(() => untraced(target.pid), `cycle ${i}: every task untraced`, 10_000);
        for (const [tid, state] of taskStates(target.pid)) assert.ok(!/[tT]/.test(state), `task ${tid} left in state ${state}`);
      }
      assert.ok(starts > 20, `threads were born while traced (${starts})`);
      // Still making threads: it never got stuck.
      const before = statusField(target.pid, 'voluntary_ctxt_switches');
      await until(() => statusField(target.pid, 'voluntary_ctxt_switches') > before, 'the target to run on', 10_000);
    } finally {
      target.kill('SIGTERM');
    }
    assert.equal(await target.exited, 143);
  });
});

describe('a process that exits while liveprobe attaches', () => {
  test('20 races between attach and exit_group of a 41-thread process: an ESRCH or a reported exit, never a hang', T, async (t) => {
    const lifecycle = await fixture('lifecycle');
    const rand = prng(4);
    const outcomes = { esrch: 0, exitBeforeReady: 0, exitAfterReady: 0 };
    for (let i = 0; i < 20; i++) {
      // Odd runs exit a random 5-35 ms after the SIGUSR1 sent just before the
      // attach; even ones the moment the leader is seized, i.e. while the other
      // threads are being seized and stopped.
      const args = i % 2 ? ['exit-soon', '40', String(5 + Math.floor(rand() * 30)), '9'] : ['exit-on-attach', '40', '9'];
      const target = await startLive(lifecycle, args);
      await target.waitFor(/started 40\n/);
      // engine 'ptrace': the perf engine may report such an exit with status 0
      // (its exit_group record can precede the snapshot's moment; a known gap,
      // docs/perf-engine.md "What differs from ptrace"; seen under ASan in CI).
      if (i % 2) target.kill('SIGUSR1');
      const session = attach(target.pid, { engine: 'ptrace' });
      let ready = false;
      let notReady: unknown;
      session.ready.then(() => (ready = true), (err: unknown) => (notReady = err));
      let events: TraceEvent[] = [];
      try {
        events = await watched(collect(session), `attach race ${i}`);
      } catch (err) {
        if (!(err instanceof LiveprobeError)) throw err;
        assert.equal(err.code, 'ESRCH', `race ${i}: ${err.message}`);
        outcomes.esrch++;
      }
      if (events.length) {
        assert.equal(events.at(-1)!.type, 'exit', `race ${i} ends with the exit`);
        assert.deepEqual(await session.exited, { code: 9, signal: null, detached: false });
        if (ready) {
          outcomes.exitAfterReady++;
        } else {
          outcomes.exitBeforeReady++;
          // ready says what happened.
          assert.ok(notReady instanceof LiveprobeError);
          assert.equal(notReady.code, 'ESRCH');
          assert.equal(notReady.message, `process ${target.pid} exited while liveprobe was attaching`);
        }
        assertContiguous(events);
      }
      assert.equal(await watched(target.exited, `target ${i}`), 9, 'the exit code reached the real parent');
    }
    t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
    assert.equal(outcomes.esrch + outcomes.exitBeforeReady + outcomes.exitAfterReady, 20);
    // Both sides of the race were run, not 20 of one: an exit in the middle of
    // the attach (exit-on-attach) and one after it (exit-soon). ESRCH, the exit
    // landing before the leader is seized, is allowed but rare (0 in runs here).
    assert.ok(outcomes.exitBeforeReady > 0 && outcomes.exitAfterReady > 0, JSON.stringify(outcomes));
  });

  test('a thread in vfork (no ptrace stop reaches it) does not hold the others stopped: attach completes, the exit is reported', T, async () => {
    const lifecycle = await fixture('lifecycle');
    for (let i = 0; i < 3; i++) {
      // The vfork child sleeps 10 s; the leader exits the process after 3 s.
      const target = await startLive(lifecycle, ['exit-in-vfork', '3000', '6']);
      await target.waitFor(/vforking\n/);
      await until(() => taskStates(target.pid).size === 2 && [...taskStates(target.pid).values()].includes('D'), 'the vfork wait');
      const session = attach(target.pid);
      const collecting = collect(session);
      await watched(session.ready, 'attach next to a thread in vfork');
      // Ready while the vfork still waits (and so the process still lives):
      // the attach did not hold the world until the vfork ended.
      assert.ok([...taskStates(target.pid).values()].includes('D'), 'the world was not held waiting for the vfork');
      const events = await watched(collecting, `session ${i}`);
      assert.deepEqual(await session.exited, { code: 6, signal: null, detached: false });
      const started = events.find((e) => e.type === 'started');
      assert.ok(started && started.type === 'started' && started.tasks === 2);
      assert.equal(events.at(-1)!.type, 'exit');
      assertContiguous(events);
      assert.equal(await watched(target.exited, 'the target'), 6);
    }
  });

  for (const mode of ['attach', 'run -e trace=all'] as const) {
    test(`${mode}: detach with a thread in vfork returns while it still waits; that thread runs on when its child exits; exit 6`, T, async () => {
      const lifecycle = await fixture('lifecycle');
      // The vfork child exits after 2 s, the leader exits the process after 4 s.
      const args = ['exit-in-vfork', '4000', '6', '2000'];
      let pid: number;
      let exited: Promise<number | null>;
      let session;
      if (mode === 'attach') {
        const target = await startLive(lifecycle, args);
        await target.waitFor(/vforking\n/);
        pid = target.pid;
        exited = target.exited;
        session = attach(pid);
      } else {
        session = run(lifecycle, args, { trace: 'all', stdio: ['ignore', 'ignore', 'inherit'] });
        exited = session.exited.then((e) => e.code);
      }
      const done = consume(session);
      pid = await session.ready;
      await until(() => [...taskStates(pid).values()].includes('D'), 'the vfork wait');
      await watched(session.detach(), 'detach next to a thread in vfork');
      // Detached while the vfork still waits: the detach did not wait for it.
      assert.ok([...taskStates(pid).values()].includes('D'), 'the vfork thread is still in the kernel');
      const events = await watched(done, 'the session');
      assert.equal(events.at(-1)!.type, 'detached');
      // When the vfork child exits, its parent thread leaves the kernel and
      // ends: it was released, not left stopped at our interrupt.
      await until(() => taskStates(pid).size === 1, 'the vfork thread to end', 10_000);
      // The leader's sleep may be restarted just then (seen once under ASan:
      // 'R' for a moment), but it must go back to sleep, not stay stopped.
      await until(() => taskStates(pid).get(pid) === 'S', 'the leader to sleep on, untraced', 10_000);
      assert.ok(untraced(pid));
      assert.equal(await watched(exited, 'the target'), 6);
    });
  }
});

// Attach to a process the test did not start, as users do: a daemon-like
// target, double-forked into its own session and orphaned (its parent is
// init), that has been running with threads and arenas of its own before the
// attach. What it did before is explained from shape, what it does while
// traced is proven, its signal is seen and passed on, and after the detach it
// runs on untraced. The fixture (test/fixtures/stranger.c) prints its tids and
// arena heaps and moves on only when signalled, so every check is exact.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attach } from '../lib';
import type { TraceEvent } from '../lib/events';
import type { Finding } from '../lib/detect/finding';
import { fixture } from './helpers/fixtures';
import { Quiescer, consume, vmSizeKb } from './helpers/model';
import { taskStates, untraced, until } from './helpers/reliability';
import { startStranger, statFields } from './helpers/stranger';
import { assertContiguous, tasksOf } from './helpers/trace';

const T = { timeout: 90_000 };
const MiB = 1n << 20n;
const OLD = 2;
const NEW = 3;

const tids = (s: string): number[] => s.split(',').map(Number);
const heaps = (s: string): bigint[] => s.split(',').map((h) => BigInt(h));
const sorted = <X extends number | bigint>(xs: X[]): X[] => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('attach to a stranger', () => {
  test('a daemon in its own session: old threads and arenas from shape, new ones proven, its SIGUSR1 passed on, explanation = VmSize, detach leaves it running', T, async () => {
    const s = await startStranger(await fixture('stranger'), [String(OLD), String(NEW)]);
    try {
      const ready = await s.waitFor(/^ready old=([\d,]+) heaps=(\S+)\n/m);
      const oldTids = tids(ready[1]!);
      // A stranger: not our child, not our shell's; its own session and group.
      const [, ppid, pgrp, sid] = statFields(s.pid);
      assert.notEqual(Number(ppid), process.pid);
      assert.deepEqual([Number(pgrp), Number(sid)], [s.pid, s.pid], 'a session leader');
      assert.deepEqual(tasksOf(s.pid), sorted([s.pid, ...oldTids]));

      // engine 'ptrace': the Quiescer knows the target is at rest from its group-stop events, which only ptrace reports.
      const session = attach(s.pid, { engine: 'ptrace' });
      const q = new Quiescer(s.pid);
      const done = consume(session, q);
      await q.started;
      process.kill(s.pid, 'SIGUSR1');
      const made = await s.waitFor(/^made new=([\d,]+) heaps=(\S+)\n/m);
      const [newTids, newHeaps] = [tids(made[1]!), heaps(made[2]!)];

      // Held still: the model has seen everything, and /proc cannot move.
      await q.stop();
      let e, procVmSizeKb;
      try {
        e = session.explain()!;
        procVmSizeKb = Number(vmSizeKb(s.pid));
      } finally {
        q.resume();
      }
      await session.detach();
      const events: TraceEvent[] = await done;

      // Events: the seized threads, the world they were stopped in, the signal, the new threads, the detach.
      assertContiguous(events);
      const seized = events.filter((ev) => ev.type === 'thread-start' && ev.how === 'attach').map((ev) => ev.tid);
      assert.deepEqual(sorted(seized), sorted([s.pid, ...oldTids]));
      const snap = events.find((ev) => ev.type === 'snapshot');
      assert.ok(snap?.type === 'snapshot' && snap.threads);
      assert.deepEqual(sorted(snap.threads.map((t) => t.tid)), sorted([s.pid, ...oldTids]));
      const started = events.find((ev) => ev.type === 'started');
      assert.ok(started?.type === 'started');
      assert.equal(started.tasks, 1 + OLD);
      const usr1 = events.filter((ev) => ev.type === 'signal' && ev.signal === 'SIGUSR1');
      assert.deepEqual(
        usr1.map((ev) => ev.type === 'signal' && [ev.tid, ev.signo, ev.code, ev.groupStop, ev.senderPid]),
        [[s.pid, 10, 0, false, process.pid]],
        'one SIGUSR1, from this process (SI_USER), delivered to main (the only thread not blocking it)',
      );
      // Sorted by tid: which new thread is reported first is the scheduler's choice.
      const cloned = events.filter((ev) => ev.type === 'thread-start' && ev.how !== 'attach').sort((a, b) => a.tid - b.tid);
      assert.deepEqual(
        cloned.map((ev) => ev.type === 'thread-start' && [ev.tid, ev.parentTid, ev.how, ev.followed]),
        sorted(newTids).map((t) => [t, s.pid, 'clone', true]),
      );
      const last = events.at(-1)!;
      assert.deepEqual(last.type === 'detached' && [last.pid, last.filterInPlace], [s.pid, false]);

      // Findings: exactly the new threads and their arenas, nothing about what existed before.
      const findings = events.filter((ev): ev is Finding => ev.type === 'finding');
      assert.deepEqual(findings.map((f) => f.kind).sort(), [...Array(NEW).fill('cgo-thread'), ...Array(NEW).fill('glibc-arena')]);
      const threads = findings.filter((f) => f.kind === 'cgo-thread').sort((a, b) => Number(a.details.newTid) - Number(b.details.newTid));
      assert.deepEqual(
        threads.map((f) => [f.details.creatorTid, f.details.newTid, f.details.stackSize, f.details.guard, f.details.via]),
        sorted(newTids).map((t) => [s.pid, t, 8n * MiB, 4096n, 'clone3']),
      );
      const arenas = findings.filter((f) => f.kind === 'glibc-arena');
      assert.deepEqual(sorted(arenas.map((f) => f.details.base as bigint)), sorted(newHeaps));
      assert.deepEqual(sorted(arenas.map((f) => f.tid)), sorted(newTids), "each made by the thread's first malloc");

      // The explanation, taken while held still: every byte, each thread once, old ones by shape.
      // The stranger is a C program: its threads are plain pthreads, not a Go program's cgo threads.
      assert.equal(e.vmSizeKb, procVmSizeKb);
      assert.equal(e.modelKb, procVmSizeKb);
      assert.deepEqual(
        e.threads.map((t) => [t.tid, t.kind, t.basis]),
        sorted([s.pid, ...oldTids, ...newTids]).map((t) => [t, t === s.pid ? 'main' : 'pthread', t === s.pid || newTids.includes(t) ? 'proof' : 'shape']),
      );
      const line = (c: string) => e.classes.find((l) => l.class === c);
      const all = OLD + NEW;
      assert.deepEqual(
        ['glibc-arena-heap', 'pthread-stack', 'guard-page'].map((c) => [line(c)?.count, line(c)?.each, line(c)?.basis]),
        [[all, 64n * MiB, 'shape'], [all, 8n * MiB, 'shape'], [all, 4096n, 'shape']],
        'old ones by shape, so each class says shape',
      );

      // After the detach it runs on untraced: every task back asleep, not stopped; its handler still works.
      assert.ok(untraced(s.pid));
      await until(() => [...taskStates(s.pid).values()].join('') === 'S'.repeat(1 + all), 'every task asleep, untraced');
      process.kill(s.pid, 'SIGUSR1');
      assert.equal(await s.ended, `${ready[0]}${made[0]}bye\n`);
    } finally {
      s.kill();
    }
  });
});

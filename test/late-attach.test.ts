// A process attached late: what was made before the attach is explained
// from its shape (and each thread's stack pointer), what is made after from
// proof, and nothing is counted twice.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { attach, run } from '../lib';
import type { Explanation } from '../lib/explain/explain';
import type { Finding } from '../lib/detect/finding';
import type { TraceEvent } from '../lib/events';
import { parseMaps } from '../lib/model';
import { fixture } from './helpers/fixtures';
import { sleep, startUnderShell, tasksOf, waitForThreads } from './helpers/trace';

const T = { timeout: 90_000 };
const MiB = 1n << 20n;

function arenaHeapsInMaps(maps: string): number {
  const e = parseMaps(maps);
  return e.filter((m, i) => m.start % (64n * MiB) === 0n && m.prot === 3 && e[i + 1]?.prot === 0 && e[i + 1]!.start === m.end &&
    e[i + 1]!.end === m.start + 64n * MiB && (m.end - m.start) % (4n * MiB) !== 0n).length;
}

interface Late {
  e: Explanation;
  events: TraceEvent[];
  tasks: number[];
  maps: string;
  vmSizeKb: number;
}

/** Attaches to a running program, lets `afterMs` pass, explains it and detaches. */
async function attachLate(bin: string, args: string[], minThreads: number, afterMs: number): Promise<Late> {
  const target = await startUnderShell(bin, args);
  try {
    await waitForThreads(target.pid, minThreads);
    const session = attach(target.pid);
    const events: TraceEvent[] = [];
    const consuming = (async () => {
      for await (const ev of session) events.push(ev);
    })();
    await session.ready;
    await sleep(afterMs);
    const e = session.explain()!;
    const maps = fs.readFileSync(`/proc/${target.pid}/maps`, 'utf8');
    const vmSizeKb = Number(/^VmSize:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${target.pid}/status`, 'utf8'))![1]);
    const tasks = tasksOf(target.pid);
    await session.detach();
    await consuming;
    assert.equal(await target.exited, 0, 'the target finishes normally after the detach');
    return { e, events, tasks, maps, vmSizeKb };
  } finally {
    target.kill();
  }
}

const cls = (e: Explanation, name: string) => e.classes.find((c) => c.class === name);
const kinds = (e: Explanation, kind: string) => e.threads.filter((t) => t.kind === kind);

describe('attach late', () => {
  test('ex7 mid-sleep: arenas, pthread stacks and cgo threads from shape and stack pointers; total = VmSize', T, async () => {
    const r = await attachLate(await fixture('ex7'), ['-sleep', '2500ms'], 4, 300);
    assert.equal(r.e.modelKb, r.vmSizeKb);
    const others = r.tasks.length - 1;
    assert.equal(cls(r.e, 'pthread-stack')!.count, others, 'one pthread stack per Go M');
    assert.equal(cls(r.e, 'pthread-stack')!.basis, 'shape');
    // RLIMIT_STACK, even where the kernel merged a stack with RW memory right above it.
    assert.equal(cls(r.e, 'pthread-stack')!.each, 8n * MiB);
    assert.equal(cls(r.e, 'glibc-arena-heap')!.count, arenaHeapsInMaps(r.maps));
    assert.equal(cls(r.e, 'glibc-arena-heap')!.basis, 'shape');
    const cgo = kinds(r.e, 'cgo-thread');
    assert.equal(cgo.length, others, 'every M is a pthread in a cgo binary');
    assert.equal(kinds(r.e, 'go-thread').length, 0, 'even one whose stack pointer was in the Go heap (running a goroutine)');
    // On its pthread stack: shape; elsewhere (a goroutine's stack): what the binary links.
    assert.ok(cgo.every((t) => t.basis === 'shape' || t.basis === 'binary'));
    assert.equal(r.events.filter((e) => e.type === 'finding').length, 0, 'nothing was made while traced');
  });

  test('arenas mid-hold: 4 C threads and the Go Ms, all explained from shape', T, async () => {
    const r = await attachLate(await fixture('arenas'), ['-n', '4', '-sleep', '2500ms'], 9, 300);
    assert.equal(r.e.modelKb, r.vmSizeKb);
    const others = r.tasks.length - 1;
    assert.equal(cls(r.e, 'pthread-stack')!.count, others);
    assert.equal(cls(r.e, 'glibc-arena-heap')!.count, arenaHeapsInMaps(r.maps));
    assert.ok(cls(r.e, 'glibc-arena-heap')!.count >= 4 + 1, 'the 4 C threads and at least one M');
    assert.equal(kinds(r.e, 'cgo-thread').length, others);
  });

  test('ex7pure mid-sleep: no arenas, no pthread stacks, every thread a Go runtime thread', T, async () => {
    const r = await attachLate(await fixture('ex7pure'), ['-sleep', '2500ms'], 3, 300);
    assert.equal(r.e.modelKb, r.vmSizeKb);
    assert.equal(cls(r.e, 'glibc-arena-heap'), undefined);
    assert.equal(cls(r.e, 'pthread-stack'), undefined);
    const go = kinds(r.e, 'go-thread');
    assert.equal(go.length, r.tasks.length - 1);
    assert.ok(go.every((t) => t.basis === 'binary'), 'a raw clone leaves no shape: the binary (no runtime/cgo) says so');
    assert.equal(cls(r.e, 'go-heap-arena')!.basis, 'shape');
  });

  test('attached before the C threads start: old Ms from shape, new threads and arenas from proof, none twice', T, async () => {
    const r = await attachLate(await fixture('arenas'), ['-n', '4', '-delay', '1500ms', '-sleep', '3000ms'], 4, 2500);
    assert.equal(r.e.modelKb, r.vmSizeKb);
    const findings = r.events.filter((e): e is Finding => e.type === 'finding');
    const newThreads = findings.filter((f) => f.kind === 'cgo-thread');
    assert.ok(newThreads.length >= 4, 'the 4 C threads were seen being made');
    const newArenas = findings.filter((f) => f.kind === 'glibc-arena');
    assert.ok(newArenas.length >= 4);
    const stacks = cls(r.e, 'pthread-stack')!;
    // Made before + made after = every pthread stack in the maps, each once.
    assert.equal(stacks.count, r.tasks.length - 1);
    assert.equal(cls(r.e, 'glibc-arena-heap')!.count, arenaHeapsInMaps(r.maps));
    const proven = kinds(r.e, 'cgo-thread').filter((t) => t.basis === 'proof').map((t) => t.tid).sort();
    assert.deepEqual(proven, newThreads.map((f) => Number(f.details.newTid)).sort());
    const shaped = kinds(r.e, 'cgo-thread').filter((t) => t.basis !== 'proof');
    assert.equal(proven.length + shaped.length, r.tasks.length - 1, 'every thread once');
    // Numbering goes on from the snapshot: N arenas (the main one included)
    // and M threads before the attach make the next ones N+1 and M+1.
    const snapshot = r.events.find((e) => e.type === 'snapshot')!;
    const before = snapshot.type === 'snapshot' ? snapshot.threads!.length - 1 : NaN;
    assert.deepEqual(newThreads.map((f) => f.details.number).sort((a, b) => Number(a) - Number(b)),
      newThreads.map((_, i) => before + 1 + i));
    const heapsBefore = cls(r.e, 'glibc-arena-heap')!.count - newArenas.length;
    assert.deepEqual(newArenas.map((f) => f.details.arenas).sort((a, b) => Number(a) - Number(b)),
      newArenas.map((_, i) => heapsBefore + 2 + i));
    // What predates the attach is nobody's (most of it here); what came after, its maker's.
    assert.equal(r.e.byCreator[0]!.tid, null);
    const made = r.e.byCreator.filter((c) => c.tid !== null).reduce((s, c) => s + c.bytes, 0n);
    assert.ok(made >= 4n * (8n << 20n), 'the 4 new stacks (by the main thread) and arenas (by each C thread)');
  });

  test('ex7 on musl mid-sleep: its 8 KiB guards and stacks from shape, every M a pthread, no arena', T, async () => {
    const r = await attachLate(await fixture('ex7musl'), ['-sleep', '2500ms'], 4, 300);
    assert.equal(r.e.modelKb, r.vmSizeKb);
    const others = r.tasks.length - 1;
    assert.deepEqual([cls(r.e, 'guard-page')!.count, cls(r.e, 'guard-page')!.each], [others, 8192n]);
    assert.equal(cls(r.e, 'pthread-stack')!.count, others);
    assert.equal(cls(r.e, 'glibc-arena-heap'), undefined);
    assert.equal(kinds(r.e, 'cgo-thread').length, others);
    assert.deepEqual([r.e.binary?.libc, r.e.binary?.cgoLinked, r.e.binary?.dynamic], ['musl', true, false]);
    assert.ok(r.e.hints.some((h) => h.startsWith('musl: its malloc has no per-thread arenas')));
  });

  test('a C program and python3: their threads are pthreads, never cgo-threads', T, async () => {
    const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
    const script = 'import threading, time\nfor _ in range(3): threading.Thread(target=time.sleep, args=(2.5,)).start()\ntime.sleep(2.5)\n';
    const py = await attachLate(python, ['-c', script], 4, 200);
    assert.deepEqual(py.e.threads.map((t) => t.kind).sort(), ['main', 'pthread', 'pthread', 'pthread']);
    assert.equal(py.e.binary?.isGo, false);
    // Seen made: the C fixture's pthread_create calls, under run.
    const session = run(await fixture('threads'), ['-n', '3'], { stdio: ['ignore', 'ignore', 'inherit'] });
    for await (const _ of session) void _;
    const e = session.explain()!;
    assert.deepEqual(e.threads.map((t) => [t.kind, t.basis]).sort(), [['main', 'proof'], ['pthread', 'proof'], ['pthread', 'proof'], ['pthread', 'proof']]);
  });
});

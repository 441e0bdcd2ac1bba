// A process attached late: what was made before the attach is explained
// from its shape (and each thread's stack pointer), what is made after from
// proof, and nothing is counted twice.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { attach } from '../lib';
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
    assert.equal(cls(r.e, 'glibc-arena-heap')!.count, arenaHeapsInMaps(r.maps));
    assert.equal(cls(r.e, 'glibc-arena-heap')!.basis, 'shape');
    const cgo = kinds(r.e, 'cgo-thread');
    assert.equal(cgo.length, others, 'every M is a pthread in a cgo binary');
    assert.ok(cgo.every((t) => t.basis === 'shape'));
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
    assert.ok(go.every((t) => t.basis === 'shape'));
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
    const shaped = kinds(r.e, 'cgo-thread').filter((t) => t.basis === 'shape');
    assert.equal(proven.length + shaped.length, r.tasks.length - 1, 'every thread once');
  });
});

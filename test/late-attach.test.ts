// A process attached late: what was made before the attach is explained
// from its shape (and each thread's stack pointer), what is made after from
// proof, and nothing is counted twice. The targets are strangers (their own
// session, orphaned: test/helpers/stranger.ts) that say when they are ready;
// the explanation is taken with the target held still, and its arena count
// is compared with glibc's own (malloc_info, test/helpers/ready.ts), not with
// a rule over /proc/PID/maps like the one lib/detect/shape.ts applies.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { describe, test } from 'node:test';
import { attach, run } from '../lib';
import { fmtSize } from '../lib/units';
import type { Explanation } from '../lib/explain/explain';
import type { Finding } from '../lib/detect/finding';
import type { TraceEvent } from '../lib/events';
import { fixture } from './helpers/fixtures';
import { Quiescer, consume } from './helpers/model';
import { heldWithArenaCount, untilIdle } from './helpers/ready';
import { type Stranger, startStranger } from './helpers/stranger';
import { tasksOf } from './helpers/trace';

const T = { timeout: 90_000 };
const MiB = 1n << 20n;

interface Late {
  e: Explanation;
  events: TraceEvent[];
  tasks: number[];
  vmSizeKb: number;
  /** The findings when the explanation was taken (the Go runtime may start an M after). */
  findings: Finding[];
  /** /proc/PID/maps when the explanation was taken, for a failing assertion to show. */
  maps: string;
  /** glibc's count of its arena heaps at that moment (ex7, arenas). */
  arenaHeaps?: number;
  /** arenas: each C thread's arena heap, as the fixture printed them. */
  holding?: bigint[];
}

/**
 * Attaches to a -ready stranger (after `before`), does `attached`, explains
 * it held still, detaches, and lets it finish (SIGUSR1): it must write
 * `last` as its last line.
 */
async function attachLate(
  bin: string,
  args: string[],
  opts: {
    before?: (s: Stranger) => Promise<void>;
    attached?: (s: Stranger) => Promise<void>;
    arenaCount: boolean;
    last: string;
    /** Not one of our Go fixtures: args as given; the program itself says "ready" and ends on SIGUSR1. */
    plain?: boolean;
  },
): Promise<Late> {
  const s = await startStranger(bin, opts.plain ? args : ['-ready', ...args]);
  try {
    await s.lines.next(/^ready$/);
    await opts.before?.(s);
    // engine 'ptrace': the Quiescer knows the target is at rest from its group-stop events, which only ptrace reports.
    const session = attach(s.pid, { engine: 'ptrace' });
    const q = new Quiescer(s.pid);
    const done = consume(session, q);
    await q.started;
    await opts.attached?.(s);
    const inspect = () => ({
      e: session.explain()!,
      vmSizeKb: Number(/^VmSize:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${s.pid}/status`, 'utf8'))![1]),
      tasks: tasksOf(s.pid),
      maps: fs.readFileSync(`/proc/${s.pid}/maps`, 'utf8'),
      findings: [...session.findings],
    });
    let late: Late;
    if (opts.arenaCount) {
      const { held, arenaHeaps } = await heldWithArenaCount(s.pid, s.lines, q, inspect);
      late = { ...held, arenaHeaps, events: [] };
    } else {
      await untilIdle(s.pid);
      late = { ...(await q.held(inspect)), events: [] };
    }
    await session.detach();
    late.events = await done;
    const holding = s.lines.all().find((l) => l.startsWith('holding heaps='));
    if (holding) late.holding = holding.slice('holding heaps='.length).split(',').map((h) => BigInt(h));
    process.kill(s.pid, 'SIGUSR1');
    const out = await s.ended;
    assert.equal(out.split('\n').at(-2), opts.last, 'it runs on after the detach and finishes');
    return late;
  } finally {
    s.kill();
  }
}

const cls = (e: Explanation, name: string) => e.classes.find((c) => c.class === name);
/** What a shape assertion saw: the maps, the classes, the threads (a rare failure must say why). */
const seen = (r: Late): string =>
  `${r.maps}classes: ${r.e.classes.map((c) => `${c.class} ${c.count}×${c.each ?? '-'} ${c.basis}`).join('; ')}\n` +
  `threads: ${r.e.threads.map((t) => `${t.tid} ${t.kind} ${t.basis}`).join('; ')}`;
const kinds = (e: Explanation, kind: string) => e.threads.filter((t) => t.kind === kind);
/**
 * Every thread explained by shape but those proven made while traced: only
 * Ms the Go runtime started meanwhile (the signals that ask the fixture wake
 * it), each with its cgo-thread finding.
 */
function assertOnlyNewMsProven(r: Late): void {
  const made = r.findings.filter((f) => f.kind === 'cgo-thread').map((f) => Number(f.details.newTid));
  const cgo = kinds(r.e, 'cgo-thread');
  assert.deepEqual(cgo.filter((t) => t.basis === 'proof').map((t) => t.tid).sort(), made.sort());
  // On its pthread stack: shape; elsewhere (a goroutine's stack): what the binary links.
  assert.ok(cgo.filter((t) => t.basis !== 'proof').every((t) => t.basis === 'shape' || t.basis === 'binary'));
  assert.equal(cgo.filter((t) => t.basis !== 'proof').length, cgo.length - made.length);
  assert.deepEqual(r.findings.filter((f) => f.kind !== 'cgo-thread' && f.kind !== 'glibc-arena'), [], 'nothing else was made');
}

/** After SIGUSR1, arenas -ready makes its threads and says so. */
const startThreads = async (s: Stranger) => {
  process.kill(s.pid, 'SIGUSR1');
  await s.lines.next(/^holding heaps=/);
};

describe('attach late', () => {
  test('ex7 once ready: arenas (as many as glibc counts), pthread stacks and cgo threads from shape and stack pointers; total = VmSize', T, async () => {
    const r = await attachLate(await fixture('ex7'), ['-flush'], { arenaCount: true, last: 'Hello from stdio' });
    assert.equal(r.e.modelKb, r.vmSizeKb);
    const others = r.tasks.length - 1;
    assert.equal(cls(r.e, 'pthread-stack')!.count, others, 'one pthread stack per Go M');
    assert.equal(cls(r.e, 'pthread-stack')!.basis, 'shape');
    // RLIMIT_STACK, even where the kernel merged a stack with RW memory right above it.
    assert.equal(cls(r.e, 'pthread-stack')!.each, 8n * MiB);
    assert.ok(r.arenaHeaps! >= 1);
    assert.equal(cls(r.e, 'glibc-arena-heap')!.count, r.arenaHeaps);
    assert.equal(cls(r.e, 'glibc-arena-heap')!.basis, 'shape');
    const cgo = kinds(r.e, 'cgo-thread');
    assert.equal(cgo.length, others, 'every M is a pthread in a cgo binary');
    assert.equal(kinds(r.e, 'go-thread').length, 0, 'even one whose stack pointer was in the Go heap (running a goroutine)');
    assertOnlyNewMsProven(r);
  });

  test('arenas holding: 4 C threads and the Go Ms, all explained from shape, arenas as many as glibc counts', T, async () => {
    const r = await attachLate(await fixture('arenas'), ['-n', '4'], {
      before: startThreads,
      arenaCount: true,
      last: 'arenas: threads=4 distinct_64MiB_heaps=4',
    });
    assert.equal(r.e.modelKb, r.vmSizeKb);
    const others = r.tasks.length - 1;
    assert.equal(cls(r.e, 'pthread-stack')!.count, others);
    assert.equal(r.holding!.length, 4);
    assert.ok(r.arenaHeaps! >= 4, "the 4 C threads' arenas are among glibc's");
    assert.equal(cls(r.e, 'glibc-arena-heap')!.count, r.arenaHeaps);
    assert.equal(kinds(r.e, 'cgo-thread').length, others);
    assertOnlyNewMsProven(r);
  });

  test('ex7pure once ready: no arenas, no pthread stacks, every thread a Go runtime thread', T, async () => {
    const r = await attachLate(await fixture('ex7pure'), [], { arenaCount: false, last: 'Hello from stdio' });
    assert.equal(r.e.modelKb, r.vmSizeKb);
    assert.equal(cls(r.e, 'glibc-arena-heap'), undefined);
    assert.equal(cls(r.e, 'pthread-stack'), undefined);
    const go = kinds(r.e, 'go-thread');
    assert.equal(go.length, r.tasks.length - 1);
    assert.ok(go.every((t) => t.basis === 'binary'), 'a raw clone leaves no shape: the binary (no runtime/cgo) says so');
    assert.equal(cls(r.e, 'go-heap-arena')!.basis, 'shape');
  });

  test('attached before the C threads start: old Ms from shape, new threads and arenas from proof, none twice', T, async () => {
    const r = await attachLate(await fixture('arenas'), ['-n', '4'], {
      attached: startThreads,
      arenaCount: true,
      last: 'arenas: threads=4 distinct_64MiB_heaps=4',
    });
    assert.equal(r.e.modelKb, r.vmSizeKb);
    const findings = r.findings;
    // The C threads' arenas, at the heaps the threads themselves report, each proven once.
    const cArenas = findings.filter((f) => f.kind === 'glibc-arena' && r.holding!.includes(f.details.base as bigint));
    assert.deepEqual(cArenas.map((f) => f.details.base as bigint).sort(), [...r.holding!].sort());
    const newThreads = findings.filter((f) => f.kind === 'cgo-thread');
    const newArenas = findings.filter((f) => f.kind === 'glibc-arena');
    assert.ok(newThreads.length >= 4, 'the 4 C threads were seen being made');
    for (const f of cArenas) assert.ok(newThreads.some((t) => t.details.newTid === f.tid), `arena ${f.details.base} made by a new thread`);
    const stacks = cls(r.e, 'pthread-stack')!;
    // Made before + made after = every pthread stack, each once; arenas as glibc counts them.
    assert.equal(stacks.count, r.tasks.length - 1);
    assert.equal(cls(r.e, 'glibc-arena-heap')!.count, r.arenaHeaps);
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
    const r = await attachLate(await fixture('ex7musl'), ['-flush'], { arenaCount: false, last: 'Hello from stdio' });
    assert.equal(r.e.modelKb, r.vmSizeKb);
    const others = r.tasks.length - 1;
    assert.deepEqual([cls(r.e, 'guard-page')?.count, cls(r.e, 'guard-page')?.each], [others, 8192n], seen(r));
    assert.equal(cls(r.e, 'pthread-stack')?.count, others, seen(r));
    assert.equal(cls(r.e, 'glibc-arena-heap'), undefined, seen(r));
    assert.equal(kinds(r.e, 'cgo-thread').length, others, seen(r));
    assert.deepEqual([r.e.binary?.libc, r.e.binary?.cgoLinked, r.e.binary?.dynamic], ['musl', true, false]);
    // What glibc would have reserved for the same threads: an arena heap each
    // (up to 8 × CPUs, less the main arena) and an 8 MiB stack plus guard.
    const arenas = Math.min(others, 8 * os.availableParallelism() - 1);
    const musl = cls(r.e, 'pthread-stack')!.bytes + cls(r.e, 'guard-page')!.bytes;
    const glibc = BigInt(arenas) * 64n * MiB + BigInt(others) * (8n * MiB + 4096n);
    assert.deepEqual(r.e.hints.filter((h) => h.startsWith('musl: ')), [
      `musl: its malloc has no per-thread arenas, so there are no 64 MiB arena heaps here, and its thread stacks are small (${fmtSize(musl)} for ${others} threads); ` +
        `glibc would reserve about ${fmtSize(glibc - musl)} more for the same ${others} threads (${arenas} arena heaps of 64 MiB, 8 MiB stacks).`,
    ]);
  });

  test("musl stacks whose guards the kernel merged into a reservation below: each guard and stack still found, from the threads' stack pointers", T, async () => {
    // Seen on a loaded machine with ex7 on musl: one stack's 8 KiB guard had
    // merged into a 2.1 MiB ---p region. The fixture makes it happen each time.
    let stacks: bigint[] = [];
    const r = await attachLate(await fixture('threadsmusl'), ['-n', '3', '-merged-guard', '-ready'], {
      arenaCount: false,
      last: 'threads: 3',
      plain: true,
      before: async (s) => {
        stacks = s.lines.all().find((l) => l.startsWith('stacks='))!.slice('stacks='.length).split(',').map((x) => BigInt(x));
        const maps = fs.readFileSync(`/proc/${s.pid}/maps`, 'utf8').split('\n').filter(Boolean)
          .map((l) => { const [lo, hi] = l.split(' ')[0]!.split('-'); return { lo: BigInt(`0x${lo}`), hi: BigInt(`0x${hi}`), perms: l.split(' ')[1] }; });
        // The precondition, from /proc: below each stack, one ---p region of the 1 MiB reservation and the 8 KiB guard.
        for (const at of stacks) assert.deepEqual(maps.filter((m) => m.hi === at).map((m) => [m.perms, m.hi - m.lo]), [['---p', MiB + 8192n]]);
      },
    });
    assert.equal(stacks.length, 3);
    assert.equal(r.e.modelKb, r.vmSizeKb);
    assert.deepEqual([cls(r.e, 'guard-page')?.count, cls(r.e, 'guard-page')?.each, cls(r.e, 'guard-page')?.basis], [3, 8192n, 'shape']);
    assert.deepEqual([cls(r.e, 'pthread-stack')?.count, cls(r.e, 'pthread-stack')?.basis], [3, 'shape']);
    assert.deepEqual(r.e.threads.map((t) => [t.kind, t.basis]), [['main', 'proof'], ['pthread', 'shape'], ['pthread', 'shape'], ['pthread', 'shape']]);
    assert.deepEqual([r.e.binary?.libc, r.e.binary?.isGo, r.e.binary?.dynamic], ['musl', false, false]);
  });

  test('a C program and python3: their threads are pthreads, never cgo-threads', T, async () => {
    const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
    // Three threads that wait; "ready", then everything ends on SIGUSR1 (blocked first, so the threads inherit the mask).
    const script = [
      'import signal, threading', 'signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})', 'ev = threading.Event()',
      'for _ in range(3): threading.Thread(target=ev.wait).start()', "print('ready', flush=True)", 'signal.sigwait({signal.SIGUSR1})',
      'ev.set()', "print('done', flush=True)", '',
    ].join('\n');
    const py = await attachLate(python, ['-c', script], { arenaCount: false, last: 'done', plain: true });
    assert.deepEqual(py.e.threads.map((t) => t.kind).sort(), ['main', 'pthread', 'pthread', 'pthread']);
    assert.equal(py.e.binary?.isGo, false);
    // Seen made: the C fixture's pthread_create calls, under run.
    const session = run(await fixture('threads'), ['-n', '3'], { stdio: ['ignore', 'ignore', 'inherit'] });
    for await (const _ of session) void _;
    const e = session.explain()!;
    assert.deepEqual(e.threads.map((t) => [t.kind, t.basis]).sort(), [['main', 'proof'], ['pthread', 'proof'], ['pthread', 'proof'], ['pthread', 'proof']]);
  });
});

// Detectors on real programs: cgo threads, glibc arenas, Go threads and heap
// arenas, with the evidence that proves each, live in the event stream.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { run } from '../lib';
import type { Finding } from '../lib/detect/finding';
import type { SessionEvent } from '../lib/session';
import type { SyscallEvent } from '../lib/events';
import { parseMaps } from '../lib/model';
import type { Region } from '../lib/model';
import { fixture, fixtureGo119 } from './helpers/fixtures';
import { Quiescer, consume, owning } from './helpers/model';
import { LineReader, heldWithArenaCount } from './helpers/ready';
import { tasksOf } from './helpers/trace';

const T = { timeout: 90_000 };
const MiB64 = 64n << 20n;
/** sizeof(heap_info) on 64-bit glibc: 48 bytes since 2.35 added its pagesize field, 32 before (docs/go-glibc-musl.md, "Shapes"). */
const HEAP_INFO_SIZES = [48n, 32n];

/** The Go release a binary was built with, as its build info records it (`go version FILE`). */
function goVersionOf(bin: string): string {
  const out = execFileSync(process.env.LIVEPROBE_GO || 'go', ['version', bin], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } });
  return out.slice(out.lastIndexOf(': ') + 2).trim();
}

function findings(events: SessionEvent[], kind?: Finding['kind']): Finding[] {
  return events.filter((e): e is Finding => e.type === 'finding' && (kind === undefined || e.kind === kind));
}

function bySeq(events: SessionEvent[]): Map<number, SyscallEvent> {
  const m = new Map<number, SyscallEvent>();
  for (const e of events) if (e.type === 'syscall') m.set(e.seq, e);
  return m;
}

/**
 * Traces `bin -ready args` and looks at it held still (every thread
 * group-stopped, every record in the model) once it says it is ready: ex7
 * and ex7pure when up, arenas (which first makes its threads on SIGUSR1)
 * while every thread holds its block. Then lets it finish (SIGUSR1).
 */
async function traceWhenReady(bin: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const session = run(bin, ['-ready', ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  let r: { arenaHeaps?: number; events: SessionEvent[]; held: SessionEvent[]; maps: string; glibcHeaps: bigint[]; tasks: number[]; regionsHeld: Region[]; out: string[]; pid: number } | undefined;
  await owning(session, async () => {
    const lines = new LineReader(session.stdout!);
    const pid = await session.ready;
    const q = new Quiescer(pid);
    let seen = 0;
    const consuming = consume(session, q, () => seen++);
    await lines.next(/^ready$/);
    if (path.basename(bin).startsWith('arenas')) {
      process.kill(pid, 'SIGUSR1');
      await lines.next(/^holding heaps=/);
    }
    const inspect = () => {
      const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
      return { maps, glibcHeaps: glibcHeapsInMaps(pid, maps).sort(), tasks: tasksOf(pid), regionsHeld: session.model!.regions(), seen };
    };
    let held: ReturnType<typeof inspect>;
    let arenaHeaps: number | undefined;
    if (path.basename(bin).startsWith('ex7') && !path.basename(bin).startsWith('ex7pure')) {
      // The Go runtime starts Ms (each making an arena) for a while: hold it when glibc's count stands still.
      const h = await heldWithArenaCount(pid, lines, q, inspect);
      held = h.held;
      arenaHeaps = h.arenaHeaps;
    } else {
      held = await q.held(inspect);
    }
    process.kill(pid, 'SIGUSR1');
    const events: SessionEvent[] = await consuming;
    await lines.closed;
    // held: what the consumer had seen when /proc was read; everything the model had by then.
    r = { events, held: events.slice(0, held.seen), ...held, out: lines.all(), pid, arenaHeaps };
  });
  return { ...r!, exit: await session.exited };
}

/**
 * glibc's arena heaps, as maps shows them and each one's own header
 * confirms: anonymous RW memory from a 64 MiB boundary that begins with a
 * heap_info (docs/go-glibc-musl.md, "Shapes") whose mprotect_size is that
 * RW region and whose arena or previous heap is where glibc puts them. Read
 * while the process is held: a Go runtime commit can sit on a 64 MiB
 * boundary with PROT_NONE after it too (seen once, Go 1.19's ex7: 8 such
 * windows for glibc's 7 heaps), and only glibc's own bytes tell them apart.
 */
function glibcHeapsInMaps(pid: number, maps: string): bigint[] {
  const candidates = parseMaps(maps).filter((a) => a.start % MiB64 === 0n && a.name === '' && a.prot === 3);
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  try {
    const header = Buffer.alloc(32);
    return candidates.filter((a) => {
      fs.readSync(fd, header, 0, header.length, a.start);
      const [arena, prev, size, mprotectSize] = [0, 8, 16, 24].map((at) => header.readBigUInt64LE(at)) as [bigint, bigint, bigint, bigint];
      // What glibc made RW of the heap is the RW region maps shows (the kernel may merge a full heap with RW memory above).
      const rw = a.end - a.start < MiB64 ? a.end - a.start : MiB64;
      if (mprotectSize !== rw || size === 0n || size > mprotectSize) return false;
      // An arena's first heap holds its malloc_state right after the header; a later heap points back to the heap before it.
      return prev === 0n ? HEAP_INFO_SIZES.some((n) => arena === a.start + n) : prev % MiB64 === 0n;
    }).map((a) => a.start);
  } finally {
    fs.closeSync(fd);
  }
}

function checkCgoThreads(events: SessionEvent[], tasks: number[], pid: number): void {
  const seqs = bySeq(events);
  const cgo = findings(events, 'cgo-thread');
  const clone3 = [...seqs.values()].filter((e) => e.name === 'clone3' && e.ret !== null && e.ret > 0n);
  assert.equal(cgo.length, clone3.length, 'one cgo-thread per clone3');
  assert.deepEqual(cgo.map((f) => Number(f.details.newTid)).sort(), tasks.filter((t) => t !== pid).sort(), 'one per task but the main one');
  for (const f of cgo) {
    const [mmap, mprotect, clone, start] = f.evidence.map((s) => seqs.get(s)!);
    assert.equal(mmap!.name, 'mmap');
    assert.equal(mmap!.raw[1], 8392704n, '8 MiB + 4 KiB');
    assert.equal(mmap!.raw[2], 0n, 'PROT_NONE');
    assert.equal(mprotect!.name, 'mprotect');
    assert.equal(mprotect!.raw[1], 8388608n);
    assert.equal(clone!.name, 'clone3');
    assert.equal(clone!.ret, BigInt(f.details.newTid as number));
    assert.ok(start!.name === 'rseq' || start!.name === 'set_robust_list');
    assert.equal(start!.tid, f.details.newTid);
    assert.equal(f.details.stackSize, 8388608n);
    assert.equal(f.details.guard, 4096n);
  }
}

/** Live: a finding comes before the next event of the thread that completed it. */
function checkLive(events: SessionEvent[]): void {
  for (let i = 0; i < events.length; i++) {
    const f = events[i]!;
    if (f.type !== 'finding') continue;
    const trigger = events.findIndex((e) => e.type === 'syscall' && e.seq === f.seq);
    assert.ok(trigger >= 0 && trigger < i, 'after its trigger');
    const nextOfThread = events.findIndex((e, k) => k > trigger && e.type !== 'finding' && 'tid' in e && e.tid === f.tid);
    assert.ok(nextOfThread === -1 || nextOfThread > i, `finding ${f.kind} at ${i} before the thread's next event`);
  }
}

describe('detectors', () => {
  test('ex7: one cgo-thread per thread, with the mmap, mprotect, clone3 that prove it; regions classified', T, async () => {
    const ex7 = await fixture('ex7');
    const r = await traceWhenReady(ex7, ['-flush']);
    assert.deepEqual([r.out[0], r.out.at(-1)], ['ready', 'Hello from stdio']);
    checkCgoThreads(r.held, r.tasks, r.pid);
    checkLive(r.events);
    // Arenas: every arena heap of the maps was found, at its 64 MiB-aligned base.
    const found = findings(r.held, 'glibc-arena').map((f) => f.details.base as bigint).sort();
    assert.ok(found.length > 0, 'a cgo program has arenas');
    assert.equal(found.length, r.arenaHeaps, 'as many as glibc counts (malloc_info)');
    assert.deepEqual(found, r.glibcHeaps);
    // The runtime may reserve a second arena early (timing): one or more, each 64 MiB.
    const goHeap = findings(r.events, 'go-heap-arena');
    assert.ok(goHeap.length >= 1);
    for (const f of goHeap) assert.equal((f.region!.end - f.region!.start) % MiB64, 0n);
    assert.equal(findings(r.events, 'go-runtime-metadata').length, 1);
    // Every region of the model has a class other than anonymous, but these.
    const { classifyRegion } = await import('../lib/explain/classify');
    const regions = r.regionsHeld;
    assert.ok(regions.length > 0, 'the model existed');
    const anonymous = regions.filter((x) => classifyRegion(x, regions).class === 'anonymous');
    for (const a of anonymous) {
      // Allowed: small RW allocations of ld.so/libc (TLS, dl data) and the Go
      // runtime's later persistentalloc/gcBits chunks, which no signature proves.
      assert.ok(a.prot === 3 && a.end - a.start <= 4n << 20n, `unexplained region ${a.start.toString(16)}-${a.end.toString(16)} ${a.perms}`);
    }
  });

  test('arenas: 4 C threads get 4 arenas; MALLOC_ARENA_MAX=1 none; never more than the limit', T, async () => {
    const arenas = await fixture('arenas');
    const r = await traceWhenReady(arenas, ['-n', '4']);
    assert.equal(r.out.at(-1), 'arenas: threads=4 distinct_64MiB_heaps=4');
    const all = findings(r.held, 'glibc-arena');
    assert.ok(all.length >= 4, 'the C threads made arenas');
    assert.deepEqual(all.map((f) => f.details.base as bigint).sort(), r.glibcHeaps);
    for (const f of all) assert.equal((f.details.base as bigint) % MiB64, 0n);
    // The C threads are the ones that end with exit(2); Go's threads never do.
    const cThreads = new Set(r.events.filter((e) => e.type === 'syscall' && e.name === 'exit').map((e) => e.tid));
    assert.equal(cThreads.size, 4);
    assert.equal(all.filter((f) => cThreads.has(f.tid)).length, 4);

    const one = await traceWhenReady(arenas, ['-n', '4'], { MALLOC_ARENA_MAX: '1' });
    assert.equal(findings(one.events, 'glibc-arena').length, 0);
    // The same limit set through glibc's tunables: 2 arenas, the main one and one heap.
    const tuned = await traceWhenReady(arenas, ['-n', '4'], { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' });
    const two = findings(tuned.events, 'glibc-arena');
    assert.equal(two.length, 1);
    assert.equal(two[0]!.details.limit, 2);
    assert.match(two[0]!.summary, /arena 2 of at most 2 \(GLIBC_TUNABLES=glibc\.malloc\.arena_max=2\)$/);

    const many = await traceWhenReady(arenas, ['-n', '20']);
    const limit = 8 * (await import('node:os')).availableParallelism();
    const n = findings(many.held, 'glibc-arena').length;
    assert.ok(n <= limit - 1, `${n} arena heaps, limit ${limit} with the main arena`);
    assert.equal(n, many.glibcHeaps.length);
  });

  test('ex7pure: no cgo-thread, no glibc-arena, one go-thread per thread, its heap arena found', T, async () => {
    const r = await traceWhenReady(await fixture('ex7pure'), []);
    assert.equal(findings(r.events, 'cgo-thread').length, 0);
    assert.equal(findings(r.events, 'glibc-arena').length, 0);
    const go = findings(r.held, 'go-thread');
    assert.deepEqual(go.map((f) => Number(f.details.newTid)).sort(), r.tasks.filter((t) => t !== r.pid).sort());
    const heap = findings(r.events, 'go-heap-arena');
    assert.ok(heap.length >= 1);
    assert.equal(heap[0]!.region!.end - heap[0]!.region!.start, MiB64);
    checkLive(r.events);
  });

  test('ex7 on musl (static, as Alpine builds it): every M a musl pthread, its 140 KiB mapping, no arena', T, async () => {
    const r = await traceWhenReady(await fixture('ex7musl'), ['-flush']);
    assert.equal(r.out.at(-1), 'Hello from stdio');
    assert.equal(r.arenaHeaps, 0, 'the fixture reports no arena heaps on musl');
    const threads = findings(r.events, 'cgo-thread');
    assert.deepEqual(threads.map((f) => Number(f.details.newTid)).sort(), r.tasks.filter((t) => t !== r.pid).sort(), 'one finding per M');
    for (const f of threads) {
      assert.deepEqual([f.details.libc, f.details.via, f.details.stackSize, f.details.guard], ['musl', 'clone', 135168n, 8192n]);
      assert.equal(f.region!.end - f.region!.start, 143360n);
      // The evidence: the PROT_NONE mmap, the mprotect of all but the guard, the clone with CLONE_DETACHED.
      const [mmap, mprotect, clone] = f.evidence.map((seq) => r.events.find((e) => e.type === 'syscall' && e.seq === seq)!);
      assert.match(mmap!.type === 'syscall' ? mmap!.text : '', /^mmap\(NULL, 143360, PROT_NONE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\)/);
      assert.match(mprotect!.type === 'syscall' ? mprotect!.text : '', /^mprotect\(0x[0-9a-f]+, 135168, PROT_READ\|PROT_WRITE\)/);
      assert.match(clone!.type === 'syscall' ? clone!.text : '', /^clone\(.*CLONE_CHILD_CLEARTID\|0x400000/);
    }
    assert.equal(findings(r.events, 'go-thread').length, 0);
    assert.equal(findings(r.events, 'glibc-arena').length, 0, "musl's malloc has no arenas");
    checkLive(r.events);
  });

  // The first run on a machine fetches Go 1.19 and builds its standard library.
  test('the same detectors on binaries built by Go 1.19', { timeout: 300_000 }, async () => {
    const ex7 = await fixtureGo119('ex7');
    const pure119 = await fixtureGo119('ex7pure');
    for (const bin of [ex7, pure119]) assert.match(goVersionOf(bin), /^go1\.19\.\d+$/, bin);
    const r = await traceWhenReady(ex7, ['-flush']);
    checkCgoThreads(r.held, r.tasks, r.pid);
    const found = findings(r.held, 'glibc-arena').map((f) => f.details.base as bigint).sort();
    assert.ok(found.length > 0, 'a cgo program has arenas');
    assert.equal(found.length, r.arenaHeaps, 'as many as glibc counts (malloc_info)');
    assert.deepEqual(found, r.glibcHeaps);
    const heap = findings(r.events, 'go-heap-arena');
    assert.ok(heap.length >= 1);
    assert.equal(heap[0]!.details.base, 0xc000000000n, 'Go 1.19 puts its first arena at the 0xc0 hint');
    const pure = await traceWhenReady(pure119, []);
    assert.equal(findings(pure.events, 'cgo-thread').length, 0);
    assert.deepEqual(findings(pure.held, 'go-thread').map((f) => Number(f.details.newTid)).sort(), pure.tasks.filter((t) => t !== pure.pid).sort());
  });
});

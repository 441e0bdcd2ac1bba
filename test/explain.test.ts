// The VmSize explained: the article's napkin math, exact, for real programs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { run } from '../lib';
import type { Explanation } from '../lib/explain/explain';
import { binaryFacts } from '../lib/explain/binary-facts';
import { GO_SUMMARY_LEVELS, goRelease } from '../lib/detect/go-runtime';
import { fmtSize } from '../lib/units';
import { fixture } from './helpers/fixtures';
import { Quiescer, consume, owning } from './helpers/model';
import { LineReader, heldWithArenaCount } from './helpers/ready';
import { runCli, tasksOf } from './helpers/trace';

const T = { timeout: 90_000 };
const MiB = 1n << 20n;

interface Held {
  e: Explanation;
  vmSizeKb: number;
  tasks: number[];
  /** ex7: glibc's count of its arena heaps at that moment (malloc_info). */
  arenaHeaps?: number;
}

/**
 * Runs the program with -ready and, once it says so, explains it held still
 * (every thread group-stopped, every record in the model) while
 * /proc/PID/status is read; then lets it finish (SIGUSR1).
 */
async function explainWhenReady(bin: string, opts: { arenaCount: boolean }): Promise<Held> {
  const session = run(bin, ['-ready'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let result: Held | undefined;
  await owning(session, async () => {
    const lines = new LineReader(session.stdout!);
    const pid = await session.ready;
    const q = new Quiescer(pid);
    const done = consume(session, q);
    await lines.next(/^ready$/);
    const inspect = () => ({
      e: session.explain()!,
      vmSizeKb: Number(/^VmSize:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]),
      tasks: tasksOf(pid),
    });
    if (opts.arenaCount) {
      const { held, arenaHeaps } = await heldWithArenaCount(pid, lines, q, inspect);
      result = { ...held, arenaHeaps };
    } else {
      result = await q.held(inspect);
    }
    process.kill(pid, 'SIGUSR1');
    await done;
    assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
  });
  return result!;
}

const cls = (e: Explanation, name: string) => e.classes.find((c) => c.class === name);

describe('explain', () => {
  test('ex7 held still once ready: arenas as glibc counts them, pthread stacks, Go heap and metadata, files, the exact hints; total = VmSize to the kB', T, async () => {
    const { e, vmSizeKb, tasks, arenaHeaps } = await explainWhenReady(await fixture('ex7'), { arenaCount: true });
    assert.equal(e.vmSizeKb, vmSizeKb);
    assert.equal(e.modelKb, vmSizeKb, 'the model adds up to VmSize');
    // Every thread but main is a pthread in a cgo binary, each made while traced.
    const threads = tasks.length - 1;
    assert.equal(e.threads.filter((t) => t.kind === 'cgo-thread').length, threads);
    const arenas = cls(e, 'glibc-arena-heap')!;
    const glibcCount = arenaHeaps!;
    assert.ok(glibcCount >= 1);
    assert.deepEqual([arenas.count, arenas.each, arenas.bytes], [glibcCount, 64n * MiB, BigInt(glibcCount) * 64n * MiB], 'as many as malloc_info says');
    const stacks = cls(e, 'pthread-stack')!;
    assert.deepEqual([stacks.count, stacks.each], [threads, 8n * MiB]);
    assert.deepEqual([cls(e, 'guard-page')!.count, cls(e, 'guard-page')!.each], [threads, 4096n]);
    assert.ok(cls(e, 'go-heap-arena')!.bytes % (64n * MiB) === 0n);
    // The runtime's structures by name (they were one 'go-runtime-metadata' lump before issue 15).
    assert.deepEqual([cls(e, 'go-page-summary')!.count, cls(e, 'go-page-summary')!.bytes], [5, GO_SUMMARY_LEVELS.reduce((s, n) => s + n, 0n)]);
    assert.deepEqual([cls(e, 'go-arena-index')!.count, cls(e, 'go-arena-index')!.bytes], [1, 32n * MiB]);
    assert.equal(cls(e, 'go-scavenge-index')!.bytes, goRelease(e.binary!.goVersion)!.scavengeIndex);
    assert.ok(cls(e, 'file-segment')!.count >= 3, 'ex7, libc and ld.so');
    assert.equal(e.classes.reduce((s, c) => s + c.bytes, 0n) / 1024n, BigInt(vmSizeKb));
    // The hints, word for word: arenas (VmSize is not RSS, MALLOC_ARENA_MAX),
    // the stack size from ulimit -s (where it is glibc's 8 MiB), cgo's
    // pthreads; not DNS: ex7 looks nothing up, nor threads held by blocking
    // C calls: its goroutine sleeps in Go (hints only when the data supports
    // them).
    const stackHint = /^Max stack size\s+8388608\s/m.test(fs.readFileSync('/proc/self/limits', 'utf8'))
      ? ['Each pthread stack is 8 MiB because the stack limit (ulimit -s) is 8192 kB: glibc sizes a new thread\'s stack by RLIMIT_STACK. ' +
          'A lower ulimit -s where the program starts makes them smaller (goroutine stacks live in the Go heap, not there).']
      : [];
    assert.deepEqual(e.hints, [
      `VmSize is not RSS: ${glibcCount} glibc malloc arena heap${glibcCount > 1 ? 's reserve' : ' reserves'} ${glibcCount * 64} MiB of address space, ` +
        `${fmtSize(arenas.rss!)} resident; reserved memory costs no RAM.`,
      'Each thread that mallocs gets its own arena, up to 8 × CPUs; MALLOC_ARENA_MAX=2 caps them if the reservations matter (more lock contention in malloc).',
      ...stackHint,
      `In a cgo binary every Go thread is a pthread with its own 8 MiB stack (${threads} seen made). CGO_ENABLED=0 would remove the pthread stacks ` +
        'and the glibc arenas, at the cost of C libraries, os/user via libc and the cgo DNS resolver.',
    ]);
  });

  test('6 goroutines blocked in C at once (cgocalls): the hint names the 6 threads and their call, word for word', T, async () => {
    const bin = await fixture('cgocalls');
    const session = run(bin, ['-n', '6', '-hold', '4s'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let e: Explanation | undefined;
    await owning(session, async () => {
      const lines = new LineReader(session.stdout!);
      const done = consume(session, undefined);
      // Every call is in the kernel for 4 s from here: explained while they block, the target running.
      await lines.next(/^in C: 6$/);
      e = session.explain()!;
      await done;
    });
    assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
    const live = e!.threads.filter((t) => t.state !== 'exited').length;
    assert.ok(live >= 7, `${live} threads: the 6 in C and at least one running Go`);
    const stacks = cls(e!, 'pthread-stack')!;
    assert.deepEqual(
      e!.hints.filter((h) => h.includes('blocked in C')),
      [
        '6 threads are blocked in C calls now (6 in clock_nanosleep): a goroutine in a cgo call keeps its thread until the call returns, ' +
          'and the Go runtime runs the other goroutines on other threads, making new ones when none is idle, so every concurrent blocking cgo call holds a thread ' +
          `(${live} threads in all; each new one a pthread with its own ${fmtSize(stacks.each!)} stack). ` +
          'Bounding how many such calls run at once (a buffered channel as a semaphore) bounds the threads.',
      ],
    );
  });

  test('ex7pure: no arenas, no pthread stacks, and no hint', T, async () => {
    const { e, vmSizeKb, tasks } = await explainWhenReady(await fixture('ex7pure'), { arenaCount: false });
    assert.equal(e.modelKb, vmSizeKb);
    assert.equal(cls(e, 'glibc-arena-heap'), undefined);
    assert.equal(cls(e, 'pthread-stack'), undefined);
    assert.deepEqual(e.hints, []);
    assert.deepEqual(e.threads.map((t) => [t.tid, t.kind]), tasks.map((t, i) => [t, i === 0 ? 'main' : 'go-thread']));
  });

  test('compare ex7 with ex7pure: the difference is arenas + pthread stacks + libc/ld.so, on VmSize exact', T, async () => {
    const [ex7, pure] = await Promise.all([fixture('ex7'), fixture('ex7pure')]);
    const r = await runCli(['compare', '--json', '--at', '1', '--', ex7, '-sleep', '5s', '---', pure, '-sleep', '5s']);
    assert.equal(r.code, 0, r.stderr);
    const { a, b } = JSON.parse(r.stdout) as { a: Record<string, unknown>; b: Record<string, unknown> };
    type Line = { class: string; bytes: string };
    const bytes = (side: Record<string, unknown>, name: string) => BigInt((side.classes as Line[]).find((c) => c.class === name)?.bytes ?? '0');
    for (const side of [a, b]) assert.equal(side.modelKb, side.vmSizeKb, 'each side equals its /proc/PID/status');
    const diff = BigInt(a.vmSizeKb as number) * 1024n - BigInt(b.vmSizeKb as number) * 1024n;
    const cgoOnly = bytes(a, 'glibc-arena-heap') + bytes(a, 'pthread-stack') + bytes(a, 'guard-page') + bytes(a, 'main-heap');
    const files = bytes(a, 'file-segment') + bytes(a, 'file-bss') - bytes(b, 'file-segment') - bytes(b, 'file-bss');
    const goRuntime = ['go-heap-arena', 'go-page-summary', 'go-scavenge-index', 'go-arena-index', 'go-arena-metadata', 'go-page-chunks', 'anonymous'].reduce((s, c) => s + bytes(a, c) - bytes(b, c), 0n);
    assert.equal(diff, cgoOnly + files + goRuntime, 'every byte of the difference is in a class');
    assert.ok(cgoOnly >= 3n * (64n + 8n) * MiB, 'arenas and stacks are most of it');
    assert.ok(files > 0n && files < 8n * MiB, 'libc and ld.so');
    // The Go runtime's own small allocations (persistentalloc, gcBits chunks)
    // depend on timing: they may differ, by a few MiB at most.
    const anon = bytes(a, 'anonymous') - bytes(b, 'anonymous');
    assert.ok(anon < 16n * MiB && anon > -16n * MiB, `anonymous differs by ${anon}`);
  });

  test('a large file mapping is named by path, with its size and RSS', T, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-file-'));
    const db = path.join(dir, 'member.db');
    try {
      fs.writeFileSync(db, '');
      fs.truncateSync(db, 256 * 1024 * 1024);
      const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
      // Maps the whole file shared, touches its first 4 MiB, says so and waits for its stdin to close.
      const script =
        `import mmap, sys\nf = open(${JSON.stringify(db)}, 'r+b')\nm = mmap.mmap(f.fileno(), 0)\nfor i in range(0, 4 << 20, 4096): m[i] = 1\n` +
        `print('ready', flush=True)\nsys.stdin.read()\n`;
      const session = run(python, ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      let e: Explanation | undefined;
      await owning(session, async () => {
        const lines = new LineReader(session.stdout!);
        const q = new Quiescer(await session.ready);
        const done = consume(session, q);
        await lines.next(/^ready$/);
        e = await q.held(() => session.explain()!);
        session.stdin!.end();
        await done;
      });
      if (!e) throw new Error('no explanation');
      const f = e.files.find((x) => x.path === db);
      assert.ok(f, JSON.stringify(e.files.map((x) => x.path)));
      assert.deepEqual([f.mappings, f.bytes], [1, 256n * MiB]);
      assert.ok(f.rss !== null && f.rss >= 4n * MiB && f.rss < 256n * MiB, `rss ${f.rss}`);
      assert.equal(e.files[0]!.path, db, 'the largest first');
      assert.equal(e.binary?.isGo, false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('binary facts: CGO_ENABLED=1, =0, -tags netgo, and /bin/sleep', T, async () => {
    const [ex7, pure, netgo] = await Promise.all([fixture('ex7'), fixture('ex7pure'), fixture('ex7netgo')]);
    assert.equal(binaryFacts(ex7).cgoEnabled, true);
    assert.equal(binaryFacts(ex7).dns?.resolver, 'go-or-cgo');
    assert.equal(binaryFacts(pure).cgoEnabled, false);
    assert.equal(binaryFacts(pure).dns?.resolver, 'go');
    const n = binaryFacts(netgo);
    assert.deepEqual([n.cgoEnabled, n.tags, n.libc, n.dns?.resolver, n.dns?.why], [true, ['netgo'], 'glibc', 'go', 'built with -tags netgo']);
    const musl = binaryFacts(await fixture('ex7musl'));
    assert.deepEqual([musl.libc, musl.dynamic, musl.cgoLinked, musl.summary.endsWith('statically linked against musl')], ['musl', false, true, true]);
    assert.deepEqual([binaryFacts(ex7).cgoLinked, binaryFacts(pure).cgoLinked], [true, false]);
    const sleepBin = binaryFacts('/bin/sleep');
    assert.deepEqual([sleepBin.isGo, sleepBin.summary], [false, 'not a Go binary (links glibc)']);
  });
});

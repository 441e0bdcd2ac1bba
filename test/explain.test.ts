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
import { parseMaps } from '../lib/model';
import { fixture } from './helpers/fixtures';
import { runCli, sleep } from './helpers/trace';

const T = { timeout: 90_000 };
const MiB = 1n << 20n;

/** Runs the program and explains it while it sleeps, with /proc read at the same moment. */
async function explainDuringSleep(bin: string, args: string[]): Promise<{ e: Explanation; maps: string; vmSizeKb: number }> {
  const session = run(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const consuming = (async () => {
    for await (const _ of session) void _;
  })();
  const pid = await session.ready;
  await sleep(700);
  const e = session.explain()!;
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  const vmSizeKb = Number(/^VmSize:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  await consuming;
  return { e, maps, vmSizeKb };
}

const cls = (e: Explanation, name: string) => e.classes.find((c) => c.class === name);

describe('explain', () => {
  test('ex7 during its sleep: arenas, pthread stacks, Go heap and metadata, files; total = VmSize to the kB', T, async () => {
    const { e, maps, vmSizeKb } = await explainDuringSleep(await fixture('ex7'), ['-sleep', '1500ms']);
    assert.equal(e.vmSizeKb, vmSizeKb);
    assert.equal(e.modelKb, vmSizeKb, 'the model adds up to VmSize');
    const threads = e.threads.filter((t) => t.kind === 'cgo-thread').length;
    assert.ok(threads >= 3);
    const arenas = cls(e, 'glibc-arena-heap')!;
    assert.equal(arenas.each, 64n * MiB);
    assert.equal(arenas.bytes, BigInt(arenas.count) * 64n * MiB);
    // Every 64 MiB-aligned rw-p + ---p pair of the maps, no more, no less.
    const heaps = parseMaps(maps).filter((m, i, all) => m.start % (64n * MiB) === 0n && m.prot === 3 && all[i + 1]?.prot === 0 && all[i + 1]!.end === m.start + 64n * MiB && (m.end - m.start) % (4n * MiB) !== 0n);
    assert.equal(arenas.count, heaps.length);
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
    // Hints: arenas (VmSize is not RSS, MALLOC_ARENA_MAX) and DNS.
    assert.ok(e.hints.some((h) => h.startsWith('VmSize is not RSS')));
    assert.ok(e.hints.some((h) => h.includes('MALLOC_ARENA_MAX')));
    assert.ok(e.hints.some((h) => h.startsWith('DNS:')));
  });

  test('ex7pure: no arenas, no pthread stacks, and no hint', T, async () => {
    const { e, vmSizeKb } = await explainDuringSleep(await fixture('ex7pure'), ['-sleep', '1500ms']);
    assert.equal(e.modelKb, vmSizeKb);
    assert.equal(cls(e, 'glibc-arena-heap'), undefined);
    assert.equal(cls(e, 'pthread-stack'), undefined);
    assert.deepEqual(e.hints, []);
    assert.ok(e.threads.every((t) => t.kind === 'main' || t.kind === 'go-thread'));
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
      // Maps the whole file shared and touches its first 4 MiB.
      const script = `import mmap, time\nf = open(${JSON.stringify(db)}, 'r+b')\nm = mmap.mmap(f.fileno(), 0)\nfor i in range(0, 4 << 20, 4096): m[i] = 1\ntime.sleep(1.5)\n`;
      const { e } = await explainDuringSleep(python, ['-c', script]);
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

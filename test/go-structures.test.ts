// The Go runtime's structures by name, both ways: `run` proves them from the
// start-up mmaps, `attach` finds them by shape in /proc/PID/maps from the
// binary's Go version (lib/detect/go-runtime.ts, lib/detect/go-shape.ts).
// Each program is explained twice, once it said ready and sleeps: traced
// from its start, and as an identical instance attached after it did its work.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attach, run } from '../lib';
import { GO_ARENA_INDEX, GO_PAGE_CHUNKS, GO_SUMMARY_LEVELS, goRelease } from '../lib/detect/go-runtime';
import type { Explanation } from '../lib/explain/explain';
import { binaryFacts } from '../lib/explain/binary-facts';
import { fixture, fixtureGo, fixtureGo119 } from './helpers/fixtures';
import { Quiescer, consume } from './helpers/model';
import { LineReader, untilIdle } from './helpers/ready';
import { until } from './helpers/reliability';
import { startStranger } from './helpers/stranger';
import { tasksOf } from './helpers/trace';

// The first run on a machine fetches a toolchain per release and builds its standard library.
const T = { timeout: 600_000 };
const MiB = 1n << 20n;
const pageUp = (n: bigint) => (n + 4095n) & ~4095n;
// go-heap-arena and go-arena-metadata (one per arena) are compared apart:
// the runtime may reserve a second arena early in one instance and not the
// other (timing, as test/detect.test.ts says; seen in 2 of about 40 runs).
const GO_CLASSES = ['go-page-summary', 'go-scavenge-index', 'go-arena-index', 'go-page-chunks'];

/**
 * The explanation of bin -ready traced from its start: once it said ready
 * and every thread sleeps (its start-up done), taken while it is held still.
 */
async function explainRun(bin: string): Promise<Explanation> {
  const session = run(bin, ['-ready'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = new LineReader(session.stdout!);
  const pid = await session.ready;
  const q = new Quiescer(pid);
  const consuming = consume(session, q);
  await lines.next(/^ready$/);
  await untilIdle(pid);
  const e = await q.held(() => session.explain()!);
  process.kill(pid, 'SIGUSR1');
  await consuming;
  return e;
}

/**
 * The explanation of an identical instance that a stranger started: attached
 * once it said ready, has its Ms and sleeps, and taken while it is held still.
 */
async function explainAttached(bin: string, minThreads: number): Promise<Explanation> {
  const target = await startStranger(bin, ['-ready']);
  try {
    await target.waitFor(/^ready$/m);
    await until(() => tasksOf(target.pid).length >= minThreads, `${minThreads} threads in ${target.pid}`);
    await untilIdle(target.pid);
    // engine 'ptrace': the Quiescer holds the target still by the group-stops only ptrace reports.
    const session = attach(target.pid, { engine: 'ptrace' });
    const q = new Quiescer(target.pid);
    const consuming = consume(session, q);
    await session.ready;
    const e = await q.held(() => session.explain()!);
    await session.detach();
    await consuming;
    return e;
  } finally {
    target.kill();
  }
}

const cls = (e: Explanation, name: string) => e.classes.find((c) => c.class === name);
const pct = (e: Explanation) => (100 * e.explainedKb) / e.modelKb;

/** The exact sizes Go's formulas and the release table give. */
function assertGoStructures(e: Explanation, version: string, how: string): void {
  const go = goRelease(version)!;
  const expect: [string, number, bigint][] = [
    ['go-page-summary', 5, GO_SUMMARY_LEVELS.reduce((s, n) => s + n, 0n)],
    ['go-scavenge-index', 1, go.scavengeIndex],
    ['go-arena-index', 1, GO_ARENA_INDEX],
    ['go-page-chunks', 1, GO_PAGE_CHUNKS],
  ];
  for (const [name, count, bytes] of expect) {
    const c = cls(e, name);
    assert.ok(c, `${how}: ${name} is named`);
    assert.deepEqual([c.count, c.bytes], [count, bytes], `${how}: ${name}`);
  }
  const seen = `${e.classes.map((c) => `${c.class} ${c.count} ${c.bytes}`).join(', ')}; unexplained ${e.unexplained.map((u) => `${u.start.toString(16)}-${u.end.toString(16)} ${u.perms}`).join(', ')}`;
  const arenas = cls(e, 'go-heap-arena');
  assert.ok(arenas, `${how}: go-heap-arena in ${seen}`);
  // At least one whole 64 MiB arena. Not checked: that the class is a
  // multiple of 64 MiB — once, in a clean-clone CI run, go1.23.12's ex7 had
  // 8 MiB more (which side, and which region, was not recorded; the message
  // below now says), never in 30+ runs here; left as a known gap.
  assert.ok(arenas.bytes >= 64n * MiB, `${how}: go-heap-arena ${arenas.bytes} in ${seen}`);
  // One heapArena struct per arena, seen made; after an attach only the
  // first arena's is found (the others lie wherever the kernel put them).
  const meta = cls(e, 'go-arena-metadata');
  assert.ok(meta, `${how}: go-arena-metadata in ${seen}`);
  const n = how === 'run' ? arenas.count : 1;
  assert.deepEqual([meta.count, meta.bytes], [n, BigInt(n) * pageUp(go.heapArenaMeta)], `${how}: go-arena-metadata`);
}

function assertSameGoClasses(ran: Explanation, attached: Explanation): void {
  for (const e of [ran, attached]) assert.ok(cls(e, 'go-heap-arena')!.count >= 1);
  if (cls(ran, 'go-heap-arena')!.count === 1 && cls(attached, 'go-heap-arena')!.count === 1) {
    const [a, b] = [cls(ran, 'go-arena-metadata')!, cls(attached, 'go-arena-metadata')!];
    assert.deepEqual([b.count, b.bytes], [a.count, a.bytes], 'go-arena-metadata');
  }
  for (const name of GO_CLASSES) {
    const a = cls(ran, name);
    const b = cls(attached, name);
    assert.ok(a && b, name);
    assert.equal(b.count, a.count, `${name}: same count (run ${a.count} × ${a.each}, attach ${b.count} × ${b.each})`);
    const diff = a.bytes > b.bytes ? a.bytes - b.bytes : b.bytes - a.bytes;
    assert.ok(diff * 100n <= a.bytes, `${name}: ${a.bytes} vs ${b.bytes}`);
  }
}

/** One release of each row of the table in lib/detect/go-runtime.ts and between (fetched once per machine). */
const RELEASES = ['go1.21.13', 'go1.22.12', 'go1.23.12', 'go1.24.0', 'go1.25.0'];

const cases: [string, () => Promise<string>, 'cgo' | 'pure'][] = [
  ['ex7, current Go', () => fixture('ex7'), 'cgo'],
  ['ex7pure, current Go', () => fixture('ex7pure'), 'pure'],
  ['ex7, Go 1.19', () => fixtureGo119('ex7'), 'cgo'],
  ['ex7pure, Go 1.19', () => fixtureGo119('ex7pure'), 'pure'],
  ['ex7 linked statically against musl, current Go', () => fixture('ex7musl'), 'cgo'],
  ...RELEASES.flatMap((v): typeof cases => [
    [`ex7, ${v}`, () => fixtureGo('ex7', v), 'cgo'],
    [`ex7pure, ${v}`, () => fixtureGo('ex7pure', v), 'pure'],
  ]),
];

describe('the Go runtime by name, run and attach', () => {
  for (const [name, build, kind] of cases) {
    test(`${name}: ≥ 99 % of VmSize named, the same structures both ways, every thread a ${kind === 'cgo' ? 'pthread' : 'raw clone'}`, T, async (t) => {
      const bin = await build();
      const version = binaryFacts(bin).goVersion!;
      const ran = await explainRun(bin);
      const attached = await explainAttached(bin, kind === 'cgo' ? 4 : 3);
      for (const [e, how] of [[ran, 'run'], [attached, 'attach']] as const) {
        assert.ok(pct(e) >= 99, `${how}: ${pct(e).toFixed(2)} % explained`);
        assertGoStructures(e, version, how);
        const others = e.threads.filter((t) => t.kind !== 'main');
        assert.ok(others.length >= 2, `${how}: the Ms`);
        assert.deepEqual([...new Set(others.map((t) => t.kind))], [kind === 'cgo' ? 'cgo-thread' : 'go-thread'], `${how}: thread kinds`);
      }
      t.diagnostic(`${version}: run ${pct(ran).toFixed(2)} % of ${ran.modelKb} kB, attach ${pct(attached).toFixed(2)} % of ${attached.modelKb} kB`);
      assert.equal(cls(ran, 'go-page-summary')!.basis, 'proof');
      assert.equal(cls(attached, 'go-page-summary')!.basis, 'shape');
      assertSameGoClasses(ran, attached);
      // Before the attach, nobody's: what predates it is not the main thread's.
      assert.equal(attached.byCreator[0]!.tid, null);
      assert.ok(attached.threads.filter((t) => t.kind !== 'main').every((t) => t.basis !== 'none'));
    });
  }
});

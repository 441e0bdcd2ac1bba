// lib/detect/go-shape.ts on hand-made /proc/PID/maps: where it must find the
// Go runtime's start-up structures, and where it must not be fooled. The
// layouts are the ones traced on ex7 (docs/go-glibc-musl.md, "The Go
// runtime's structures after an attach"); test/go-structures.test.ts checks
// real programs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GO_ARENA_INDEX, GO_PAGE_CHUNKS, GO_SUMMARY_LEVELS, goRelease } from '../lib/detect/go-runtime';
import { goRuntimeByShape } from '../lib/detect/go-shape';
import { classifyByShape } from '../lib/detect/shape';
import { AddressSpace, formatMapsLine } from '../lib/model';

const MiB = 1n << 20n;
const KiB = 1n << 10n;
const go126 = goRelease('go1.26.8')!;
const [L0, L1, L2, L3, L4] = GO_SUMMARY_LEVELS as [bigint, bigint, bigint, bigint, bigint];
const SPAN = L2 + L3 + L4 + go126.scavengeIndex;

type Line = [start: bigint, end: bigint, perms: string];

function regionsOf(lines: Line[]) {
  const text = lines
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([s, e, p]) => formatMapsLine(s, e, p, 0n, '00:00', 0n, '') + '\n')
    .join('');
  const space = new AddressSpace(1);
  space.seed(text, { tid: 1, seq: 0, time: 0, cause: 'snapshot' });
  return space.regions();
}

/**
 * Go 1.26's start-up layout below a 2 MiB-aligned `top` of level 2, with
 * level 1 `gap` bytes above it and what lies in the gap.
 */
function layout(top: bigint, gap: bigint, inGap: Line[]): { lines: Line[]; l1: bigint; bottom: bigint } {
  const l1 = top + gap;
  const bottom = top - SPAN;
  const lines: Line[] = [
    [0xc000000000n, 0xc000400000n, 'rw-p'],
    [0xc000400000n, 0xc004000000n, '---p'],
    // The arena index and 1 MiB more RW below it, merged.
    [bottom - GO_ARENA_INDEX - MiB, bottom, 'rw-p'],
    // Levels 2..4 and the scavenge index, one run split by a commit.
    [bottom, bottom + 100n * MiB, '---p'],
    [bottom + 100n * MiB, bottom + 100n * MiB + 4n * KiB, 'rw-p'],
    [bottom + 100n * MiB + 4n * KiB, top, '---p'],
    ...inGap,
    [l1, l1 + L1, '---p'],
    // Level 0, committed whole, merged with the persistentalloc chunk above it.
    [l1 + L1, l1 + L1 + L0 + 256n * KiB, 'rw-p'],
  ];
  return { lines, l1, bottom };
}

const byClass = (xs: ReturnType<typeof goRuntimeByShape>, cls: string) => xs.filter((x) => x.cls === cls).map((x) => [x.start, x.end]);

describe('the Go runtime by shape', () => {
  test('Go 1.26: the heapArena struct in the gap below level 1, the chunks below the arena index', () => {
    const top = 0x7f1000000000n;
    const meta = (go126.heapArenaMeta + 4095n) & ~4095n;
    const { lines, l1, bottom } = layout(top, 0x60000n, [[l1Of(top, 0x60000n) - meta, l1Of(top, 0x60000n), 'rw-p']]);
    const found = goRuntimeByShape(regionsOf(lines), go126);
    assert.deepEqual(byClass(found, 'go-page-summary'), [
      [l1 + L1, l1 + L1 + L0], [l1, l1 + L1], [top - L2, top], [top - L2 - L3, top - L2], [top - L2 - L3 - L4, top - L2 - L3],
    ]);
    assert.deepEqual(byClass(found, 'go-scavenge-index'), [[bottom, bottom + go126.scavengeIndex]]);
    assert.deepEqual(byClass(found, 'go-arena-index'), [[bottom - GO_ARENA_INDEX, bottom]]);
    assert.deepEqual(byClass(found, 'go-arena-metadata'), [[l1 - meta, l1]]);
    assert.deepEqual(byClass(found, 'go-page-chunks'), [[bottom - GO_ARENA_INDEX - GO_PAGE_CHUNKS, bottom - GO_ARENA_INDEX]]);
  });

  test("a musl thread's 8 KiB guard in the gap is not level 1, though a MiB from it is mostly PROT_NONE", () => {
    const top = 0x7f1000000000n;
    const gap = 0x60000n;
    const l1 = l1Of(top, gap);
    // A thread's 140 KiB mapping right below the heapArena struct, merged with it.
    const guard = l1 - 0x12000n - 0x23000n;
    const { lines } = layout(top, gap, [[guard, guard + 0x2000n, '---p'], [guard + 0x2000n, l1, 'rw-p']]);
    const found = goRuntimeByShape(regionsOf(lines), go126);
    assert.deepEqual(byClass(found, 'go-page-summary')[1], [l1, l1 + L1]);
    assert.deepEqual(byClass(found, 'go-arena-metadata'), [[l1 - 0x12000n, l1]]);
  });

  test('nothing is named where the run is not there (a C program, or another release\'s sizes)', () => {
    const top = 0x7f1000000000n;
    const { lines } = layout(top, 0x60000n, []);
    assert.equal(goRuntimeByShape(regionsOf(lines), goRelease('go1.19.13')!).length, 0, 'an 8 MiB scavenge index does not fit a 512 MiB one');
    assert.equal(goRuntimeByShape(regionsOf([[0x400000n, 0x500000n, 'rw-p']]), go126).length, 0);
  });
});

describe('a Go heap arena by shape', () => {
  const classes = (lines: Line[]) => {
    const all = regionsOf(lines);
    return all.map((r) => classifyByShape(r, all));
  };

  test("one commit split into several VMAs is one commit: Debian's caddy (Go 1.19.8) after days, as /proc showed it", () => {
    // Go's huge-page madvise on parts of its heap keeps 2 MiB VMAs apart; together they are 12 MiB, a multiple of 4 MiB.
    assert.deepEqual(classes([
      [0xc000000000n, 0xc000200000n, 'rw-p'],
      [0xc000200000n, 0xc000400000n, 'rw-p'],
      [0xc000400000n, 0xc000a00000n, 'rw-p'],
      [0xc000a00000n, 0xc000c00000n, 'rw-p'],
      [0xc000c00000n, 0xc004000000n, '---p'],
    ]), Array(5).fill('go-heap-arena'));
  });

  test('a RW run that ends off the 4 MiB step is not a Go commit', () => {
    assert.deepEqual(classes([
      [0xc000000000n, 0xc000200000n, 'rw-p'],
      [0xc000200000n, 0xc000600000n, 'rw-p'],
      [0xc000600000n, 0xc004000000n, '---p'],
    ]), [undefined, undefined, undefined]);
  });
});

function l1Of(top: bigint, gap: bigint): bigint {
  return top + gap;
}

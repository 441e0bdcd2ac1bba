// The Go runtime's start-up structures found in /proc/PID/maps after an
// attach, from the binary's Go version (docs/go-glibc-musl.md, "Shapes in
// /proc/PID/maps"). The kernel places anonymous mmaps top-down, each below
// the previous one, those of 2 MiB or more on a 2 MiB boundary (THP
// alignment), and merges neighbours of equal protection. So the runtime's
// start-up mmaps (lib/detect/go-runtime.ts, in Go's order) lie like this,
// from high addresses to low:
//
//   level 0 (128 KiB, committed whole), level 1 (1 MiB)      right below the first chunk
//   [alignment gap < 2 MiB: later small mmaps fill it top-down]
//   level 2, level 3, level 4, the scavenge index            one PROT_NONE run, split by commits
//   the arena index (32 MiB RW)                              right below
//
// and the heapArena struct and pageAlloc's chunks go where the kernel's
// top-down search put them: in the gap if they fit, else below the arena
// index. The layout is found by anchoring on the run and checking every
// piece; a structure whose place does not check out is not named.
import type { Region } from '../model';
import { PROT_RWX, PROT_WRITE } from '../syscalls/abi';
import { GO_ARENA_INDEX, GO_PAGE_CHUNKS, GO_STRUCTURE_CLASS as GO, GO_SUMMARY_LEVELS, type GoRelease } from './go-runtime';
import type { Extent } from './pipeline';

const PAGE = 4096n;
/** THP alignment of the kernel's placement (PMD size on x86_64). */
const THP = 2n << 20n;

const pageUp = (n: bigint): bigint => (n + PAGE - 1n) & ~(PAGE - 1n);

/** Anonymous memory, Go's own names included ([anon: Go: …] since 1.25), not the brk heap. */
function anonymous(r: Region): boolean {
  return r.kind === 'anon' && r.name !== '[heap]';
}

class AnonIndex {
  readonly #rs: readonly Region[];

  constructor(all: readonly Region[]) {
    this.#rs = all.filter(anonymous);
  }

  get regions(): readonly Region[] {
    return this.#rs;
  }

  /** The anonymous regions covering [lo, hi) without a hole, or undefined. */
  run(lo: bigint, hi: bigint): Region[] | undefined {
    let a = 0;
    let b = this.#rs.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (this.#rs[m]!.end <= lo) a = m + 1;
      else b = m;
    }
    const out: Region[] = [];
    let at = lo;
    for (let i = a; i < this.#rs.length && at < hi; i++) {
      const r = this.#rs[i]!;
      if (r.start > at) return undefined;
      out.push(r);
      at = r.end;
    }
    return at >= hi ? out : undefined;
  }

  /** Bytes of [lo, hi) that are PROT_NONE (the range must be covered). */
  none(lo: bigint, hi: bigint): bigint {
    let n = 0n;
    for (const r of this.run(lo, hi) ?? []) {
      if ((r.prot & PROT_RWX) !== 0) continue;
      n += (r.end < hi ? r.end : hi) - (r.start > lo ? r.start : lo);
    }
    return n;
  }

  /** [lo, hi) is anonymous memory without a hole, all of it writable. */
  writable(lo: bigint, hi: bigint): boolean {
    const run = this.run(lo, hi);
    return run !== undefined && run.every((r) => (r.prot & PROT_WRITE) !== 0);
  }

  /** [lo, hi) is anonymous memory without a hole, at least half of it still PROT_NONE (a reservation). */
  reserved(lo: bigint, hi: bigint): boolean {
    return this.run(lo, hi) !== undefined && 2n * this.none(lo, hi) >= hi - lo;
  }
}

/**
 * Where level 1 may begin: at `top` if the PROT_NONE run goes on there, else
 * at a PROT_NONE region starting within the alignment gap above it (which
 * may also hold later small reservations: musl's 8 KiB thread guards).
 */
function levelOneBases(ix: AnonIndex, top: bigint): bigint[] {
  const out: bigint[] = [];
  for (const r of ix.regions) {
    if (r.end <= top || (r.prot & PROT_RWX) !== 0) continue;
    if (r.start >= top + THP) break;
    out.push(r.start <= top ? top : r.start);
  }
  return out;
}

/**
 * The runtime's start-up structures in the regions of a Go process of
 * release `go`, each as the range it was mapped at; [] when the layout is
 * not there (not Go, an unknown release, another architecture's sizes).
 */
export function goRuntimeByShape(all: readonly Region[], go: GoRelease): Extent[] {
  const ix = new AnonIndex(all);
  const [l0, l1, ...big] = GO_SUMMARY_LEVELS as [bigint, bigint, ...bigint[]];
  // From the top: levels 2..4, then the scavenge index.
  const block = [...big, go.scavengeIndex];
  const span = block.reduce((s, n) => s + n, 0n);
  const fits = (bottom: bigint): Extent[] | undefined => {
    const top = bottom + span;
    if (!ix.writable(bottom - GO_ARENA_INDEX, bottom) || !ix.reserved(bottom, top)) return undefined;
    // Level 0 is committed whole right after the burst: RW above level 1.
    const s = levelOneBases(ix, top).find((b) => ix.reserved(b, b + l1) && ix.writable(b + l1, b + l1 + l0));
    if (s === undefined) return undefined;
    const out: Extent[] = [
      { cls: GO.summary, start: s + l1, end: s + l1 + l0 },
      { cls: GO.summary, start: s, end: s + l1 },
    ];
    let at = top;
    for (const [i, n] of block.entries()) {
      out.push({ cls: i < big.length ? GO.summary : GO.scavengeIndex, start: at - n, end: at });
      at -= n;
    }
    out.push({ cls: GO.arenaIndex, start: bottom - GO_ARENA_INDEX, end: bottom });
    // The RW mmaps that follow, placed top-down: into the gap below level 1
    // while they fit, else below the arena index.
    let high = s;
    let low = bottom - GO_ARENA_INDEX;
    const place = (len: bigint): Extent => {
      const n = pageUp(len);
      if (high - top >= n) return { cls: GO.summary, start: (high -= n), end: high + n };
      return { cls: GO.summary, start: (low -= n), end: low + n };
    };
    const meta = { ...place(go.heapArenaMeta), cls: GO.heapArenaMeta };
    const chunks = { ...place(GO_PAGE_CHUNKS), cls: GO.pageChunks };
    for (const x of [meta, chunks]) if (ix.writable(x.start, x.end)) out.push(x);
    return out;
  };
  // The run's bottom is a region boundary unless a commit hides it (Go 1.19
  // commits the scavenge index's first 4 MiB); then its top is one.
  const tried = new Set<bigint>();
  for (const r of ix.regions) {
    for (const bottom of [r.start, r.end - span]) {
      if (tried.has(bottom)) continue;
      tried.add(bottom);
      const found = fits(bottom);
      if (found) return found;
    }
  }
  return [];
}

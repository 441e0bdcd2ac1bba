// Classes for regions that existed before liveprobe attached: no syscall
// will ever show how they were made, so they are read from their shape in
// /proc/PID/maps (docs/go-glibc-musl.md, "Shapes in /proc/PID/maps"). Each such class is
// reported with basis 'shape', never as proof.
import type { Region, RegionClass } from '../model';
import type { Extent } from './pipeline';
import { PROT_RWX, PROT_WRITE } from '../syscalls/abi';
import { GO_COMMIT_STEP, HEAP_WINDOW as HEAP, MAX_THREAD_GUARD as MAX_GUARD, MIN_THREAD_STACK as MIN_STACK } from './signatures';

function anon(r: Region | undefined): r is Region {
  return r !== undefined && r.kind === 'anon' && r.name === '';
}

function isNone(r: Region): boolean {
  return (r.prot & PROT_RWX) === 0;
}

/**
 * Regions (from the sorted list) that cover [start, end) without a gap, or
 * undefined. The first and last may reach beyond it: Go reserves arenas
 * next to each other, and their PROT_NONE parts merge across windows.
 */
function covering(all: readonly Region[], start: bigint, end: bigint): Region[] | undefined {
  const out = all.filter((x) => x.end > start && x.start < end);
  if (out.length === 0 || out[0]!.start > start || out.at(-1)!.end < end) return undefined;
  for (let i = 1; i < out.length; i++) if (out[i - 1]!.end !== out[i]!.start) return undefined;
  return out;
}

/**
 * Adjacent RW pieces as one [start, end) run each. The kernel may keep one
 * commit in several VMAs: Go's madvise of huge-page flags on parts of its
 * heap splits it (Debian's caddy, Go 1.19: 2 MiB VMAs in a 12 MiB commit).
 */
function rwRuns(rw: readonly Region[]): [bigint, bigint][] {
  const runs: [bigint, bigint][] = [];
  for (const p of rw) {
    const last = runs.at(-1);
    if (last && last[1] === p.start) last[1] = p.end;
    else runs.push([p.start, p.end]);
  }
  return runs;
}

/**
 * A 64 MiB-aligned window of anonymous memory, PROT_NONE but for RW parts:
 * a glibc arena heap (one RW prefix at the base, grown page by page) or a Go
 * heap arena (RW made in 4 MiB-aligned steps, anywhere: Go 1.26 starts at a
 * random offset).
 */
function heapWindow(r: Region, all: readonly Region[]): RegionClass | undefined {
  const base = r.start - (r.start % HEAP);
  const pieces = covering(all, base, base + HEAP);
  if (!pieces || !pieces.every(anon)) return undefined;
  const rw = pieces.filter((p) => !isNone(p));
  if (rw.length === 0 || !rw.every((p) => (p.prot & PROT_WRITE) !== 0)) return undefined;
  if (rwRuns(rw).every(([s, e]) => s % GO_COMMIT_STEP === 0n && e % GO_COMMIT_STEP === 0n)) return 'go-heap-arena';
  // glibc's heap is exactly one window: its RW part starts at the base, its PROT_NONE rest ends at the next.
  const last = pieces.at(-1)!;
  if (rw.length === 1 && rw[0]!.start === base && pieces[0]!.start === base && last.end === base + HEAP) return 'glibc-arena-heap';
  return undefined;
}

export function classifyByShape(r: Region, all: readonly Region[]): RegionClass | undefined {
  if (!anon(r)) return undefined;
  const heap = heapWindow(r, all);
  if (heap) return heap;
  const i = all.indexOf(r);
  const below = all[i - 1];
  const above = all[i + 1];
  // pthread stack: a small PROT_NONE guard right below a RW stack.
  if (isNone(r) && r.end - r.start <= MAX_GUARD && anon(above) && above.start === r.end && (above.prot & PROT_WRITE) !== 0 &&
      above.end - above.start >= MIN_STACK) {
    return 'guard-page';
  }
  if ((r.prot & PROT_WRITE) !== 0 && anon(below) && below.end === r.start && isNone(below) && below.end - below.start <= MAX_GUARD &&
      r.end - r.start >= MIN_STACK) {
    return 'pthread-stack';
  }
  return undefined;
}

/**
 * Thread stacks whose guard the kernel merged into a larger PROT_NONE mapping
 * right below (a reservation that ended where the stack's mmap began), so no
 * small guard is left to see: a RW region holding a thread's stack pointer,
 * not otherwise classed, directly above such a mapping. Its top `guard`
 * bytes are the guard (the libc's size: it cannot be read from the maps);
 * the RW region, capped at `cap` when the libc's stack size is known, is
 * the stack (docs/go-glibc-musl.md, "Shapes in /proc/PID/maps"). Measured
 * on a loaded machine: ex7 on musl, one stack of six above a 2.1 MiB `---p`.
 */
export function stacksOnMergedGuards(all: readonly Region[], sps: readonly bigint[], guard: bigint, cap: bigint | null): Extent[] {
  const out: Extent[] = [];
  const seen = new Set<Region>();
  for (const sp of sps) {
    const i = all.findIndex((x) => sp >= x.start && sp < x.end);
    const r = all[i];
    const below = all[i - 1];
    if (!anon(r) || seen.has(r) || r.origin.cause !== 'snapshot' || r.class !== null || (r.prot & PROT_WRITE) === 0) continue;
    if (r.end - r.start < MIN_STACK || classifyByShape(r, all) !== undefined) continue;
    if (!anon(below) || below.end !== r.start || !isNone(below) || below.origin.cause !== 'snapshot' || below.end - below.start <= MAX_GUARD) continue;
    seen.add(r);
    const end = cap !== null && r.start + cap < r.end ? r.start + cap : r.end;
    out.push({ cls: 'guard-page', start: below.end - guard, end: below.end }, { cls: 'pthread-stack', start: r.start, end });
  }
  return out;
}

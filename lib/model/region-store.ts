// The region store under an address-space model: the interval map, the
// byte count it keeps for VmSize, page rounding, and the out-of-order ledger
// (docs/ordering-and-races.md): the primitives the updates in
// address-space.ts, mremap.ts and shm.ts are written in. Nothing here knows a
// syscall; it only carves, links and updates ranges.
import type { Provenance, Region, RegionAttrs } from './region';
import { isGate, permsOf } from './region';
import { RegionMap, type RegionNode } from './region-map';

/** A range a thread's syscall found free while the model still had it (returned at `time`, by `tid`). */
interface FreedRange {
  start: bigint;
  end: bigint;
  time: number;
  tid: number;
}

export function attrsEqual(a: RegionAttrs, b: RegionAttrs): boolean {
  return (
    a === b ||
    (a.prot === b.prot &&
      a.shared === b.shared &&
      a.kind === b.kind &&
      a.name === b.name &&
      a.dev === b.dev &&
      a.inode === b.inode &&
      a.shmid === b.shmid &&
      a.dontFork === b.dontFork &&
      a.mayWrite === b.mayWrite &&
      a.class === b.class &&
      a.origin.seq === b.origin.seq)
  );
}

/** Offsets matter for memory that is a window on a file (or a shmem file). */
export function hasOffset(a: RegionAttrs): boolean {
  return a.kind === 'file' || a.kind === 'shm';
}

function rangeKey(start: bigint, end: bigint, a: RegionAttrs): string {
  return `${start}-${end}-${a.prot}-${a.shared}-${a.name}`;
}

export class RegionStore {
  /**
   * Runs a re-seed from /proc/PID/maps: a region the maps show exactly as
   * before (same range, permissions, sharing, name) keeps its provenance and
   * class; the rest is the re-seed's.
   */
  keepingAttrs(reseed: () => void): void {
    const before = new Map<string, RegionAttrs>();
    for (const n of this.map.nodes()) before.set(rangeKey(n.start, n.end, n.attrs), n.attrs);
    reseed();
    for (const n of this.map.nodes()) {
      const a = before.get(rangeKey(n.start, n.end, n.attrs));
      if (a) n.attrs = a;
    }
  }


  readonly map = new RegionMap();
  /** VmSize: every region but the [vsyscall] gate page. */
  bytes = 0n;
  /** Ranges the model still had when another thread's syscall found them free; see claimFree. */
  freedEarly: FreedRange[] = [];

  constructor(readonly page: bigint) {}

  /** Empties the store. */
  clear(): void {
    this.map.clear();
    this.bytes = 0n;
    this.freedEarly = [];
  }

  /**
   * A syscall that the kernel lets use only free memory (mmap without
   * MAP_FIXED, mremap without MREMAP_FIXED, shmat without SHM_REMAP, brk
   * growth) got [lo, hi). If the model still has memory there, another
   * thread freed it first (munmap, mremap, shmdt, brk) and the tracer has
   * not reported that call yet: records come in the order the tracer saw
   * the syscalls return, which for two threads can differ from the order the
   * kernel applied them (glibc's arena set-up races like this:
   * docs/ordering-and-races.md, "The arena set-up race"). The range is
   * remembered so that the late removal leaves the new mapping alone; see
   * removable.
   */
  claimFree(lo: bigint, hi: bigint, cause: Provenance): void {
    for (let n = this.map.firstEndingAfter(lo); n && n.start < hi; n = n.next[0]!) {
      this.freedEarly.push({ start: n.start > lo ? n.start : lo, end: n.end < hi ? n.end : hi, time: cause.time, tid: cause.tid });
    }
    // Stale entries are harmless (see removable's time test); keep the list short.
    if (this.freedEarly.length > 256) this.freedEarly.splice(0, this.freedEarly.length - 256);
  }

  /**
   * The parts of [lo, hi) a removal may take out: not those another thread
   * found free while this call was under way (it entered before that
   * thread's call returned, so it may be the call that freed them). Those
   * parts are consumed.
   */
  removable(lo: bigint, hi: bigint, cause: Provenance): [bigint, bigint][] {
    if (this.freedEarly.length === 0 || cause.entered === undefined) return [[lo, hi]];
    let ranges: [bigint, bigint][] = [[lo, hi]];
    const keep: FreedRange[] = [];
    for (const t of this.freedEarly) {
      if (t.tid === cause.tid || cause.entered >= t.time || t.end <= lo || t.start >= hi) {
        keep.push(t);
        continue;
      }
      ranges = ranges.flatMap(([a, b]): [bigint, bigint][] => {
        if (t.end <= a || t.start >= b) return [[a, b]];
        const out: [bigint, bigint][] = [];
        if (t.start > a) out.push([a, t.start]);
        if (t.end < b) out.push([t.end, b]);
        return out;
      });
      if (t.start < lo) keep.push({ ...t, end: lo });
      if (t.end > hi) keep.push({ ...t, start: hi });
    }
    this.freedEarly = keep;
    return ranges;
  }

  lastEnd(): bigint {
    let end = 0n;
    for (let n = this.map.first(); n; n = n.next[0]!) end = n.end;
    return end;
  }

  pageAlign(len: bigint): bigint {
    const rem = len % this.page;
    return rem === 0n ? len : len + (this.page - rem);
  }

  offsetAt(n: RegionNode, addr: bigint): bigint {
    return hasOffset(n.attrs) ? n.offset + (addr - n.start) : 0n;
  }

  link(start: bigint, end: bigint, offset: bigint, attrs: RegionAttrs): RegionNode {
    if (!isGate(attrs.name)) this.bytes += end - start;
    return this.map.insert(start, end, offset, attrs);
  }

  unlink(n: RegionNode): void {
    if (!isGate(n.attrs.name)) this.bytes -= n.end - n.start;
    this.map.remove(n);
  }

  /** Splits n at addr (n.start < addr < n.end): n keeps the low part; returns the high part. */
  splitAt(n: RegionNode, addr: bigint): RegionNode {
    const right = this.map.insert(addr, n.end, this.offsetAt(n, addr), n.attrs);
    n.end = addr;
    return right;
  }

  /** Unmaps [lo, hi) in the model; returns the pieces taken out, in order. */
  carve(lo: bigint, hi: bigint): RegionNode[] {
    const removed: RegionNode[] = [];
    let n = this.map.firstEndingAfter(lo);
    if (n && n.start < lo) n = this.splitAt(n, lo);
    while (n && n.start < hi) {
      if (n.end > hi) this.splitAt(n, hi);
      const next: RegionNode | null = n.next[0]!;
      this.unlink(n);
      removed.push(n);
      n = next;
    }
    return removed;
  }

  /**
   * Applies change to the mapped parts of [lo, hi), splitting at the ends.
   * stopAtHole: stop at the first unmapped page (mprotect's behaviour).
   * Returns where the change stopped. Neighbours that became alike are merged.
   */
  update(lo: bigint, hi: bigint, change: (a: RegionAttrs) => RegionAttrs, stopAtHole: boolean): bigint {
    let n = this.map.firstEndingAfter(lo);
    let cursor = lo;
    if (stopAtHole && (!n || n.start > lo)) return lo;
    if (n && n.start < lo) n = this.splitAt(n, lo);
    // Pieces of one mapping share one attrs object; keep them sharing one after the change.
    let lastIn: RegionAttrs | undefined;
    let lastOut: RegionAttrs | undefined;
    while (n && n.start < hi) {
      if (stopAtHole && n.start !== cursor) break;
      if (n.end > hi) this.splitAt(n, hi);
      if (n.attrs !== lastIn) {
        lastIn = n.attrs;
        lastOut = change(n.attrs);
      }
      n.attrs = lastOut!;
      cursor = n.end;
      n = n.next[0]!;
    }
    this.mergeAround(lo, cursor > lo ? cursor : hi);
    return cursor;
  }

  /** Merges alike neighbours from the region before lo to the region after hi: same mapping, same origin, contiguous. */
  mergeAround(lo: bigint, hi: bigint): void {
    let n = lo > 0n ? this.map.floor(lo - 1n) : null;
    n ??= this.map.first();
    while (n) {
      const next: RegionNode | null = n.next[0]!;
      if (!next || n.start > hi) break;
      if (
        n.end === next.start &&
        attrsEqual(n.attrs, next.attrs) &&
        (!hasOffset(n.attrs) || next.offset === n.offset + (n.end - n.start))
      ) {
        n.end = next.end;
        this.map.remove(next);
      } else {
        n = next;
      }
    }
  }

}

export function toRegion(n: RegionNode): Region {
  return { ...n.attrs, start: n.start, end: n.end, offset: n.offset, perms: permsOf(n.attrs.prot, n.attrs.shared) };
}

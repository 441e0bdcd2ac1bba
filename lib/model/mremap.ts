// mremap applied to the model: shrink and grow in place, moves (MAYMOVE,
// FIXED, DONTUNMAP, a second mapping of shared memory), and the partial
// moves a failed call can leave (Linux 6.17's remap_move). Written in the
// store's primitives (region-store.ts); the caller emits the change.
import { EFAULT, MREMAP_DONTUNMAP, MREMAP_FIXED } from '../syscalls/abi';
import type { Provenance, RegionAttrs } from './region';
import type { RegionNode } from './region-map';
import { type RegionStore, hasOffset } from './region-store';

/** The range an update changed (the destination for a move) and, for mremap, the source. */
export interface Changed {
  start: bigint;
  end: bigint;
  from?: { start: bigint; end: bigint };
}

function changed(start: bigint, end: bigint, from: Changed['from']): Changed {
  return { start, end, from };
}

/**
 * A failed mremap that still moved memory. Since Linux 6.17 an mremap with
 * MREMAP_FIXED and old_len == new_len moves the source VMA by VMA
 * (mm/mremap.c remap_move). A VMA that cannot join such a batch (one whose
 * file places its mappings itself, shm_get_unmapped_area: a SysV segment)
 * fails the call with EFAULT after the VMAs before it have moved, or
 * before anything moved if it is the first (measured on 6.18: anonymous,
 * shmem and ext4-file VMAs move in a batch, SysV ones do not).
 */
export function applyFailedMremap(
  s: RegionStore, oldAddr: bigint, oldLen: bigint, newLen: bigint, flags: number, newAddr: bigint, errno: number, cause: Provenance,
): Changed | undefined {
  const size = s.pageAlign(oldLen);
  if (errno !== EFAULT || !(flags & MREMAP_FIXED) || size === 0n || size !== s.pageAlign(newLen)) return undefined;
  const end = oldAddr + size;
  const first = s.map.find(oldAddr);
  if (!first) return undefined; // no VMA at the start: refused up front
  let stop: bigint | undefined;
  for (let n: RegionNode | null = first; n && n.start < end; n = n.next[0]!) {
    if (!batchMovable(n.attrs)) {
      stop = n.start > oldAddr ? n.start : oldAddr;
      break;
    }
  }
  if (stop === undefined || stop === oldAddr) return undefined; // failed for a reason we cannot see, or at the first VMA
  return applyMremap(s, oldAddr, stop - oldAddr, stop - oldAddr, flags, newAddr, cause);
}

function batchMovable(a: RegionAttrs): boolean {
  // Device files with their own get_unmapped_area would refuse too; the
  // tracer does not tell them apart, and programs do not mremap them.
  return a.kind !== 'shm';
}

/**
 * mremap that returned newAddr. Covers shrink and grow in place, MAYMOVE
 * and FIXED moves (the destination is replaced), DONTUNMAP (the source
 * stays mapped), and old_len 0 (a second mapping of shared memory).
 */
export function applyMremap(
  s: RegionStore, oldAddr: bigint, oldLen: bigint, newLen: bigint, flags: number, newAddr: bigint, cause: Provenance,
): Changed {
  const oldSize = s.pageAlign(oldLen);
  const newSize = s.pageAlign(newLen);
  const from = { start: oldAddr, end: oldAddr + oldSize };
  if (oldSize === 0n) {
    const src = s.map.find(oldAddr);
    if (src) {
      s.carve(newAddr, newAddr + newSize);
      s.link(newAddr, newAddr + newSize, s.offsetAt(src, oldAddr), { ...src.attrs, origin: cause, made: undefined, within: undefined, changed: cause });
    }
    return changed(newAddr, newAddr + newSize, from);
  }
  if (newAddr === oldAddr) {
    if (newSize < oldSize) {
      for (const [lo, hi] of s.removable(oldAddr + newSize, oldAddr + oldSize, cause)) s.carve(lo, hi);
    } else if (newSize > oldSize) {
      // Grown in place: the VMA was extended, so the new pages are more of
      // the same mapping (file offsets continue). Made by this mremap.
      const last = s.map.find(oldAddr + oldSize - 1n);
      if (last) {
        s.carve(oldAddr + oldSize, oldAddr + newSize);
        s.link(oldAddr + oldSize, oldAddr + newSize, s.offsetAt(last, oldAddr + oldSize), { ...last.attrs, origin: cause, made: undefined, within: undefined, changed: cause });
      }
    }
    return changed(oldAddr, oldAddr + (newSize > oldSize ? newSize : oldSize), from);
  }
  // Moved. The kernel unmaps the destination (MREMAP_FIXED), drops the
  // source's tail when shrinking, then moves the VMA, then extends it.
  const moveSize = newSize < oldSize ? newSize : oldSize;
  if (newSize < oldSize) {
    for (const [lo, hi] of s.removable(oldAddr + newSize, oldAddr + oldSize, cause)) s.carve(lo, hi);
  }
  // Without MREMAP_FIXED the kernel picked a free destination.
  if (!(flags & MREMAP_FIXED)) s.claimFree(newAddr, newAddr + newSize, cause);
  const pieces: { start: bigint; end: bigint; offset: bigint; attrs: RegionAttrs }[] = [];
  if (flags & MREMAP_DONTUNMAP) {
    for (let n = s.map.firstEndingAfter(oldAddr); n && n.start < oldAddr + moveSize; n = n.next[0]!) {
      const lo = n.start > oldAddr ? n.start : oldAddr;
      const hi = n.end < oldAddr + moveSize ? n.end : oldAddr + moveSize;
      pieces.push({ start: lo, end: hi, offset: s.offsetAt(n, lo), attrs: n.attrs });
    }
  } else {
    for (const [lo, hi] of s.removable(oldAddr, oldAddr + moveSize, cause)) {
      for (const n of s.carve(lo, hi)) pieces.push(n);
    }
  }
  if (flags & MREMAP_FIXED && oldSize === newSize) {
    // A pure move (Linux ≥ 6.17 remap_move): each VMA of the source moves
    // on its own, replacing only its own destination range; gaps between
    // source VMAs leave the destination's mappings there alone. (Older
    // kernels refuse a source of several VMAs, so this is also right for them.)
    for (const p of pieces) {
      const dst = newAddr + (p.start - oldAddr);
      s.carve(dst, dst + (p.end - p.start));
      s.link(dst, dst + (p.end - p.start), p.offset, p.attrs);
    }
    return changed(newAddr, newAddr + newSize, from);
  }
  s.carve(newAddr, newAddr + newSize);
  for (const p of pieces) {
    s.link(newAddr + (p.start - oldAddr), newAddr + (p.end - oldAddr), p.offset, p.attrs);
  }
  const last = pieces[pieces.length - 1];
  if (newSize > oldSize && last) {
    const ext = newAddr + oldSize;
    const off = hasOffset(last.attrs) ? last.offset + (last.end - last.start) : 0n;
    s.link(ext, newAddr + newSize, off, { ...last.attrs, origin: cause, made: undefined, within: undefined, changed: cause });
  }
  return changed(newAddr, newAddr + newSize, from);
}


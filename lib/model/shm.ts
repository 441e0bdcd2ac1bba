// System V shared memory applied to the model: shmat maps a segment (its
// size and key from /proc/sysvipc/shm, looked up by the caller), shmdt
// unmaps every piece of the segment it names, as ipc/shm.c does.
import { PROT_EXEC, PROT_READ, PROT_WRITE, SHM_EXEC, SHM_RDONLY, SHM_REMAP } from '../syscalls/abi';
import type { Changed } from './mremap';
import type { ShmSegment } from './proc';
import type { Provenance } from './region';
import type { RegionNode } from './region-map';
import type { RegionStore } from './region-store';

/**
 * shmat returned addr. The segment (size, key) comes from
 * /proc/sysvipc/shm: the caller looks it up. Unknown (the segment was
 * already destroyed when the record was read): one page is recorded, and
 * verify() will show the rest as a difference.
 */
export function applyShmat(s: RegionStore, addr: bigint, shmid: number, shmflg: number, segment: ShmSegment | undefined, cause: Provenance): Changed {
  const size = segment ? s.pageAlign(segment.size) : s.page;
  const prot = (shmflg & SHM_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE) | (shmflg & SHM_EXEC ? PROT_EXEC : 0);
  const key = segment ? segment.key.toString(16).padStart(8, '0') : '00000000';
  if (!(shmflg & SHM_REMAP)) s.claimFree(addr, addr + size, cause);
  s.carve(addr, addr + size);
  s.link(addr, addr + size, 0n, {
    prot,
    shared: true,
    kind: 'shm',
    name: `/SYSV${key} (deleted)`,
    dev: '',
    inode: BigInt(shmid),
    shmid,
    shmSize: segment ? segment.size : -1n,
    mayWrite: !(shmflg & SHM_RDONLY),
    dontFork: false,
    origin: cause,
    changed: cause,
    class: null,
  });
  return { start: addr, end: addr + size };
}

/**
 * shmdt(addr) succeeded. As ipc/shm.c ksys_shmdt: the first piece of a
 * segment at or above addr whose offset equals its distance from addr
 * names the segment; then every piece of that segment, at that distance,
 * ending within the segment's size from addr goes.
 */
export function applyShmdt(s: RegionStore, addr: bigint, cause: Provenance, shmSize: (shmid: number) => bigint | undefined): Changed | undefined {
  let n = s.map.firstEndingAfter(addr);
  let shmid = -1;
  let size = -1n;
  for (; n; n = n.next[0]!) {
    if (n.attrs.kind === 'shm' && n.start >= addr && n.start - addr === n.offset) {
      shmid = n.attrs.shmid;
      size = n.attrs.shmSize >= 0n ? n.attrs.shmSize : (shmSize(shmid) ?? -1n);
      break;
    }
  }
  if (!n) return undefined;
  const limit = size >= 0n ? s.pageAlign(size) : undefined;
  // Pieces another thread's later-reported call found free are gone already.
  const allowed = s.removable(addr, limit !== undefined ? addr + limit : s.lastEnd(), cause);
  const inAllowed = (x: RegionNode) => allowed.some(([lo, hi]) => x.start >= lo && x.end <= hi);
  let last = n.end;
  while (n) {
    const next: RegionNode | null = n.next[0]!;
    if (limit !== undefined && n.end - addr > limit) break;
    if (n.attrs.kind === 'shm' && n.attrs.shmid === shmid && n.start - addr === n.offset) {
      last = n.end;
      if (inAllowed(n)) s.unlink(n);
    } else if (limit === undefined) {
      // Size unknown: stop at the first piece of anything else.
      break;
    }
    n = next;
  }
  return { start: addr, end: last };
}

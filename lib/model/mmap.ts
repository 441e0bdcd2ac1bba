// What an mmap makes, as /proc/PID/maps will show it: its kind and name
// (anonymous, a file, shared anonymous memory as "/dev/zero (deleted)",
// hugetlb memory as "/anon_hugepage (deleted)"), its file offset and its size
// after the kernel's rounding.
import { MAP_ANONYMOUS, MAP_HUGE_SHIFT, MAP_HUGETLB, MAP_PRIVATE, MAP_TYPE } from '../syscalls/abi';
import { MiB } from '../units';
import type { RegionKind } from './region';

export const DEV_ZERO_SHARED = '/dev/zero (deleted)';

export interface Mapping {
  /** MAP_SHARED or MAP_SHARED_VALIDATE. */
  shared: boolean;
  kind: RegionKind;
  name: string;
  offset: bigint;
  size: bigint;
}

/** pageAligned: len rounded up to the page size. */
export function mappingOf(len: bigint, flags: number, path: string | undefined, offset: bigint, pageAligned: bigint): Mapping {
  const shared = (flags & MAP_TYPE) !== MAP_PRIVATE;
  let kind: RegionKind = 'anon';
  let name = '';
  let off = 0n;
  let size = pageAligned;
  if (flags & MAP_HUGETLB) {
    // hugetlbfs rounds to its page size: 6 bits at MAP_HUGE_SHIFT encode
    // log2 of it, 0 = the default, 2 MiB on x86_64 and on 4K-page aarch64.
    const log2 = (flags >>> MAP_HUGE_SHIFT) & 0x3f;
    const huge = log2 ? 1n << BigInt(log2) : 2n * MiB;
    size = ((len + huge - 1n) / huge) * huge;
    if (flags & MAP_ANONYMOUS) {
      kind = 'file';
      name = '/anon_hugepage (deleted)';
    }
  }
  if (kind === 'anon') {
    if (flags & MAP_ANONYMOUS || path === '/dev/zero') {
      // Shared anonymous memory is a shmem file (shmem_zero_setup); private
      // /dev/zero is plain anonymous memory (mmap_zero).
      if (shared) {
        kind = 'file';
        name = DEV_ZERO_SHARED;
        off = flags & MAP_ANONYMOUS ? 0n : offset;
      }
    } else {
      kind = 'file';
      name = path ?? '';
      off = offset;
    }
  } else if (!(flags & MAP_ANONYMOUS)) {
    name = path ?? '';
    off = offset;
  }
  return { shared, kind, name, offset: off, size };
}

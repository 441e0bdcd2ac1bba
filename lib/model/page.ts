// The page size the kernel rounds every mapping to. 4 KiB on x86_64; aarch64
// kernels may use 16 or 64 KiB, so read it from our own auxv (the tracee runs
// on the same kernel) rather than assume.
import fs from 'node:fs';
import { AT_PAGESZ } from '../syscalls/abi';

let cached: bigint | undefined;

export function pageSize(): bigint {
  if (cached !== undefined) return cached;
  cached = 4096n;
  try {
    const auxv = fs.readFileSync('/proc/self/auxv');
    for (let off = 0; off + 16 <= auxv.length; off += 16) {
      const tag = auxv.readBigUInt64LE(off);
      if (tag === 0n) break;
      if (tag === BigInt(AT_PAGESZ)) {
        cached = auxv.readBigUInt64LE(off + 8);
        break;
      }
    }
  } catch {
    // No /proc/self/auxv (unusual): 4 KiB is right for x86_64.
  }
  return cached;
}

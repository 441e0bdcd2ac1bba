// The page size the kernel rounds every mapping to, and the clock tick of
// /proc/PID/stat's CPU times: what sysconf would say, from our own auxv (the
// tracee runs on the same kernel), read once, with no fork of getconf.
// 4 KiB on x86_64; aarch64 kernels may use 16 or 64 KiB, so read, not assume.
import fs from 'node:fs';
import { AT_CLKTCK, AT_PAGESZ } from '../syscalls/abi';

let auxv: Map<number, bigint> | undefined;

function auxvValue(tag: number): bigint | undefined {
  if (!auxv) {
    auxv = new Map();
    try {
      const raw = fs.readFileSync('/proc/self/auxv');
      for (let off = 0; off + 16 <= raw.length; off += 16) {
        const t = raw.readBigUInt64LE(off);
        if (t === 0n) break;
        auxv.set(Number(t), raw.readBigUInt64LE(off + 8));
      }
    } catch {
      // No /proc/self/auxv (unusual): the defaults below.
    }
  }
  return auxv.get(tag);
}

export function pageSize(): bigint {
  return auxvValue(AT_PAGESZ) ?? 4096n;
}

/** Clock ticks per second (USER_HZ; 100 on every Linux arch liveprobe supports). */
export function clockTicks(): number {
  return Number(auxvValue(AT_CLKTCK) ?? 100n);
}

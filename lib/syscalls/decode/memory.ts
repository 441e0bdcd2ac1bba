// Memory syscalls: one decoder per call, printing as strace 6.1 (src/mem.c,
// ipc_shm.c). Widths follow strace: flag sets it prints with printflags /
// printxval are 32-bit (bits above 31 vanish), the *64 variants are not.

import {
  MASK32, addr, flagNames, formatComposite, formatFd, formatFlags, formatValue, hexVal, int32, lookup, memU64, uint32, valueName, valueOf,
} from './format';
import {
  MADV, MAP_FLAGS, MAP_HUGE_MASK, MAP_HUGE_SHIFT, MAP_TYPE, MAP_TYPE_MASK, MCL, MLOCK2, MREMAP, MSYNC, PKEY_ACCESS, PROT,
  SHMAT,
} from './flags';
import type { Decoded, DecodeInput } from './types';
import { formatArray } from './print-array';
import { IOVEC_SIZE, READ_RULE_MAX_BYTES } from '../memory-reads';
import { pageSize } from '../../model/page';
import { isErrorReturn } from './process';

/** The address args most memory calls have. */
const ADDR = ['addr'] as const;
const SHMADDR = ['shmaddr'] as const;

/**
 * One call's result. `returns: 'address'`: the call returns a pointer into
 * the tracee, printed in hex (mmap, mremap, brk, shmat); `addresses`: the
 * args that are addresses (types.ts).
 */
const decoded = (
  args: Decoded['args'], entry: string, returns: 'decimal' | 'address' = 'decimal', addresses: readonly string[] = ADDR,
): Decoded => ({
  args,
  entry,
  exit: '',
  returns: returns === 'address' ? 'hex' : 'decimal',
  addresses,
  returnsAddress: returns === 'address',
});

/**
 * mmap flags as strace's print_mmap_flags: the sharing type as a value, then
 * the other flags, then the huge page size as N<<MAP_HUGE_SHIFT. strace
 * clears the huge bits with a 32-bit mask, so flag bits above 31 are dropped.
 */
const mmapFlagsCache = new Map<bigint, { names: readonly string[]; text: string }>();

function mmapFlags(flags: bigint): { names: readonly string[]; text: string } {
  const hit = mmapFlagsCache.get(flags);
  if (hit !== undefined) return hit;
  const type = flags & MAP_TYPE_MASK;
  const typeName = valueName(MAP_TYPE, type);
  // The type is looked up in the abbreviated style whatever -X says; the whole is styled below.
  let text = lookup(MAP_TYPE, type) ?? `${hexVal(type)} /* ${MAP_TYPE.unknown!} */`;
  const names = [typeName];
  const huge = (flags & MAP_HUGE_MASK) >> MAP_HUGE_SHIFT;
  const rest = flags & ~MAP_TYPE_MASK & (~MAP_HUGE_MASK & MASK32);
  if (rest !== 0n) {
    const more = flagNames(MAP_FLAGS, rest);
    names.push(...more);
    text += '|' + more.join('|');
  }
  if (huge !== 0n) {
    const h = `${huge}<<MAP_HUGE_SHIFT`;
    names.push(h);
    text += '|' + h;
  }
  const decoded = { names: Object.freeze(names), text };
  if (mmapFlagsCache.size < 256) mmapFlagsCache.set(flags, decoded);
  return decoded;
}

/** mmap flags as printed: under -X raw the whole 64-bit number, under -X verbose the number and the names. */
function mmapFlagsText(flags: bigint): string {
  return formatComposite(flags, mmapFlags(flags).text);
}

export function decodeMmap(ev: DecodeInput): Decoded {
  const [a, len, prot, flags, fd, off] = ev.raw as [bigint, bigint, bigint, bigint, bigint, bigint];
  const f = mmapFlags(flags);
  const fdNum = int32(fd);
  return decoded(
    { addr: a, length: len, prot: flagNames(PROT, prot), flags: f.names, fd: fdNum, offset: off },
    `${addr(a)}, ${len}, ${formatFlags(PROT, prot)}, ${mmapFlagsText(flags)}, ${formatFd(fdNum, ev.path)}, ${hexVal(off)}`,
    'address',
  );
}

export function decodeMunmap(ev: DecodeInput): Decoded {
  const [a, len] = ev.raw as [bigint, bigint];
  return decoded({ addr: a, length: len }, `${addr(a)}, ${len}`);
}

export function decodeMprotect(ev: DecodeInput): Decoded {
  const [a, len, prot] = ev.raw as [bigint, bigint, bigint];
  return decoded({ addr: a, length: len, prot: flagNames(PROT, prot) }, `${addr(a)}, ${len}, ${formatFlags(PROT, prot)}`);
}

export function decodePkeyMprotect(ev: DecodeInput): Decoded {
  const [a, len, prot, pkey] = ev.raw as [bigint, bigint, bigint, bigint];
  const key = int32(pkey);
  return decoded(
    { addr: a, length: len, prot: flagNames(PROT, prot), pkey: key },
    `${addr(a)}, ${len}, ${formatFlags(PROT, prot)}, ${key}`,
  );
}

const MREMAP_MAYMOVE_FIXED = valueOf(MREMAP, 'MREMAP_MAYMOVE') | valueOf(MREMAP, 'MREMAP_FIXED');

export function decodeMremap(ev: DecodeInput): Decoded {
  const [a, oldSize, newSize, flags, newAddr] = ev.raw as [bigint, bigint, bigint, bigint, bigint];
  // The kernel reads new_address only for MAYMOVE|FIXED, and so does strace.
  const moves = (flags & MREMAP_MAYMOVE_FIXED) === MREMAP_MAYMOVE_FIXED;
  let text = `${addr(a)}, ${oldSize}, ${newSize}, ${formatFlags(MREMAP, flags)}`;
  if (moves) text += `, ${addr(newAddr)}`;
  return decoded(
    { old_address: a, old_size: oldSize, new_size: newSize, flags: flagNames(MREMAP, flags), new_address: moves ? newAddr : null },
    text,
    'address',
    ['old_address', 'new_address'],
  );
}

export function decodeBrk(ev: DecodeInput): Decoded {
  const a = ev.raw[0]!;
  return decoded({ addr: a }, addr(a), 'address');
}

export function decodeMadvise(ev: DecodeInput): Decoded {
  const [a, len, advice] = ev.raw as [bigint, bigint, bigint];
  const adv = uint32(advice);
  return decoded({ addr: a, length: len, advice: valueName(MADV, adv) }, `${addr(a)}, ${len}, ${formatValue(MADV, adv)}`);
}

export function decodeMsync(ev: DecodeInput): Decoded {
  const [a, len, flags] = ev.raw as [bigint, bigint, bigint];
  const f = uint32(flags);
  return decoded({ addr: a, length: len, flags: flagNames(MSYNC, f) }, `${addr(a)}, ${len}, ${formatFlags(MSYNC, f)}`);
}

/**
 * mincore(addr, length, vec): strace prints the vector at exit, one `0`/`1`
 * (the resident bit) a page, from the copy lib/syscalls/memory-reads.ts
 * makes after a success; after a failure, its address (strace reads no
 * memory at a failed call's exit).
 */
export function decodeMincore(ev: DecodeInput): Decoded {
  const [a, len, vec] = ev.raw as [bigint, bigint, bigint];
  const page = pageSize();
  const pages = len / page + (len % page !== 0n ? 1n : 0n);
  const mem = ev.exitMem;
  const text = isErrorReturn(ev.ret) ? addr(vec) : formatArray(vec, pages, 1, mem, (at) => String(mem![at]! & 1), READ_RULE_MAX_BYTES);
  return { args: { addr: a, length: len, vec }, entry: `${addr(a)}, ${len}`, exit: `, ${text}`, returns: 'decimal', addresses: ['addr', 'vec'] };
}

/**
 * process_madvise(pidfd, iovec, vlen, advice, flags): the iovec array as
 * strace's tprint_iov with addresses (`{iov_base=0x…, iov_len=N}`), copied
 * at entry.
 */
export function decodeProcessMadvise(ev: DecodeInput): Decoded {
  const [pidfd, iov, vlen, advice, flags] = ev.raw as [bigint, bigint, bigint, bigint, bigint];
  const fd = int32(pidfd);
  const adv = uint32(advice);
  const f = uint32(flags);
  const mem = ev.entryMem;
  const iovs = formatArray(iov, vlen, IOVEC_SIZE, mem, (at) => `{iov_base=${addr(memU64(mem!, at))}, iov_len=${memU64(mem!, at + 8)}}`, READ_RULE_MAX_BYTES);
  return decoded({ pidfd: fd, iovec: iov, vlen, advice: valueName(MADV, adv), flags: f },
    `${fd}, ${iovs}, ${vlen}, ${formatValue(MADV, adv)}, ${hexVal(f)}`, 'decimal', ['iovec']);
}

/** mlock and munlock take the same (addr, len). */
export function decodeMlock(ev: DecodeInput): Decoded {
  const [a, len] = ev.raw as [bigint, bigint];
  return decoded({ addr: a, length: len }, `${addr(a)}, ${len}`);
}

export function decodeMlock2(ev: DecodeInput): Decoded {
  const [a, len, flags] = ev.raw as [bigint, bigint, bigint];
  const f = uint32(flags);
  return decoded({ addr: a, length: len, flags: flagNames(MLOCK2, f) }, `${addr(a)}, ${len}, ${formatFlags(MLOCK2, f)}`);
}

export function decodeShmat(ev: DecodeInput): Decoded {
  const [id, a, flags] = ev.raw as [bigint, bigint, bigint];
  const shmid = int32(id);
  const f = uint32(flags);
  return decoded({ shmid, shmaddr: a, shmflg: flagNames(SHMAT, f) }, `${shmid}, ${addr(a)}, ${formatFlags(SHMAT, f)}`, 'address', SHMADDR);
}

export function decodeShmdt(ev: DecodeInput): Decoded {
  const a = ev.raw[0]!;
  return decoded({ shmaddr: a }, addr(a), 'decimal', SHMADDR);
}

/** strace's printflags: an unsigned int, the upper half not printed. */
export function decodeMlockall(ev: DecodeInput): Decoded {
  const flags = uint32(ev.raw[0]!);
  return decoded({ flags: flagNames(MCL, flags) }, formatFlags(MCL, flags), 'decimal', []);
}

export function decodeMunlockall(): Decoded {
  return decoded({}, '', 'decimal', []);
}

/** pkey_alloc(flags, access_rights): flags (none defined yet) in hex. */
export function decodePkeyAlloc(ev: DecodeInput): Decoded {
  const [flags, rights] = ev.raw as [bigint, bigint];
  return decoded({ flags, access_rights: flagNames(PKEY_ACCESS, rights) }, `${hexVal(flags)}, ${formatFlags(PKEY_ACCESS, rights)}`, 'decimal', []);
}

/** strace has no pkey_free decoder of its own: its argument as a C int. */
export function decodePkeyFree(ev: DecodeInput): Decoded {
  const pkey = int32(ev.raw[0]!);
  return decoded({ pkey }, String(pkey), 'decimal', []);
}

/** remap_file_pages(addr, size, prot, pgoff, flags): prot and flags as mmap's. */
export function decodeRemapFilePages(ev: DecodeInput): Decoded {
  const [a, size, prot, pgoff, flags] = ev.raw as [bigint, bigint, bigint, bigint, bigint];
  const f = mmapFlags(flags);
  return decoded(
    { addr: a, size, prot: flagNames(PROT, prot), pgoff, flags: f.names },
    `${addr(a)}, ${size}, ${formatFlags(PROT, prot)}, ${pgoff}, ${mmapFlagsText(flags)}`,
  );
}

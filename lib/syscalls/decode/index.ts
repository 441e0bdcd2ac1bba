// Syscall decoding: structured arguments and strace-format text for one
// syscall event. Decoders are looked up by name, so one table serves both
// arches (where an argument order differs, the decoder reads ev.arch).

import { errnoName, errnoText } from '../errno';
import { hexVal } from './format';
import {
  decodeBrk, decodeMadvise, decodeMincore, decodeProcessMadvise, decodeMlock, decodeMlock2, decodeMmap, decodeMprotect, decodeMremap, decodeMsync,
  decodeMlockall, decodeMunlockall, decodeMunmap, decodePkeyAlloc, decodePkeyFree, decodePkeyMprotect, decodeRemapFilePages,
  decodeShmat, decodeShmdt,
} from './memory';
import { decodeChdir, decodeClone, decodeClone3, decodeExecve, decodeExecveat, decodeExit, decodeFork, isErrorReturn } from './process';
import { decodeRaw } from './raw';
import { decodePrctl } from './prctl';
import {
  decodeArchPrctl, decodeRseq, decodeSetRobustList, decodeSetTidAddress, decodeSigaltstack,
} from './thread';
import type { Decoded, DecodeInput, Decoder, ReturnStyle } from './types';

export type { ArgValue, Decoded, DecodeInput, Decoder, ReturnStyle, SyscallArgs } from './types';
export { argCount } from './raw';
export { isErrorReturn } from './process';

const DECODERS: Readonly<Record<string, Decoder>> = {
  mmap: decodeMmap,
  munmap: decodeMunmap,
  mprotect: decodeMprotect,
  pkey_mprotect: decodePkeyMprotect,
  mremap: decodeMremap,
  brk: decodeBrk,
  madvise: decodeMadvise,
  mincore: decodeMincore,
  process_madvise: decodeProcessMadvise,
  msync: decodeMsync,
  mlock: decodeMlock,
  munlock: decodeMlock,
  mlock2: decodeMlock2,
  mlockall: decodeMlockall,
  munlockall: decodeMunlockall,
  pkey_alloc: decodePkeyAlloc,
  pkey_free: decodePkeyFree,
  remap_file_pages: decodeRemapFilePages,
  shmat: decodeShmat,
  shmdt: decodeShmdt,
  clone: decodeClone,
  clone3: decodeClone3,
  fork: decodeFork,
  vfork: decodeFork,
  execve: decodeExecve,
  execveat: decodeExecveat,
  exit: decodeExit,
  exit_group: decodeExit,
  chdir: decodeChdir,
  set_robust_list: decodeSetRobustList,
  rseq: decodeRseq,
  set_tid_address: decodeSetTidAddress,
  arch_prctl: decodeArchPrctl,
  sigaltstack: decodeSigaltstack,
  prctl: decodePrctl,
};

/** The calls with a decoder of their own; every other call prints raw. */
export const DECODED_SYSCALLS: readonly string[] = Object.keys(DECODERS);

export function hasDecoder(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(DECODERS, name);
}

export function decodeSyscall(ev: DecodeInput): Decoded {
  const decoder = hasDecoder(ev.name) ? DECODERS[ev.name]! : decodeRaw;
  return decoder(ev);
}

// The kernel's restart codes never reach user space; strace shows them with
// `?` because the call will be restarted (include/linux/errno.h).
const RESTART_ERRNOS = new Set([512, 513, 514, 516]);

/** ` = …` as strace prints a return value (no alignment padding). */
export function formatReturn(ret: bigint | null, style: ReturnStyle = 'decimal', aux?: string): string {
  if (ret === null) return ' = ?';
  if (isErrorReturn(ret)) {
    const e = Number(-ret);
    const name = errnoName(e);
    // strace's print_err_ret: a number it has no name for prints as `(errno N)`.
    if (name === undefined) return ` = -1 (errno ${e})`;
    return `${RESTART_ERRNOS.has(e) ? ' = ?' : ' = -1'} ${name} (${errnoText(e)})`;
  }
  const value = style === 'hex' ? hexVal(BigInt.asUintN(64, ret)) : ret.toString();
  return aux === undefined ? ` = ${value}` : ` = ${value} (${aux})`;
}

/**
 * The strace line of a syscall without strace's pid prefix:
 * `mmap(NULL, 8392704, PROT_NONE, …) = 0x7f…`. A call that never returned
 * (exit, or a thread that vanished inside it) ends in ` = ?`, as strace's
 * line does once its `<unfinished ...>` and `resumed>` halves are joined.
 * With a `column` (strace's -a), the ` = ` is padded out to that column, as
 * strace's tabto does; without one, not at all.
 */
export function renderSyscall(ev: DecodeInput, d: Decoded = decodeSyscall(ev), column = 0): string {
  const exit = ev.ret === null ? '' : d.exit;
  const head = `${ev.name}(${d.entry}${exit})`;
  // strace prints `)`, a space, then spaces up to the column, then `= …`.
  const pad = column > head.length + 1 ? ' '.repeat(column - head.length - 1) : '';
  return `${head}${pad}${formatReturn(ev.ret, d.returns, d.aux)}`;
}

// Per-thread setup calls a runtime makes when a thread starts: robust futex
// list, rseq, tid address, TLS (arch_prctl), signal stack (prctl has a file
// of its own, ./prctl.ts). Printed as strace 6.1 does (src/get_robust_list.c,
// prctl.c, sigaltstack.c).
//
// Several of these print tracee memory: structures read at entry
// (sigaltstack's stack_t, PR_SET_NAME's string) and results read at exit
// (ARCH_GET_FS's [value], the old stack_t, PR_GET_NAME's string). The native
// tracer copies them as lib/syscalls/memory-reads.ts says (ev.entryMem,
// ev.exitMem); where a copy is missing (unreadable, or the call failed)
// the pointer is printed, as strace does.

import {
  addr, flagNames, formatFlags, formatFlagsVerbose, formatValue, getXlatStyle, hexVal, lookup, memU32, memU64, namedValues, uint32, valueName,
} from './format';
import { ARCH_PRCTL, SS_FLAGS, XFEATURE, XFEATURE_MASK } from './flags';
import { isErrorReturn } from './process';
import { STACK_T_SIZE } from '../memory-reads';
import type { ArgValue, Decoded, DecodeInput } from './types';

export function decodeSetRobustList(ev: DecodeInput): Decoded {
  const [head, len] = ev.raw as [bigint, bigint];
  return { args: { head, len }, entry: `${addr(head)}, ${len}`, exit: '', returns: 'decimal', addresses: ['head'] };
}

/** strace 6.1 has no rseq decoder: four raw values. */
export function decodeRseq(ev: DecodeInput): Decoded {
  const [rseq, len, flags, sig] = ev.raw as [bigint, bigint, bigint, bigint];
  return {
    args: { rseq, rseq_len: len, flags, sig },
    entry: `${hexVal(rseq)}, ${hexVal(len)}, ${hexVal(flags)}, ${hexVal(sig)}`,
    exit: '',
    returns: 'decimal',
    addresses: ['rseq'],
  };
}

/** strace prints set_tid_address's pointer raw (0, not NULL). */
export function decodeSetTidAddress(ev: DecodeInput): Decoded {
  const tidptr = ev.raw[0]!;
  return { args: { tidptr }, entry: hexVal(tidptr), exit: '', returns: 'decimal', addresses: ['tidptr'] };
}

const ARCH = namedValues(ARCH_PRCTL, 'ARCH_', [
  'GET_FS', 'GET_GS', 'GET_CPUID', 'SET_CPUID', 'GET_XCOMP_SUPP', 'GET_XCOMP_PERM', 'REQ_XCOMP_PERM', 'GET_XCOMP_GUEST_PERM',
  'REQ_XCOMP_GUEST_PERM',
] as const);

/** x86_64 only (arm64 has no arch_prctl). */
export function decodeArchPrctl(ev: DecodeInput): Decoded {
  const [rawCode, a] = ev.raw as [bigint, bigint];
  const code = uint32(rawCode);
  const name = formatValue(ARCH_PRCTL, code);
  const args = { code: valueName(ARCH_PRCTL, code), addr: a };
  // addr is where a GET_* stores its result, the base ARCH_SET_FS/GS sets, a
  // vDSO address (ARCH_MAP_VDSO_*); GET_CPUID ignores it; SET_CPUID and the
  // XCOMP requests take a number there.
  const addresses = ['addr'];
  const result = (exit: string): Decoded => ({ args, entry: `${name}, `, exit, returns: 'decimal', addresses });
  switch (code) {
    case ARCH.GET_FS:
    case ARCH.GET_GS:
    case ARCH.GET_XCOMP_SUPP:
    case ARCH.GET_XCOMP_PERM:
    case ARCH.GET_XCOMP_GUEST_PERM: {
      if (ev.ret === null) return result('');
      const m = ev.exitMem;
      if (m === undefined || m.length < 8 || isErrorReturn(ev.ret)) return result(addr(a));
      const v = memU64(m, 0);
      const shown = code === ARCH.GET_FS || code === ARCH.GET_GS ? addr(v) : formatFlagsVerbose(XFEATURE_MASK, v);
      const fsgs = code === ARCH.GET_FS || code === ARCH.GET_GS;
      return { args: { ...args, value: v }, entry: `${name}, `, exit: `[${shown}]`, returns: 'decimal', addresses: fsgs ? ['addr', 'value'] : addresses };
    }
    case ARCH.GET_CPUID:
      return { args, entry: name, exit: '', returns: 'decimal', addresses: [] };
    case ARCH.REQ_XCOMP_PERM:
    case ARCH.REQ_XCOMP_GUEST_PERM: {
      // The feature's bit number, in strace's verbose style; a positive result names the features it grants.
      const feature = getXlatStyle() === 'raw' ? hexVal(a) : `${hexVal(a)} /* ${lookup(XFEATURE, a) ?? XFEATURE.unknown} */`;
      const ok = ev.ret !== null && ev.ret > 0n && !isErrorReturn(ev.ret);
      const granted = ok && getXlatStyle() !== 'raw' ? flagNames(XFEATURE_MASK, ev.ret!) : [];
      const aux = granted.some((n) => !n.startsWith('0x')) ? granted.join('|') : undefined;
      const entry = `${name}, ${feature}`;
      if (!ok) return { args, entry, exit: '', returns: 'decimal' };
      return aux === undefined ? { args, entry, exit: '', returns: 'hex' } : { args, entry, exit: '', returns: 'hex', aux };
    }
    case ARCH.SET_CPUID:
      return { args, entry: `${name}, ${hexVal(a)}`, exit: '', returns: 'decimal', addresses: [] };
    default:
      return { args, entry: `${name}, ${hexVal(a)}`, exit: '', returns: 'decimal', addresses };
  }
}

/** A stack_t as strace prints it, from a copy of its 24 bytes; the pointer when there is none. */
function stackT(mem: Uint8Array | undefined, ptr: bigint): { text: string; fields?: { sp: bigint; flags: readonly string[]; size: bigint } } {
  if (ptr === 0n) return { text: 'NULL' };
  if (mem === undefined || mem.length < STACK_T_SIZE) return { text: addr(ptr) };
  const sp = memU64(mem, 0);
  const flags = BigInt(memU32(mem, 8));
  const size = memU64(mem, 16);
  return {
    text: `{ss_sp=${addr(sp)}, ss_flags=${formatFlags(SS_FLAGS, flags)}, ss_size=${size}}`,
    fields: { sp, flags: flagNames(SS_FLAGS, flags), size },
  };
}

/** sigaltstack(ss, old_ss): the new stack as read at entry, the old one as the kernel wrote it. */
export function decodeSigaltstack(ev: DecodeInput): Decoded {
  const [ss, old] = ev.raw as [bigint, bigint];
  const now = stackT(ev.entryMem, ss);
  const args: Record<string, ArgValue> = { ss, old_ss: old };
  if (now.fields) Object.assign(args, { ss_sp: now.fields.sp, ss_flags: now.fields.flags, ss_size: now.fields.size });
  let exit = '';
  if (ev.ret !== null) {
    const was = stackT(isErrorReturn(ev.ret) ? undefined : ev.exitMem, old);
    if (was.fields) Object.assign(args, { old_ss_sp: was.fields.sp, old_ss_flags: was.fields.flags, old_ss_size: was.fields.size });
    exit = was.text;
  }
  return { args, entry: `${now.text}, `, exit, returns: 'decimal', addresses: ['ss', 'old_ss', 'ss_sp', 'old_ss_sp'] };
}

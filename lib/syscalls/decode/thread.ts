// Per-thread setup calls a runtime makes when a thread starts: robust futex
// list, rseq, tid address, TLS (arch_prctl), signal stack, prctl. Printed as
// strace 6.1 does (src/get_robust_list.c, prctl.c, sigaltstack.c).
//
// Several of these print tracee memory: structures read at entry
// (sigaltstack's stack_t, PR_SET_NAME's string) and results read at exit
// (ARCH_GET_FS's [value], the old stack_t, PR_GET_NAME's string). The native
// tracer copies them as lib/syscalls/memory-reads.ts says (ev.entryMem,
// ev.exitMem); where a copy is missing (unreadable, or the call failed)
// the pointer is printed, as strace does.

import {
  addr, cString, flagNames, formatFlags, formatFlagsVerbose, formatValue, hexVal, int32, lookup, memU32, memU64, namedValues,
  quoteBytes, signalName, uint32, valueName, valueOf,
} from './format';
import { ARCH_PRCTL, PRCTL, PR_SET_VMA, PR_TSC, PR_UNALIGN, SS_FLAGS, SUID_DUMP, XFEATURE_MASK } from './flags';
import { isErrorReturn } from './process';
import { MEMORY_READS, STACK_T_SIZE, TASK_COMM_LEN } from '../memory-reads';
import type { ArgValue, Decoded, DecodeInput } from './types';

export function decodeSetRobustList(ev: DecodeInput): Decoded {
  const [head, len] = ev.raw as [bigint, bigint];
  return { args: { head, len }, entry: `${addr(head)}, ${len}`, exit: '', returns: 'decimal' };
}

/** strace 6.1 has no rseq decoder: four raw values. */
export function decodeRseq(ev: DecodeInput): Decoded {
  const [rseq, len, flags, sig] = ev.raw as [bigint, bigint, bigint, bigint];
  return {
    args: { rseq, rseq_len: len, flags, sig },
    entry: `${hexVal(rseq)}, ${hexVal(len)}, ${hexVal(flags)}, ${hexVal(sig)}`,
    exit: '',
    returns: 'decimal',
  };
}

/** strace prints set_tid_address's pointer raw (0, not NULL). */
export function decodeSetTidAddress(ev: DecodeInput): Decoded {
  const tidptr = ev.raw[0]!;
  return { args: { tidptr }, entry: hexVal(tidptr), exit: '', returns: 'decimal' };
}

const ARCH = namedValues(ARCH_PRCTL, 'ARCH_', [
  'GET_FS', 'GET_GS', 'GET_CPUID', 'GET_XCOMP_SUPP', 'GET_XCOMP_PERM', 'REQ_XCOMP_PERM', 'GET_XCOMP_GUEST_PERM',
  'REQ_XCOMP_GUEST_PERM',
] as const);

/** x86_64 only (arm64 has no arch_prctl). */
export function decodeArchPrctl(ev: DecodeInput): Decoded {
  const [rawCode, a] = ev.raw as [bigint, bigint];
  const code = uint32(rawCode);
  const name = formatValue(ARCH_PRCTL, code);
  const args = { code: valueName(ARCH_PRCTL, code), addr: a };
  const result = (exit: string): Decoded => ({ args, entry: `${name}, `, exit, returns: 'decimal' });
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
      return { args: { ...args, value: v }, entry: `${name}, `, exit: `[${shown}]`, returns: 'decimal' };
    }
    case ARCH.GET_CPUID:
      return { args, entry: name, exit: '', returns: 'decimal' };
    case ARCH.REQ_XCOMP_PERM:
    case ARCH.REQ_XCOMP_GUEST_PERM:
      // strace names the feature from x86_xfeature_bits; liveprobe has no such table.
      return { args, entry: `${name}, ${hexVal(a)} /* XFEATURE_??? */`, exit: '', returns: 'decimal' };
    default:
      return { args, entry: `${name}, ${hexVal(a)}`, exit: '', returns: 'decimal' };
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
  return { args, entry: `${now.text}, `, exit, returns: 'decimal' };
}

const PR = namedValues(PRCTL, 'PR_', [
  'SET_PDEATHSIG', 'GET_PDEATHSIG', 'GET_DUMPABLE', 'SET_DUMPABLE', 'GET_UNALIGN', 'GET_KEEPCAPS', 'SET_KEEPCAPS',
  'GET_FPEMU', 'SET_FPEMU', 'GET_FPEXC', 'SET_FPEXC', 'GET_TIMING', 'SET_TIMING', 'SET_NAME', 'GET_NAME',
  'GET_ENDIAN', 'SET_ENDIAN', 'GET_SECCOMP', 'GET_TSC', 'SET_TIMERSLACK', 'GET_TIMERSLACK',
  'TASK_PERF_EVENTS_DISABLE', 'TASK_PERF_EVENTS_ENABLE', 'SET_CHILD_SUBREAPER', 'GET_CHILD_SUBREAPER',
  'SET_NO_NEW_PRIVS', 'GET_TID_ADDRESS', 'SET_THP_DISABLE', 'SET_IO_FLUSHER', 'SET_VMA', 'SET_PTRACER',
] as const);
const PR_SET_VMA_ANON_NAME = valueOf(PR_SET_VMA, 'PR_SET_VMA_ANON_NAME');

/** The PR_GET_* options whose result lands in memory at arg2: those memory-reads.ts copies at exit. */
const PRCTL_EXIT_READS = new Set(
  MEMORY_READS.filter((r) => r.syscall === 'prctl' && r.at === 'exit').map((r) => r.when![0]!.value),
);

/**
 * prctl(option, arg2, arg3, arg4, arg5). Decoded per option as strace does:
 * from registers, and from the tracee memory memory-reads.ts copies (the
 * pointer where the copy is missing); options strace decodes with tables
 * liveprobe does not carry (capabilities, seccomp filters, …) print their
 * raw arguments in hex, as strace does for options it does not know.
 */
export function decodePrctl(ev: DecodeInput): Decoded {
  const [rawOption, a2, a3, a4, a5] = ev.raw as [bigint, bigint, bigint, bigint, bigint];
  const option = uint32(rawOption);
  const name = formatValue(PRCTL, option);
  const base = { option: valueName(PRCTL, option), arg2: a2, arg3: a3, arg4: a4, arg5: a5 };
  const done = (entry: string, args: Decoded['args'] = base, exit = '', aux?: string): Decoded =>
    aux === undefined ? { args, entry, exit, returns: 'decimal' } : { args, entry, exit, returns: 'decimal', aux };
  const raw = (from: bigint[]): string => from.map((v) => `, ${hexVal(v)}`).join('');

  if (PRCTL_EXIT_READS.has(option)) {
    // The result lands in memory at arg2, copied after a successful call.
    if (ev.ret === null) return done(`${name}, `);
    const m = isErrorReturn(ev.ret) ? undefined : ev.exitMem;
    const result = m === undefined ? undefined : prctlResult(option, m);
    if (result === undefined) return done(`${name}, `, base, addr(a2));
    return done(`${name}, `, { ...base, result: result.value }, result.text);
  }
  switch (option) {
    case PR.GET_KEEPCAPS:
    case PR.GET_SECCOMP:
    case PR.GET_TIMERSLACK:
    case PR.GET_TIMING:
    case PR.TASK_PERF_EVENTS_DISABLE:
    case PR.TASK_PERF_EVENTS_ENABLE:
      return done(name);
    case PR.GET_DUMPABLE: {
      const ret = ev.ret;
      const aux = ret !== null && ret >= 0n ? lookup(SUID_DUMP, ret) : undefined;
      return done(name, base, '', aux);
    }
    case PR.SET_CHILD_SUBREAPER:
    case PR.SET_ENDIAN:
    case PR.SET_FPEMU:
    case PR.SET_FPEXC:
    case PR.SET_KEEPCAPS:
    case PR.SET_TIMING:
      return done(`${name}, ${a2}`);
    case PR.SET_DUMPABLE:
      return done(`${name}, ${formatValue(SUID_DUMP, a2)}`);
    case PR.SET_NAME: {
      // 15 bytes copied, as strace reads: no NUL among them means `...`.
      const s = a2 === 0n || ev.entryMem === undefined ? undefined : cString(ev.entryMem);
      if (s === undefined) return done(`${name}, ${addr(a2)}`, { option: base.option, name: a2 });
      return done(`${name}, ${quoteBytes(s.bytes, TASK_COMM_LEN - 1, !s.terminated)}`, { option: base.option, name: text(s.bytes) });
    }
    case PR.SET_VMA: {
      const attr = valueName(PR_SET_VMA, a2);
      if (a2 === PR_SET_VMA_ANON_NAME) {
        const s = a5 === 0n || ev.entryMem === undefined ? undefined : cString(ev.entryMem);
        return done(`${name}, ${formatValue(PR_SET_VMA, a2)}, ${addr(a3)}, ${a4}, ${s ? quoteBytes(s.bytes, undefined, !s.terminated) : addr(a5)}`, {
          option: base.option, attr, addr: a3, size: a4, name: s ? text(s.bytes) : a5,
        });
      }
      return done(`${name}, ${formatValue(PR_SET_VMA, a2)}${raw([a3, a4, a5])}`, { ...base, attr });
    }
    case PR.SET_PDEATHSIG:
      return done(`${name}, ${a2 > 128n ? a2.toString() : signalName(Number(a2))}`);
    case PR.SET_PTRACER:
      return done(`${name}, ${int32(a2) === -1 ? 'PR_SET_PTRACER_ANY' : int32(a2)}`);
    case PR.SET_TIMERSLACK:
      return done(`${name}, ${BigInt.asIntN(64, a2)}`);
    case PR.SET_NO_NEW_PRIVS:
    case PR.SET_THP_DISABLE:
    case PR.SET_IO_FLUSHER:
      return done(`${name}, ${a2}${raw([a3, a4, a5])}`);
    default:
      return done(`${name}${raw([a2, a3, a4, a5])}`);
  }
}


/** A name as a JS string: UTF-8 where it is, U+FFFD for bytes that are not (never throws). */
function text(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}
const utf8 = new TextDecoder();

/** What a PR_GET_* option stored at arg2, as strace prints it inside [ ]. */
function prctlResult(option: bigint, m: Uint8Array): { value: ArgValue; text: string } | undefined {
  if (option === PR.GET_NAME) {
    const s = cString(m);
    return { value: text(s.bytes), text: quoteBytes(s.bytes, TASK_COMM_LEN, !s.terminated) };
  }
  if (option === PR.GET_TID_ADDRESS) {
    if (m.length < 8) return undefined;
    const v = memU64(m, 0);
    return { value: v, text: `[${addr(v)}]` };
  }
  if (m.length < 4) return undefined;
  const v = memU32(m, 0);
  switch (option) {
    case PR.GET_PDEATHSIG:
      return { value: v, text: `[${signalName(v)}]` };
    case PR.GET_TSC:
      return { value: valueName(PR_TSC, BigInt(v)), text: `[${formatValue(PR_TSC, BigInt(v))}]` };
    case PR.GET_UNALIGN:
      return { value: flagNames(PR_UNALIGN, BigInt(v)), text: `[${formatFlags(PR_UNALIGN, BigInt(v))}]` };
    default:
      return { value: v, text: `[${v}]` };
  }
}

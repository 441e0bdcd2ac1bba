// prctl(option, arg2, arg3, arg4, arg5), decoded per option as strace 6.1
// does (src/prctl.c): each option prints the arguments it takes (an option
// strace does not decode prints all four in hex), flag and value arguments
// by name, and results by name: a PR_GET_* that stores at arg2 prints `[value]` (tracee memory,
// copied as lib/syscalls/memory-reads.ts says; the pointer when the copy is
// missing), one that returns flags prints `= 0x… (NAMES)`.

import {
  type Xlat, addr, cString, decodeFlags, flagNames, formatComposite, formatFlags, formatNamed, formatSignal, formatValue,
  getAbbrev, getXlatStyle, hexVal, int32, lookup, memU32, memU64, namedValues, quoteBytes, uint32, valueName, valueOf,
} from './format';
import {
  CAP, PIDTYPE, PRCTL, PR_CAP_AMBIENT, PR_FP_MODE, PR_MCE_KILL, PR_MCE_KILL_POLICY, PR_MTE_TAG_MASK, PR_MTE_TAG_SHIFT,
  PR_MTE_TCF, PR_MTE_TCF_MASK, PR_PAC_ENABLED_KEYS, PR_PAC_RESET, PR_SCHED_CORE, PR_SET_MM, PR_SET_VMA, PR_SME_VL_FLAGS,
  PR_SPEC_CMD, PR_SPEC_SET, PR_SPEC_STATE, PR_SVE_VL_FLAGS, PR_SYS_DISPATCH, PR_TAGGED_ADDR, PR_TAGGED_ADDR_ENABLE, PR_TSC,
  PR_UNALIGN, PR_VL_LEN_MASK, SECBITS, SECCOMP_MODE, SUID_DUMP,
} from './flags';
import { isErrorReturn } from './process';
import { MEMORY_READS, READ_RULE_MAX_BYTES, SOCK_FPROG_SIZE, TASK_COMM_LEN } from '../memory-reads';
import { SOCK_FILTER_SIZE, seccompInstruction } from './bpf';
import { formatArray } from './print-array';
import type { ArgValue, Decoded, DecodeInput, ReturnStyle } from './types';

const PR = namedValues(PRCTL, 'PR_', [
  'SET_PDEATHSIG', 'GET_PDEATHSIG', 'GET_DUMPABLE', 'SET_DUMPABLE', 'GET_UNALIGN', 'SET_UNALIGN', 'GET_KEEPCAPS',
  'SET_KEEPCAPS', 'GET_FPEMU', 'SET_FPEMU', 'GET_FPEXC', 'SET_FPEXC', 'GET_TIMING', 'SET_TIMING', 'SET_NAME',
  'GET_NAME', 'GET_ENDIAN', 'SET_ENDIAN', 'GET_SECCOMP', 'SET_SECCOMP', 'CAPBSET_READ', 'CAPBSET_DROP', 'GET_TSC',
  'SET_TSC', 'GET_SECUREBITS', 'SET_SECUREBITS', 'SET_TIMERSLACK', 'GET_TIMERSLACK', 'TASK_PERF_EVENTS_DISABLE',
  'TASK_PERF_EVENTS_ENABLE', 'MCE_KILL', 'MCE_KILL_GET', 'SET_CHILD_SUBREAPER', 'GET_CHILD_SUBREAPER',
  'SET_NO_NEW_PRIVS', 'GET_TID_ADDRESS', 'SET_THP_DISABLE', 'CAP_AMBIENT', 'SVE_SET_VL', 'SVE_GET_VL',
  'PAC_RESET_KEYS', 'SET_TAGGED_ADDR_CTRL', 'GET_TAGGED_ADDR_CTRL', 'SET_IO_FLUSHER', 'SET_SYSCALL_USER_DISPATCH',
  'PAC_SET_ENABLED_KEYS', 'PAC_GET_ENABLED_KEYS', 'SCHED_CORE', 'GET_SPECULATION_CTRL', 'SET_SPECULATION_CTRL',
  'GET_FP_MODE', 'SET_FP_MODE', 'SET_MM', 'SME_SET_VL', 'SME_GET_VL', 'SET_VMA', 'SET_PTRACER',
] as const);
const PR_SET_VMA_ANON_NAME = valueOf(PR_SET_VMA, 'PR_SET_VMA_ANON_NAME');
/** The PR_CAP_AMBIENT sub-commands that name a capability in arg3. */
const AMBIENT_WITH_CAP = new Set(Object.values(namedValues(PR_CAP_AMBIENT, 'PR_CAP_AMBIENT_', ['IS_SET', 'RAISE', 'LOWER'] as const)));
const MCE_KILL_SET = valueOf(PR_MCE_KILL, 'PR_MCE_KILL_SET');
const SECCOMP = namedValues(SECCOMP_MODE, 'SECCOMP_MODE_', ['STRICT', 'FILTER'] as const);
const SCHED_CORE_GET = valueOf(PR_SCHED_CORE, 'PR_SCHED_CORE_GET');

/** The PR_GET_* options whose result lands in memory at arg2: the one-condition rules memory-reads.ts copies at exit. */
const PRCTL_EXIT_READS = new Set(
  MEMORY_READS.filter((r) => r.syscall === 'prctl' && r.at === 'exit' && r.when!.length === 1).map((r) => r.when![0]!.value),
);

/** strace's sprintflags_ex in its auxstr mode: known names (and the unknown rest), nothing when no bit is known. */
function auxFlags(table: Xlat, v: bigint): string | undefined {
  if (getXlatStyle() === 'raw') return undefined;
  const names = flagNames(table, v);
  return names.some((n) => !n.startsWith('0x')) ? names.join('|') : undefined;
}

/** A vector length with the flags above it (strace's sprint_sve_val/sprint_sme_val): `FLAGS|0x40`; as a result, only with flags. */
function vectorLength(flags: Xlat, v: bigint, result: boolean): string | undefined {
  const high = v & ~PR_VL_LEN_MASK;
  if (high === 0n || (result && getXlatStyle() === 'raw')) return result ? undefined : hexVal(v);
  const text = `${flagNames(flags, high).join('|')}|${hexVal(v & PR_VL_LEN_MASK)}`;
  return result ? text : formatComposite(v, text);
}

/** PR_SET_TAGGED_ADDR_CTRL's argument: the word below, styled as -X says. */
function taggedAddrArg(v: bigint): string {
  return formatComposite(v, taggedAddr(v));
}

/** PR_GET_TAGGED_ADDR_CTRL's result: none under -X raw. */
function taggedAddrResult(v: bigint): string | undefined {
  return getXlatStyle() === 'raw' ? undefined : taggedAddr(v);
}

/** PR_SET/GET_TAGGED_ADDR_CTRL's word (strace's sprint_tagged_addr_val): enable bit, MTE fault mode, tag mask, the rest. */
function taggedAddr(v: bigint): string {
  const tag = v & PR_MTE_TAG_MASK;
  const rest = v & ~(PR_TAGGED_ADDR_ENABLE | PR_MTE_TCF_MASK | PR_MTE_TAG_MASK);
  let s = `${decodeFlags(PR_TAGGED_ADDR, v & PR_TAGGED_ADDR_ENABLE).text}|${lookup(PR_MTE_TCF, v & PR_MTE_TCF_MASK)!}`;
  if (tag !== 0n) s += `|${hexVal(tag >> PR_MTE_TAG_SHIFT)}<<PR_MTE_TAG_SHIFT`;
  if (rest !== 0n) s += `|${hexVal(rest)}`;
  return s;
}

/** strace's printxval in the verbose style: `0 /* NAME *\/`, `0x4 /* X_??? *\/`. */
function valueVerbose(table: Xlat, v: bigint): string {
  if (getXlatStyle() === 'raw') return hexVal(v);
  return `${hexVal(v)} /* ${lookup(table, v) ?? table.unknown} */`;
}

export function decodePrctl(ev: DecodeInput): Decoded {
  const [rawOption, a2, a3, a4, a5] = ev.raw as [bigint, bigint, bigint, bigint, bigint];
  const option = uint32(rawOption);
  const name = formatValue(PRCTL, option);
  const base = { option: valueName(PRCTL, option), arg2: a2, arg3: a3, arg4: a4, arg5: a5 };
  // Which args are addresses depends on the option: set by the cases that take one.
  let addresses: readonly string[] = [];
  const done = (entry: string, args: Decoded['args'] = base, exit = '', aux?: string, returns: ReturnStyle = 'decimal'): Decoded =>
    aux === undefined ? { args, entry, exit, returns, addresses } : { args, entry, exit, returns, aux, addresses };
  const raw = (from: bigint[]): string => from.map((v) => `, ${hexVal(v)}`).join('');
  const ok = ev.ret !== null && !isErrorReturn(ev.ret);
  /** A result strace prints in hex with its names, e.g. `= 0x3 (PR_PAC_APIAKEY|PR_PAC_APIBKEY)`; 0 stays `= 0`. */
  const flagResult = (entry: string, show: (v: bigint) => string | undefined): Decoded =>
    ok && ev.ret! !== 0n ? done(entry, base, '', show(ev.ret!), 'hex') : done(entry);

  if (PRCTL_EXIT_READS.has(option)) {
    // The result lands in memory at arg2, copied after a successful call.
    addresses = option === PR.GET_TID_ADDRESS ? ['arg2', 'result'] : ['arg2'];
    if (ev.ret === null) return done(`${name}, `);
    const m = ok ? ev.exitMem : undefined;
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
    case PR.GET_DUMPABLE:
      return done(name, base, '', ok ? lookup(SUID_DUMP, ev.ret!) : undefined);
    case PR.SET_CHILD_SUBREAPER:
    case PR.SET_ENDIAN:
    case PR.SET_FPEMU:
    case PR.SET_FPEXC:
    case PR.SET_KEEPCAPS:
    case PR.SET_TIMING:
      return done(`${name}, ${a2}`);
    case PR.SET_DUMPABLE:
      return done(`${name}, ${formatValue(SUID_DUMP, a2)}`);
    case PR.CAPBSET_READ:
    case PR.CAPBSET_DROP:
      return done(`${name}, ${formatValue(CAP, a2)}`, { option: base.option, cap: valueName(CAP, a2) });
    case PR.CAP_AMBIENT:
      if (AMBIENT_WITH_CAP.has(a2)) return done(`${name}, ${formatValue(PR_CAP_AMBIENT, a2)}, ${formatValue(CAP, a3)}${raw([a4, a5])}`);
      return done(`${name}, ${formatValue(PR_CAP_AMBIENT, a2)}${raw([a3, a4, a5])}`);
    case PR.MCE_KILL: {
      const policy = a2 === MCE_KILL_SET ? formatValue(PR_MCE_KILL_POLICY, a3) : hexVal(a3);
      return done(`${name}, ${formatValue(PR_MCE_KILL, a2)}, ${policy}${raw([a4, a5])}`);
    }
    case PR.MCE_KILL_GET:
      return done(`${name}${raw([a2, a3, a4, a5])}`, base, '', ok ? lookup(PR_MCE_KILL_POLICY, ev.ret!) : undefined);
    case PR.SET_SECCOMP:
      if (a2 === SECCOMP.STRICT) return done(`${name}, ${formatValue(SECCOMP_MODE, a2)}`);
      // struct sock_fprog as copied at entry, then its program:
      // {len=N, filter=0x…}, under -v the instructions (strace's print_bpf_fprog).
      if (a2 === SECCOMP.FILTER) {
        addresses = ['arg3'];
        const m = ev.entryMem;
        let prog = addr(a3);
        if (a3 !== 0n && m !== undefined && m.length >= SOCK_FPROG_SIZE) {
          const len = m[0]! | (m[1]! << 8);
          const filter = memU64(m, 8);
          const insns = m.subarray(SOCK_FPROG_SIZE);
          const text = getAbbrev() ? addr(filter)
            : formatArray(filter, BigInt(len), SOCK_FILTER_SIZE, insns, (at) => seccompInstruction(insns, at), READ_RULE_MAX_BYTES);
          prog = `{len=${len}, filter=${text}}`;
        }
        return done(`${name}, ${formatValue(SECCOMP_MODE, a2)}, ${prog}`);
      }
      return done(`${name}, ${formatValue(SECCOMP_MODE, a2)}${raw([a3, a4, a5])}`);
    case PR.GET_SECUREBITS:
      return flagResult(name, (v) => auxFlags(SECBITS, v));
    case PR.SET_SECUREBITS:
      return done(`${name}, ${formatFlags(SECBITS, a2)}`, { option: base.option, bits: flagNames(SECBITS, a2) });
    // printxval and printflags take an unsigned int: the upper half of arg2 is not printed.
    case PR.SET_TSC:
      return done(`${name}, ${formatValue(PR_TSC, uint32(a2))}`);
    case PR.SET_UNALIGN:
      return done(`${name}, ${formatFlags(PR_UNALIGN, uint32(a2))}`);
    case PR.SVE_SET_VL:
      return flagResult(`${name}, ${vectorLength(PR_SVE_VL_FLAGS, a2, false)!}`, (v) => vectorLength(PR_SVE_VL_FLAGS, v, true));
    case PR.SVE_GET_VL:
      return flagResult(name, (v) => vectorLength(PR_SVE_VL_FLAGS, v, true));
    case PR.SME_SET_VL:
      return flagResult(`${name}, ${vectorLength(PR_SME_VL_FLAGS, a2, false)!}`, (v) => vectorLength(PR_SME_VL_FLAGS, v, true));
    case PR.SME_GET_VL:
      return flagResult(name, (v) => vectorLength(PR_SME_VL_FLAGS, v, true));
    case PR.SET_TAGGED_ADDR_CTRL:
      return done(`${name}, ${taggedAddrArg(a2)}${raw([a3, a4, a5])}`);
    case PR.GET_TAGGED_ADDR_CTRL:
      return flagResult(`${name}${raw([a2, a3, a4, a5])}`, taggedAddrResult);
    case PR.PAC_RESET_KEYS:
      return done(`${name}, ${formatFlags(PR_PAC_RESET, a2)}${raw([a3, a4, a5])}`);
    case PR.PAC_SET_ENABLED_KEYS:
      return done(`${name}, ${formatFlags(PR_PAC_ENABLED_KEYS, a2)}, ${formatFlags(PR_PAC_ENABLED_KEYS, a3)}${raw([a4, a5])}`);
    case PR.PAC_GET_ENABLED_KEYS:
      return flagResult(`${name}${raw([a2, a3, a4, a5])}`, (v) => auxFlags(PR_PAC_ENABLED_KEYS, v));
    case PR.GET_SPECULATION_CTRL: {
      const entry = `${name}, ${formatValue(PR_SPEC_CMD, a2)}`;
      // The result is a set of PR_SPEC_* bits only for the subjects strace knows; 0 is PR_SPEC_NOT_AFFECTED.
      if (!ok || lookup(PR_SPEC_CMD, a2) === undefined) return done(entry);
      const ret = ev.ret!;
      if (ret === 0n) return done(entry, base, '', getXlatStyle() === 'raw' ? undefined : lookup(PR_SPEC_STATE, 0n), 'hex');
      return done(entry, base, '', auxFlags(PR_SPEC_STATE, ret), 'hex');
    }
    case PR.SET_SPECULATION_CTRL: {
      const state = lookup(PR_SPEC_CMD, a2) === undefined ? hexVal(a3) : formatValue(PR_SPEC_SET, a3);
      return done(`${name}, ${formatValue(PR_SPEC_CMD, a2)}, ${state}`);
    }
    case PR.GET_FP_MODE:
      return flagResult(name, (v) => auxFlags(PR_FP_MODE, v));
    case PR.SET_FP_MODE:
      return done(`${name}, ${formatFlags(PR_FP_MODE, uint32(a2))}`);
    case PR.SET_MM:
      return done(`${name}, ${formatValue(PR_SET_MM, uint32(a2))}${raw([a3, a4, a5])}`);
    case PR.SET_SYSCALL_USER_DISPATCH:
      // arg3 is where the code that may make syscalls starts, arg5 the selector byte's address.
      addresses = ['arg3', 'arg5'];
      return done(`${name}, ${formatValue(PR_SYS_DISPATCH, a2)}, ${hexVal(a3)}, ${hexVal(a4)}, ${addr(a5)}`);
    case PR.SCHED_CORE: {
      const cmd = uint32(a2);
      const entry = `${name}, ${formatValue(PR_SCHED_CORE, cmd)}, ${int32(a3)}, ${valueVerbose(PIDTYPE, uint32(a4))}, `;
      addresses = ['arg5'];
      if (cmd !== SCHED_CORE_GET) return done(entry + addr(a5));
      // PR_SCHED_CORE_GET stores the cookie at arg5: copied after a successful call.
      if (ev.ret === null) return done(entry);
      const m = ok ? ev.exitMem : undefined;
      if (m === undefined || m.length < 8) return done(entry, base, addr(a5));
      const cookie = memU64(m, 0);
      return done(entry, { ...base, result: cookie }, `[${hexVal(cookie)}]`);
    }
    case PR.SET_NAME: {
      // 15 bytes copied, as strace reads: no NUL among them means `...`.
      const s = a2 === 0n || ev.entryMem === undefined ? undefined : cString(ev.entryMem);
      addresses = ['name'];
      if (s === undefined) return done(`${name}, ${addr(a2)}`, { option: base.option, name: a2 });
      return done(`${name}, ${quoteBytes(s.bytes, TASK_COMM_LEN - 1, !s.terminated)}`, { option: base.option, name: text(s.bytes) });
    }
    case PR.SET_VMA: {
      const attr = valueName(PR_SET_VMA, a2);
      if (a2 === PR_SET_VMA_ANON_NAME) {
        addresses = ['addr', 'name'];
        const s = a5 === 0n || ev.entryMem === undefined ? undefined : cString(ev.entryMem);
        return done(`${name}, ${formatValue(PR_SET_VMA, a2)}, ${addr(a3)}, ${a4}, ${s ? quoteBytes(s.bytes, undefined, !s.terminated) : addr(a5)}`, {
          option: base.option, attr, addr: a3, size: a4, name: s ? text(s.bytes) : a5,
        });
      }
      return done(`${name}, ${formatValue(PR_SET_VMA, a2)}${raw([a3, a4, a5])}`, { ...base, attr });
    }
    case PR.SET_PDEATHSIG:
      return done(`${name}, ${a2 > 128n ? a2.toString() : formatSignal(Number(a2))}`);
    case PR.SET_PTRACER:
      return done(`${name}, ${int32(a2) === -1 ? formatNamed('-1', 'PR_SET_PTRACER_ANY') : int32(a2)}`);
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
      return { value: v, text: `[${formatSignal(v)}]` };
    case PR.GET_TSC:
      return { value: valueName(PR_TSC, BigInt(v)), text: `[${formatValue(PR_TSC, BigInt(v))}]` };
    case PR.GET_UNALIGN:
      return { value: flagNames(PR_UNALIGN, BigInt(v)), text: `[${formatFlags(PR_UNALIGN, BigInt(v))}]` };
    default:
      return { value: v, text: `[${v}]` };
  }
}

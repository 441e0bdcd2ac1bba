// Process and thread creation, exec and exit, printing as strace 6.1
// (src/clone.c, execve.c, exit.c).
//
// What strace reads from tracee memory, the native tracer copies too:
// clone_args at entry, the pidfd the kernel stored (ev.exitMem), execve's
// path, argv and variable count. The child's tid that CLONE_PARENT_SETTID
// stores at parent_tid is the return value, so it is not read again.

import {
  addr, cString, flagNames, getAbbrev, formatFlags, hexVal, MAX_STRLEN, int32, memU32, namedValues, quoteBytes, quoteString, signalName, uint32, formatSignal, formatNamed, formatPidfd,
} from './format';
import { isErrorReturn as isError } from '../abi';
import { PATH_READ } from '../memory-reads';
import { AT_FDCWD, AT_FLAGS, CLONE, CLONE3, CSIGNAL } from './flags';
import { formatArray } from './print-array';
import { type StringArray, formatStringArray, leadingStrings, parseStringArrays } from './string-arrays';
import type { ArgValue, Decoded, DecodeInput } from './types';

const { PIDFD: CLONE_PIDFD, SETTLS: CLONE_SETTLS, PARENT_SETTID: CLONE_PARENT_SETTID, CHILD_CLEARTID: CLONE_CHILD_CLEARTID,
  CHILD_SETTID: CLONE_CHILD_SETTID, INTO_CGROUP: CLONE_INTO_CGROUP } = namedValues(CLONE3, 'CLONE_',
  ['PIDFD', 'SETTLS', 'PARENT_SETTID', 'CHILD_CLEARTID', 'CHILD_SETTID', 'INTO_CGROUP'] as const);

/** A return value that is an error; a call that never returned (null) is not. */
export function isErrorReturn(ret: bigint | null): boolean {
  return ret !== null && isError(ret);
}

/** A call that returned successfully (not an error, not unfinished). */
function succeeded(ret: bigint | null): ret is bigint {
  return ret !== null && !isErrorReturn(ret);
}

/**
 * clone's arguments differ by arch: x86_64 has (flags, stack, parent_tid,
 * child_tid, tls); arm64 and the generic ABI (CONFIG_CLONE_BACKWARDS) swap
 * the last two: (flags, stack, parent_tid, tls, child_tid).
 */
export function decodeClone(ev: DecodeInput): Decoded {
  const [rawFlags, stack, ptid] = ev.raw as [bigint, bigint, bigint];
  const [ctid, tls] = ev.arch === 'x86_64' ? [ev.raw[3]!, ev.raw[4]!] : [ev.raw[4]!, ev.raw[3]!];
  const flags = rawFlags & ~CSIGNAL;
  const sig = Number(rawFlags & CSIGNAL);
  let flagsText: string;
  if (flags !== 0n) {
    flagsText = formatFlags(CLONE, flags);
    if (sig !== 0) flagsText += '|' + formatSignal(sig);
  } else {
    flagsText = formatSignal(sig);
  }
  const entry = `child_stack=${addr(stack)}, flags=${flagsText}`;

  // strace prints the pointer arguments at exit, and only those the flags use.
  let exit = '';
  if (ev.ret !== null) {
    if (flags & (CLONE_PARENT_SETTID | CLONE_PIDFD)) {
      // parent_tid=[N]: the pidfd (CLONE_PIDFD) or the child's tid the kernel
      // stored there; the pointer when it did not (the call failed).
      const pidfd = (flags & CLONE_PIDFD) !== 0n ? storedPidfd(ev) : undefined;
      const tid = (flags & CLONE_PARENT_SETTID) !== 0n && ptid !== 0n && succeeded(ev.ret) ? ev.ret : undefined;
      const stored = pidfd !== undefined ? formatPidfd(pidfd, ev.ret) : tid;
      exit += `, parent_tid=${stored !== undefined ? `[${stored}]` : addr(ptid)}`;
    }
    if (flags & CLONE_SETTLS) exit += `, tls=${addr(tls)}`;
    if (flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) exit += `, child_tidptr=${addr(ctid)}`;
  }
  return {
    args: {
      flags: flagNames(CLONE, flags),
      exit_signal: signalName(sig),
      child_stack: stack,
      parent_tid: ptid,
      child_tid: ctid,
      tls,
    },
    entry,
    exit,
    returns: 'decimal',
    addresses: ['child_stack', 'parent_tid', 'child_tid', 'tls'],
  };
}

/** struct clone_args (linux/sched.h): field name and byte offset, in order; all u64. */
const CLONE_ARGS_FIELDS = [
  'flags', 'pidfd', 'child_tid', 'parent_tid', 'exit_signal', 'stack', 'stack_size', 'tls',
  'set_tid', 'set_tid_size', 'cgroup',
] as const;
type CloneArgsField = (typeof CLONE_ARGS_FIELDS)[number];
/** CLONE_ARGS_SIZE_VER0: up to tls; a smaller size is rejected by the kernel and not decoded by strace. */
const CLONE_ARGS_MIN = 64;
/** CLONE_ARGS_SIZE_VER2 (up to cgroup): the struct strace and liveprobe know. */
export const CLONE_ARGS_MAX = 88;
/**
 * A size past the struct: strace reads the tail up to a page
 * (src/clone.c: MIN(size, get_pagesize())), and so does the native tracer
 * (native/src/wire.h kCloneArgsMax); liveprobe's page is 4 KiB.
 */
export const CLONE_ARGS_TAIL_END = 4096;
/** strace prints set_tid's ints only for 1..32 of them (MAX_PID_NS_LEVEL), else its address. */
const MAX_SET_TID_SIZE = 32n;
const INT_MAX = 0x7fffffffn;

function u64(b: Uint8Array, off: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}

/**
 * clone3(struct clone_args *uargs, size_t size). The fields the size covers
 * are on `args` (the native tracer copies min(size, 88) bytes at entry);
 * the text follows strace: only the fields the flags make meaningful, the
 * address alone when the struct is too short or unreadable, and at exit
 * ` => {parent_tid=[tid]}` for CLONE_PARENT_SETTID.
 */
export function decodeClone3(ev: DecodeInput): Decoded {
  const [uargs, size] = ev.raw as [bigint, bigint];
  const fetch = size < BigInt(CLONE_ARGS_MAX) ? Number(size) : CLONE_ARGS_MAX;
  const bytes = ev.cloneArgs;
  const readable = bytes !== undefined && bytes.length >= fetch;
  const args: Record<string, ArgValue> = { uargs, size };
  const f: Partial<Record<CloneArgsField, bigint>> = {};
  if (readable) {
    for (let i = 0; (i + 1) * 8 <= fetch; i++) {
      const name = CLONE_ARGS_FIELDS[i]!;
      const v = u64(bytes, i * 8);
      f[name] = v;
      args[name] = name === 'flags' ? flagNames(CLONE3, v) : name === 'exit_signal' ? exitSignal(v) : v;
    }
  }
  const sizeText = String(size);
  if (fetch < CLONE_ARGS_MIN || !readable) {
    return { args, entry: `${addr(uargs)}, ${sizeText}`, exit: '', returns: 'decimal', addresses: CLONE3_ADDRESSES };
  }

  const flags = f.flags!;
  const parts = [`flags=${formatFlags(CLONE3, flags)}`];
  if (flags & CLONE_PIDFD) parts.push(`pidfd=${addr(f.pidfd!)}`);
  if (flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) parts.push(`child_tid=${addr(f.child_tid!)}`);
  if (flags & CLONE_PARENT_SETTID) parts.push(`parent_tid=${addr(f.parent_tid!)}`);
  const sig = f.exit_signal!;
  parts.push(`exit_signal=${sig < INT_MAX ? formatSignal(Number(sig)) : sig.toString()}`);
  parts.push(`stack=${addr(f.stack!)}`, `stack_size=${hexVal(f.stack_size!)}`);
  if (flags & CLONE_SETTLS) parts.push(`tls=${addr(f.tls!)}`);
  const setTid = f.set_tid ?? 0n;
  const setTidSize = f.set_tid_size ?? 0n;
  if (setTid !== 0n || setTidSize !== 0n) {
    parts.push(`set_tid=${setTidText(setTid, setTidSize, ev.entryMem)}`, `set_tid_size=${setTidSize}`);
  }
  if (fetch >= CLONE_ARGS_MAX && ((f.cgroup ?? 0n) !== 0n || (flags & CLONE_INTO_CGROUP) !== 0n)) parts.push(`cgroup=${f.cgroup}`);
  const tail = size > BigInt(CLONE_ARGS_MAX) ? tailText(bytes!, Number(size < BigInt(CLONE_ARGS_TAIL_END) ? size : BigInt(CLONE_ARGS_TAIL_END))) : undefined;
  if (tail !== undefined) parts.push(tail);
  const struct = `{${parts.join(', ')}}`;

  const waitsForExit = (flags & (CLONE_PIDFD | CLONE_PARENT_SETTID)) !== 0n || size > BigInt(CLONE_ARGS_MAX);
  if (!waitsForExit) return { args, entry: `${struct}, ${sizeText}`, exit: '', returns: 'decimal', addresses: CLONE3_ADDRESSES };
  let exit = '';
  if (ev.ret !== null) {
    const changed: string[] = [];
    if (succeeded(ev.ret)) {
      if (flags & CLONE_PIDFD) {
        const fd = storedPidfd(ev);
        changed.push(`pidfd=${fd !== undefined ? `[${formatPidfd(fd, ev.ret)}]` : addr(f.pidfd!)}`);
      }
      if (flags & CLONE_PARENT_SETTID) changed.push(`parent_tid=${f.parent_tid === 0n ? 'NULL' : `[${ev.ret}]`}`);
      // strace reads the tail again at exit; the kernel refuses a non-zero
      // one (E2BIG), so after a success it is the entry's, zero or `???`.
      if (tail !== undefined) changed.push(tail);
    }
    exit = (changed.length ? ` => {${changed.join(', ')}}` : '') + `, ${sizeText}`;
  }
  return { args, entry: struct, exit, returns: 'decimal', addresses: CLONE3_ADDRESSES };
}

/** The pointer and the struct clone_args fields that are addresses in the tracee. */
const CLONE3_ADDRESSES = ['uargs', 'pidfd', 'child_tid', 'parent_tid', 'stack', 'tls', 'set_tid'] as const;

/**
 * set_tid as strace's print_array of ints: the ints copied at entry
 * (ev.entryMem), `, ... /* 0x… *\/` where they became unreadable, the
 * address if none was readable or the size is out of strace's range.
 */
function setTidText(setTid: bigint, size: bigint, mem: Uint8Array | undefined): string {
  if (setTid === 0n || size === 0n || size > MAX_SET_TID_SIZE) return addr(setTid);
  return formatArray(setTid, size, 4, mem, (at) => String(int32(BigInt(memU32(mem!, at)))));
}

/**
 * The bytes past struct clone_args up to `end` (strace's print_nonzero_bytes):
 * nothing when all are zero, `???` when not all were readable, else
 * `/* bytes 88..N *\/ "\xde…"`, every byte in hex, at most 32, then `...`.
 */
function tailText(bytes: Uint8Array, end: number): string | undefined {
  if (bytes.length < end) return '???';
  const tail = bytes.subarray(CLONE_ARGS_MAX, end);
  if (tail.every((b) => b === 0)) return undefined;
  const shown = tail.subarray(0, MAX_STRLEN);
  const hex = Array.from(shown, (b) => '\\x' + b.toString(16).padStart(2, '0')).join('');
  return `/* bytes ${CLONE_ARGS_MAX}..${end - 1} */ "${hex}"${tail.length > shown.length ? '...' : ''}`;
}

/** The pidfd a successful clone/clone3 stored, as copied at its exit. */
function storedPidfd(ev: DecodeInput): number | undefined {
  const m = ev.exitMem;
  if (!succeeded(ev.ret) || m === undefined || m.length < 4) return undefined;
  return int32(BigInt(memU32(m, 0)));
}

function exitSignal(v: bigint): string | bigint {
  return v < INT_MAX ? signalName(Number(v)) : v;
}

export function decodeFork(): Decoded {
  return { args: {}, entry: '', exit: '', returns: 'decimal' };
}

/** strace's path limit for printpath (PATH_MAX). */
const PATH_MAX = 4096;

function pathText(ev: DecodeInput, ptr: bigint): { value: string | bigint; text: string } {
  if (ptr === 0n) return { value: 0n, text: 'NULL' };
  // The native side leaves path empty and flags readFailed when the first byte was unreadable.
  if (ev.path === undefined || (ev.readFailed && ev.path === '')) return { value: ptr, text: addr(ptr) };
  return { value: ev.path, text: quoteString(ev.path, PATH_MAX) };
}

/** argv and envp as copied at entry (lib/syscalls/decode/string-arrays.ts); undefined when not copied. */
function execArrays(ev: DecodeInput): [StringArray | undefined, StringArray | undefined] {
  if (ev.entryMem === undefined) return [undefined, undefined];
  const [argv, envp] = parseStringArrays(ev.entryMem);
  return [argv, envp];
}

function argvValue(ptr: bigint, a: StringArray | undefined): readonly string[] | bigint | null {
  if (ptr === 0n) return null;
  return a === undefined || (a.end === 'fault' && a.elements.length === 0) ? ptr : leadingStrings(a);
}

/**
 * envp: under strace's abbreviation, the pointer and, as a comment, how many
 * variables it held (`0x7ffd… /* 35 vars *\/`, counted further than the
 * strings are copied); under -v its strings, as argv.
 */
function envpText(ev: DecodeInput, ptr: bigint, a: StringArray | undefined): string {
  if (!getAbbrev()) return formatStringArray(ptr, a);
  if (ptr === 0n || ev.envc === undefined) return addr(ptr);
  const n = ev.envc;
  return `${addr(ptr)} /* ${n} var${n === 1 ? '' : 's'}${ev.envUnterminated ? ', unterminated' : ''} */`;
}

/** Pointers: a bigint when not followed (NULL, unreadable), else the path or argv read. */
const EXECVE_ADDRESSES = ['pathname', 'argv', 'envp'] as const;

export function decodeExecve(ev: DecodeInput): Decoded {
  const [p, av, envp] = ev.raw as [bigint, bigint, bigint];
  const path = pathText(ev, p);
  const [argv, env] = execArrays(ev);
  return {
    args: { pathname: path.value, argv: argvValue(av, argv), envp },
    entry: `${path.text}, ${formatStringArray(av, argv)}, ${envpText(ev, envp, env)}`,
    exit: '',
    returns: 'decimal',
    addresses: EXECVE_ADDRESSES,
  };
}

export function decodeExecveat(ev: DecodeInput): Decoded {
  const [dfd, p, av, envp, flags] = ev.raw as [bigint, bigint, bigint, bigint, bigint];
  const dirfd = int32(dfd);
  const path = pathText(ev, p);
  const [argv, env] = execArrays(ev);
  const f = uint32(flags);
  return {
    args: { dirfd, pathname: path.value, argv: argvValue(av, argv), envp, flags: flagNames(AT_FLAGS, f) },
    entry: `${formatNamed(String(dirfd), dirfd === AT_FDCWD ? 'AT_FDCWD' : undefined)}, ${path.text}, ${formatStringArray(av, argv)}, ${envpText(ev, envp, env)}, ${formatFlags(AT_FLAGS, f)}`,
    exit: '',
    returns: 'decimal',
    addresses: EXECVE_ADDRESSES,
  };
}

/** exit and exit_group: the status as a C int. */
export function decodeExit(ev: DecodeInput): Decoded {
  const status = int32(ev.raw[0]!);
  return { args: { status }, entry: String(status), exit: '', returns: 'decimal' };
}

/**
 * chdir(path): strace's printpath, the whole path quoted (not cut at -s),
 * up to PATH_MAX - 1 bytes and `...` when no NUL follows them, from the copy
 * lib/syscalls/memory-reads.ts makes at entry; the pointer when there is
 * none (NULL, unreadable).
 */
export function decodeChdir(ev: DecodeInput): Decoded {
  const ptr = ev.raw[0]!;
  const s = ptr === 0n || ev.entryMem === undefined ? undefined : cString(ev.entryMem);
  if (s === undefined) return { args: { path: ptr }, entry: addr(ptr), exit: '', returns: 'decimal', addresses: ['path'] };
  return {
    args: { path: new TextDecoder().decode(s.bytes) },
    entry: quoteBytes(s.bytes, PATH_READ - 1, !s.terminated),
    exit: '',
    returns: 'decimal',
  };
}

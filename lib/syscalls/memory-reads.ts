// The tracee memory strace prints for some calls and liveprobe therefore
// copies: what it is, when (entry, or a successful exit), where (which
// argument points at it), how much, and for which option values. This list
// is the only place that says so: the native tracer carries the rules out
// (native/src/read_rules.h) and the decoders read the copies they produce
// (ev.entryMem / ev.exitMem). clone3's pidfd and set_tid array (their
// addresses are inside struct clone_args) and execve's argv and envp entries
// and variable count are read by the native side on its own, next to the
// clone_args and path it already copies (native/src/tracer.cc beginSyscall;
// the entries' format in docs/wire-format.md).
import { ANON_VMA_NAME_MAX } from './abi';
import { ARCH_PRCTL, CLONE, PRCTL, PR_SCHED_CORE, PR_SET_VMA, SECCOMP_MODE } from './decode/flags';
import { MASK32, valueOf } from './decode/format';
import { AUDIT_ARCH } from '../wire';
import { type Arch, syscallNumber } from './table';

export interface MemoryRead {
  syscall: string;
  /** 'exit': only after the call succeeded, when the kernel has written it. */
  at: 'entry' | 'exit';
  /** The argument holding the address (0-based). A NULL address is not read. */
  ptrArg: number;
  /** Bytes to copy; for a string, the most to copy before its NUL. */
  bytes: number;
  /** A C string: the copy stops after the NUL, which it keeps. */
  string?: boolean;
  /**
   * A string that becomes unreadable before its NUL is still copied
   * (unterminated) when at least this many bytes were readable: strace's own
   * read length, for which it prints the string with `...`. For bytes (an
   * array strace reads element by element), the readable start is kept when
   * it is at least this long.
   */
  keepBytes?: number;
  /** Argument values that make the read apply: (uint32(arg) & mask) === value. At most two. */
  when?: { arg: number; value: bigint; mask?: bigint }[];
  /**
   * A struct that points at an array: after a whole copy, up to `bytes` more
   * at the pointer (u64) at `ptrOffset` in it, appended as far as readable.
   */
  then?: { ptrOffset: number; bytes: number };
}

const pr = (name: string): bigint => valueOf(PRCTL, name);
const opt = (name: string): MemoryRead['when'] => [{ arg: 0, value: pr(name) }];

/** sizeof(stack_t) on 64-bit: void *ss_sp; int ss_flags; size_t ss_size. */
export const STACK_T_SIZE = 24;
/** sizeof(struct iovec) on 64-bit: void *iov_base; size_t iov_len. */
export const IOVEC_SIZE = 16;
/** sizeof(struct sock_fprog) on 64-bit: unsigned short len, padding, struct sock_filter *filter. */
export const SOCK_FPROG_SIZE = 16;
/** TASK_COMM_LEN: a thread name with its NUL. */
export const TASK_COMM_LEN = 16;
/** strace's default string limit (-s 32) plus the byte that tells it the string goes on. */
const STRACE_STRING_READ = 33;
/** A path as strace's printpath reads it: PATH_MAX bytes, so up to PATH_MAX - 1 characters and whether a NUL follows. */
export const PATH_READ = 4096;
/** Numbers per rule in nativeReadRules' list; the most bytes one rule may copy (native/src/read_rules.h). */
export const READ_RULE_FIELDS = 15;
export const READ_RULE_MAX_BYTES = 4096;
/** Calls the native side reads on its own (clone_args, exec strings, mmap's file, calls that never return): no rules. */
const NATIVE_OWN = new Set(['clone3', 'execve', 'execveat', 'mmap', 'exit', 'exit_group']);

/** prctl options that store an int at arg2 (strace prints it as [value]). */
export const PRCTL_INT_RESULTS = [
  'PR_GET_PDEATHSIG', 'PR_GET_UNALIGN', 'PR_GET_FPEMU', 'PR_GET_FPEXC', 'PR_GET_ENDIAN', 'PR_GET_TSC',
  'PR_GET_CHILD_SUBREAPER',
] as const;
/** arch_prctl codes that store an unsigned long at addr. */
export const ARCH_PRCTL_RESULTS = [
  'ARCH_GET_FS', 'ARCH_GET_GS', 'ARCH_GET_XCOMP_SUPP', 'ARCH_GET_XCOMP_PERM', 'ARCH_GET_XCOMP_GUEST_PERM',
] as const;

export const MEMORY_READS: readonly MemoryRead[] = [
  { syscall: 'sigaltstack', at: 'entry', ptrArg: 0, bytes: STACK_T_SIZE },
  { syscall: 'chdir', at: 'entry', ptrArg: 0, bytes: PATH_READ, string: true },
  { syscall: 'sigaltstack', at: 'exit', ptrArg: 1, bytes: STACK_T_SIZE },
  // strace reads 15 bytes: a name is shown whole if its NUL is among them, else with `...`.
  { syscall: 'prctl', at: 'entry', when: opt('PR_SET_NAME'), ptrArg: 1, bytes: TASK_COMM_LEN - 1, string: true },
  {
    // The whole name for the model (80 bytes at most), as strace if only its 33 are readable.
    syscall: 'prctl', at: 'entry', ptrArg: 4, bytes: ANON_VMA_NAME_MAX, string: true, keepBytes: STRACE_STRING_READ,
    when: [{ arg: 0, value: pr('PR_SET_VMA') }, { arg: 1, value: valueOf(PR_SET_VMA, 'PR_SET_VMA_ANON_NAME') }],
  },
  { syscall: 'prctl', at: 'exit', when: opt('PR_GET_NAME'), ptrArg: 1, bytes: TASK_COMM_LEN, string: true },
  ...PRCTL_INT_RESULTS.map((name): MemoryRead => ({ syscall: 'prctl', at: 'exit', when: opt(name), ptrArg: 1, bytes: 4 })),
  { syscall: 'prctl', at: 'exit', when: opt('PR_GET_TID_ADDRESS'), ptrArg: 1, bytes: 8 },
  // PR_SCHED_CORE_GET stores the core-scheduling cookie (a u64) at arg5.
  {
    syscall: 'prctl', at: 'exit', ptrArg: 4, bytes: 8,
    when: [{ arg: 0, value: pr('PR_SCHED_CORE') }, { arg: 1, value: valueOf(PR_SCHED_CORE, 'PR_SCHED_CORE_GET') }],
  },
  ...ARCH_PRCTL_RESULTS.map((name): MemoryRead => ({
    syscall: 'arch_prctl', at: 'exit', when: [{ arg: 0, value: valueOf(ARCH_PRCTL, name) }], ptrArg: 1, bytes: 8,
  })),
  // mincore's vector, one byte a page: strace prints it after a success,
  // element by element (as far as readable), up to 32 unless -v; liveprobe
  // copies up to 4096 pages' worth.
  { syscall: 'mincore', at: 'exit', ptrArg: 2, bytes: READ_RULE_MAX_BYTES, keepBytes: 1 },
  // process_madvise's struct iovec array (16 bytes each), read at entry as far as readable.
  { syscall: 'process_madvise', at: 'entry', ptrArg: 1, bytes: READ_RULE_MAX_BYTES, keepBytes: IOVEC_SIZE },
  // PR_SET_SECCOMP, SECCOMP_MODE_FILTER: struct sock_fprog {u16 len; struct
  // sock_filter *filter}, then the program, which strace -v prints
  // instruction by instruction (8 bytes each; liveprobe copies up to 512).
  {
    syscall: 'prctl', at: 'entry', ptrArg: 2, bytes: SOCK_FPROG_SIZE, then: { ptrOffset: 8, bytes: READ_RULE_MAX_BYTES },
    when: [{ arg: 0, value: pr('PR_SET_SECCOMP') }, { arg: 1, value: valueOf(SECCOMP_MODE, 'SECCOMP_MODE_FILTER') }],
  },
  // clone(CLONE_PIDFD) stores the pidfd at parent_tid (the third argument on every arch).
  {
    syscall: 'clone', at: 'exit', ptrArg: 2, bytes: 4,
    when: [{ arg: 0, value: valueOf(CLONE, 'CLONE_PIDFD'), mask: valueOf(CLONE, 'CLONE_PIDFD') }],
  },
];


/** The rules for one arch as the flat number list the native session takes (read_rules.h). */
export function nativeReadRules(arch: Arch): number[] {
  const out: number[] = [];
  for (const r of MEMORY_READS) {
    const nr = syscallNumber(arch, r.syscall);
    if (nr === undefined) continue; // arch_prctl exists on x86_64 only
    const conds = r.when ?? [];
    // What the native side cannot carry out must not be dropped silently.
    const then = r.then;
    if (NATIVE_OWN.has(r.syscall) || conds.length > 2 || r.bytes > READ_RULE_MAX_BYTES || conds.some((k) => (k.mask ?? 0n) > MASK32) ||
      (then !== undefined && (r.string || then.ptrOffset < 0 || then.ptrOffset + 8 > r.bytes || then.bytes < 1 || then.bytes > READ_RULE_MAX_BYTES))) {
      throw new Error(`liveprobe: memory-read rule for ${r.syscall} cannot be carried out natively`);
    }
    out.push(AUDIT_ARCH[arch], nr, r.at === 'exit' ? 1 : 0, r.ptrArg, r.bytes, r.string ? 1 : 0, r.keepBytes ?? 0);
    for (let c = 0; c < 2; c++) {
      const k = conds[c];
      out.push(k ? k.arg : -1, k ? Number(k.mask ?? MASK32) : 0, k ? Number(k.value & MASK32) : 0);
    }
    out.push(then ? then.ptrOffset : -1, then ? then.bytes : 0);
  }
  return out;
}

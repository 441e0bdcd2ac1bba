// The memory and thread calls as numbers, for the model and the detectors:
// the one place outside the decoders that knows which argument register holds
// what. The decoders (lib/syscalls/decode) turn the same registers into
// strace's text; this turns them into values to compute with. x86_64 and
// aarch64 pass every argument read here in the same position (clone differs
// only in tls/child_tid, which nothing here reads).
import { CLONE_EXIT_SIGNAL_MASK, errnoOf, unsignedReturn } from './abi';

/** What a call view is made from: a syscall event (lib/events.ts SyscallEvent) has all of it. */
export interface CallSource {
  readonly name: string;
  readonly raw: readonly bigint[];
  readonly ret: bigint | null;
  readonly entryTime: number | null;
  /** mmap: the file behind the fd, from the tracer. */
  readonly path?: string;
  /** clone3: struct clone_args as read at entry. */
  readonly cloneArgs?: Uint8Array;
  /** prctl(PR_SET_VMA_ANON_NAME): the name as read at entry. */
  readonly entryMem?: Uint8Array;
}

interface Returned {
  /** The raw return value; the kernel's error range is negative. */
  readonly ret: bigint;
  /** 0 for success, else the errno. */
  readonly errno: number;
  /** The return as an unsigned address (mmap, mremap, brk, shmat). */
  readonly value: bigint;
}

export interface MmapCall extends Returned {
  readonly call: 'mmap';
  readonly addr: bigint;
  readonly length: bigint;
  readonly prot: number;
  readonly flags: number;
  readonly fd: number;
  readonly offset: bigint;
  readonly path: string | undefined;
}
export interface MunmapCall extends Returned {
  readonly call: 'munmap';
  readonly addr: bigint;
  readonly length: bigint;
}
export interface MprotectCall extends Returned {
  readonly call: 'mprotect' | 'pkey_mprotect';
  readonly addr: bigint;
  readonly length: bigint;
  readonly prot: number;
}
export interface MremapCall extends Returned {
  readonly call: 'mremap';
  readonly oldAddr: bigint;
  readonly oldLength: bigint;
  readonly newLength: bigint;
  readonly flags: number;
  /** The requested destination (MREMAP_FIXED); where it went is `value`. */
  readonly newAddr: bigint;
}
export interface BrkCall extends Returned {
  readonly call: 'brk';
  readonly addr: bigint;
}
export interface ShmatCall extends Returned {
  readonly call: 'shmat';
  readonly shmid: number;
  readonly addr: bigint;
  readonly shmflg: number;
}
export interface ShmdtCall extends Returned {
  readonly call: 'shmdt';
  readonly addr: bigint;
}
export interface RemapFilePagesCall extends Returned {
  readonly call: 'remap_file_pages';
  readonly start: bigint;
  readonly size: bigint;
  readonly pgoff: bigint;
}
export interface MadviseCall extends Returned {
  readonly call: 'madvise';
  readonly addr: bigint;
  readonly length: bigint;
  readonly advice: number;
}
export interface PrctlCall extends Returned {
  readonly call: 'prctl';
  readonly option: number;
  readonly arg2: bigint;
  readonly arg3: bigint;
  readonly arg4: bigint;
  readonly arg5: bigint;
  /** Bytes read at entry (PR_SET_VMA_ANON_NAME's name), if any. */
  readonly entryMem: Uint8Array | undefined;
}
export interface CloneCall extends Returned {
  readonly call: 'clone' | 'clone3';
  /** Flags without clone's exit-signal byte; undefined when clone3's struct was unreadable. */
  readonly flags: bigint | undefined;
  /**
   * The lowest address the child's stack may use, when one was given:
   * clone3's stack field, or clone's child_stack (the top) minus one byte.
   */
  readonly stackLow: bigint | undefined;
  /** clone's child_stack or clone3's stack, as passed. */
  readonly stack: bigint;
}

export type Call =
  | MmapCall | MunmapCall | MprotectCall | MremapCall | BrkCall | ShmatCall | ShmdtCall | RemapFilePagesCall
  | MadviseCall | PrctlCall | CloneCall;

/** struct clone_args (linux/sched.h): u64 fields in this order. */
export const CLONE_ARGS = { flags: 0, pidfd: 1, childTid: 2, parentTid: 3, exitSignal: 4, stack: 5, stackSize: 6, tls: 7 } as const;

/** One u64 field of clone3's struct clone_args, if the bytes read reach it. */
export function cloneArgsField(bytes: Uint8Array | undefined, index: number): bigint | undefined {
  if (!bytes || bytes.length < (index + 1) * 8) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getBigUint64(index * 8, true);
}

/** The low 32 bits of a register as a C int. */
function int(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

type Builder = (r: readonly bigint[], ret: Returned, src: CallSource) => Call;

const BUILDERS = new Map<string, Builder>(Object.entries({
  mmap: (r, x, s) => ({ call: 'mmap', addr: r[0]!, length: r[1]!, prot: int(r[2]!), flags: int(r[3]!), fd: int(r[4]!), offset: r[5]!, path: s.path, ...x }),
  munmap: (r, x) => ({ call: 'munmap', addr: r[0]!, length: r[1]!, ...x }),
  mprotect: (r, x) => ({ call: 'mprotect', addr: r[0]!, length: r[1]!, prot: int(r[2]!), ...x }),
  pkey_mprotect: (r, x) => ({ call: 'pkey_mprotect', addr: r[0]!, length: r[1]!, prot: int(r[2]!), ...x }),
  mremap: (r, x) => ({ call: 'mremap', oldAddr: r[0]!, oldLength: r[1]!, newLength: r[2]!, flags: int(r[3]!), newAddr: r[4]!, ...x }),
  brk: (r, x) => ({ call: 'brk', addr: r[0]!, ...x }),
  shmat: (r, x) => ({ call: 'shmat', shmid: int(r[0]!), addr: r[1]!, shmflg: int(r[2]!), ...x }),
  shmdt: (r, x) => ({ call: 'shmdt', addr: r[0]!, ...x }),
  remap_file_pages: (r, x) => ({ call: 'remap_file_pages', start: r[0]!, size: r[1]!, pgoff: r[3]!, ...x }),
  madvise: (r, x) => ({ call: 'madvise', addr: r[0]!, length: r[1]!, advice: int(r[2]!), ...x }),
  prctl: (r, x, s) => ({ call: 'prctl', option: int(r[0]!), arg2: r[1]!, arg3: r[2]!, arg4: r[3]!, arg5: r[4]!, entryMem: s.entryMem, ...x }),
  clone: (r, x) => {
    const top = r[1]!;
    return { call: 'clone', flags: r[0]! & ~CLONE_EXIT_SIGNAL_MASK, stack: top, stackLow: top === 0n ? undefined : top - 1n, ...x };
  },
  clone3: (_r, x, s) => {
    const stack = cloneArgsField(s.cloneArgs, CLONE_ARGS.stack);
    return { call: 'clone3', flags: cloneArgsField(s.cloneArgs, CLONE_ARGS.flags), stack: stack ?? 0n, stackLow: stack || undefined, ...x };
  },
} satisfies Record<string, Builder>));

/** Names of the calls this module gives a view of. */
export const VIEWED_CALLS: readonly string[] = [...BUILDERS.keys()];

/**
 * The numeric view of a memory or thread call that returned, or undefined:
 * for other calls, for a call that never returned (the task died inside it:
 * what the kernel did is unknown), and for an exit seen without its entry
 * (the first stop after an attach: the arguments were never read, and the
 * call finished before the snapshot, which shows its effect).
 */
export function callOf(src: CallSource): Call | undefined {
  if (src.ret === null || src.entryTime === null) return undefined;
  const build = BUILDERS.get(src.name);
  if (!build) return undefined;
  const ret = src.ret;
  return build(src.raw, { ret, errno: errnoOf(ret), value: unsignedReturn(ret) }, src);
}

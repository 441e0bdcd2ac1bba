// What a syscall decoder takes and gives. Decoders see only the fields of a
// syscall event they need, so they can run on recorded streams and in tests
// without a live session.

import type { Arch } from '../table';

/**
 * A decoded argument: integers stay bigint (addresses, sizes, anything that
 * may pass 2^53), small C ints (fds, signals, pkeys) are numbers, flag sets
 * are arrays of names (unknown bits as one hex string, the way strace prints
 * them), enums are a name or that hex string, C strings are strings.
 * A pointer that could not be followed stays a bigint.
 */
export type ArgValue = bigint | number | string | boolean | null | readonly string[];

/** Named, decoded arguments of one call, e.g. mmap's { addr, length, prot, flags, fd, offset }. */
export type SyscallArgs = Readonly<Record<string, ArgValue>>;

/** The fields of a syscall event a decoder reads. */
export interface DecodeInput {
  readonly name: string;
  readonly arch: Arch;
  /** Raw register values, unsigned, always 6. */
  readonly raw: readonly bigint[];
  readonly ret: bigint | null;
  readonly cloneArgs?: Uint8Array;
  readonly path?: string;
  readonly argv?: readonly string[];
  readonly envc?: number;
  readonly envUnterminated?: boolean;
  readonly entryMem?: Uint8Array;
  readonly exitMem?: Uint8Array;
  readonly truncated?: boolean;
  readonly readFailed?: boolean;
}

/** How strace prints a successful return value. */
export type ReturnStyle = 'decimal' | 'hex';

export interface Decoded {
  readonly args: SyscallArgs;
  /** The argument text strace prints at syscall entry. */
  readonly entry: string;
  /**
   * The argument text strace adds at syscall exit (clone's `, tls=…`,
   * clone3's ` => {parent_tid=[N]}, 88`), empty for most calls. Not
   * printed when the call never returned.
   */
  readonly exit: string;
  readonly returns: ReturnStyle;
  /**
   * The args that hold an address in the tracee: a pointer (followed or not)
   * or what one pointed at (sigaltstack's ss_sp, ARCH_GET_FS's value). JSON
   * writes a bigint among them as "0x…", as /proc/PID/maps shows addresses
   * (lib/events.ts); a pointer that was followed (a path read) is its value.
   */
  readonly addresses?: readonly string[];
  /** The return value is an address in the tracee (mmap, mremap, brk, shmat); JSON writes it "0x…". */
  readonly returnsAddress?: boolean;
  /** strace's auxiliary text after the return value, e.g. `= 1 (SUID_DUMP_USER)`. */
  readonly aux?: string;
}

export type Decoder = (ev: DecodeInput) => Decoded;

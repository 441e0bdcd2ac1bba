// TypeScript twin of native/src/wire.h (docs/wire-format.md).
// test/wire.test.ts checks these constants against the layout the compiler
// produced (native layout()).
import type { Arch } from './syscalls/table';

export const MAGIC = 0x4c505231;
export const VERSION = 3;
export const HEADER_SIZE = 40;
export const RECORD_SIZE = 128;

export const HEADER = { version: 4, count: 8, dataBytes: 12, lost: 16, flags: 24, hidden: 28, stops: 32 } as const;

export const FIELD = {
  seq: 0,
  time_ns: 8,
  pid: 16,
  tid: 20,
  kind: 24,
  flags: 26,
  nr: 28,
  args: 32,
  ret: 80,
  entry_ns: 88,
  a: 96,
  b: 100,
  data_off: 104,
  data_len: 108,
  data2_off: 112,
  data2_len: 116,
  arch: 120,
} as const;

export const KIND = {
  syscall: 1,
  threadStart: 2,
  threadExit: 3,
  exec: 4,
  signal: 5,
  exit: 6,
  snapshot: 7,
  error: 8,
  detached: 9,
  started: 10,
} as const;

export const FLAG = {
  hasReturn: 1 << 0,
  unfinished: 1 << 1,
  noEntry: 1 << 2,
  seccomp: 1 << 3,
  groupStop: 1 << 4,
  dataTruncated: 1 << 5,
  readFailed: 1 << 6,
  hasCount: 1 << 7,
  /** exit_group: its thread waits at the entry stop until the consumer calls release() (lib/session.ts). */
  held: 1 << 8,
  batchLast: 1,
} as const;

/**
 * execve's argv and envp in data2: per element an entry {u8 kind, u32 len,
 * u64 ptr} then len bytes; each array ends with end, fault or bound
 * (native/src/wire.h ArrayEntry; lib/syscalls/decode/string-arrays.ts reads them).
 */
export const ARRAY_ENTRY = { string: 0, stringCut: 1, stringFault: 2, end: 3, fault: 4, bound: 5 } as const;
export const ARRAY_ENTRY_HEADER = 13;

export const ERROR_SITE = { fork: 1, exec: 2, seize: 3, wait: 4, internal: 5, chdir: 6, seccomp: 7, perf: 8 } as const;
export const START_EVENT = { 1: 'clone', 2: 'fork', 3: 'vfork', 4: 'attach' } as const;

export const AUDIT_ARCH = { x86_64: 0xc000003e, aarch64: 0xc00000b7 } as const;

/** The architecture a record's AUDIT_ARCH value names (the tracer runs x86_64 and aarch64 tracees only). */
export function archOfAudit(audit: number): Arch {
  return audit === AUDIT_ARCH.aarch64 ? 'aarch64' : 'x86_64';
}

/** One batch as it came from the tracer thread, read in place. */
export class BatchView {
  readonly view: DataView;
  readonly count: number;
  readonly lost: bigint;
  /** Signals a quiet rule kept out of the trace since the previous batch (lib/syscalls/quieting.ts). */
  readonly hidden: number;
  /** ptrace stops of the tracees since the previous batch. */
  readonly stops: number;
  readonly last: boolean;
  readonly dataStart: number;

  constructor(readonly buffer: ArrayBuffer) {
    this.view = new DataView(buffer);
    if (buffer.byteLength < HEADER_SIZE || this.view.getUint32(0, true) !== MAGIC) {
      throw new Error('liveprobe: corrupt batch from the native tracer (bad magic)');
    }
    const version = this.view.getUint16(HEADER.version, true);
    if (version !== VERSION) {
      throw new Error(`liveprobe: the native addon speaks wire version ${version}, this code ${VERSION}; rebuild it (npm run build:native)`);
    }
    this.count = this.view.getUint32(HEADER.count, true);
    this.lost = this.view.getBigUint64(HEADER.lost, true);
    this.hidden = this.view.getUint32(HEADER.hidden, true);
    this.stops = Number(this.view.getBigUint64(HEADER.stops, true));
    this.last = (this.view.getUint32(HEADER.flags, true) & FLAG.batchLast) !== 0;
    this.dataStart = HEADER_SIZE + this.count * RECORD_SIZE;
    const dataBytes = this.view.getUint32(HEADER.dataBytes, true);
    if (this.dataStart + dataBytes !== buffer.byteLength) {
      throw new Error('liveprobe: corrupt batch from the native tracer (bad size)');
    }
  }

  offset(i: number): number {
    return HEADER_SIZE + i * RECORD_SIZE;
  }
  u16(i: number, field: number): number {
    return this.view.getUint16(this.offset(i) + field, true);
  }
  u32(i: number, field: number): number {
    return this.view.getUint32(this.offset(i) + field, true);
  }
  i32(i: number, field: number): number {
    return this.view.getInt32(this.offset(i) + field, true);
  }
  u64(i: number, field: number): bigint {
    return this.view.getBigUint64(this.offset(i) + field, true);
  }
  /**
   * A u64 field as a number, without a BigInt: exact below 2^53, which seqs
   * and CLOCK_MONOTONIC nanoseconds stay under for 104 days of uptime (and
   * within a few ns beyond, far below the ms the times are given in).
   */
  u64n(i: number, field: number): number {
    const o = this.offset(i) + field;
    return this.view.getUint32(o, true) + this.view.getUint32(o + 4, true) * 4294967296;
  }
  i64(i: number, field: number): bigint {
    return this.view.getBigInt64(this.offset(i) + field, true);
  }
  /** Bytes of the record's first (which = 1) or second (which = 2) blob. */
  data(i: number, which: 1 | 2 = 1): Uint8Array {
    const off = this.u32(i, which === 1 ? FIELD.data_off : FIELD.data2_off);
    const len = this.u32(i, which === 1 ? FIELD.data_len : FIELD.data2_len);
    return new Uint8Array(this.buffer, this.dataStart + off, len);
  }
}

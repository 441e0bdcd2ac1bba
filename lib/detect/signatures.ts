// The measured shapes behind the detectors (reference/ground-truth.md,
// domain-go-glibc.md §1–3). Sizes that change across versions are not here:
// the detectors match by sequence and position instead.
import * as abi from '../model/linux-constants';
import { syscallNumber, type Arch } from '../syscalls/table';

// The ABI's numbers (lib/model/linux-constants), as bigint for raw registers.
export const PROT_NONE = 0n;
export const PROT_RW = BigInt(abi.PROT_READ | abi.PROT_WRITE);
export const MAP_ANONYMOUS = BigInt(abi.MAP_ANONYMOUS);
export const MAP_FIXED = BigInt(abi.MAP_FIXED);
export const MAP_NORESERVE = 0x4000n; // not needed by the model
export const MAP_STACK = 0x20000n; // idem

/** glibc's pthread_create: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID (0x3d0f00). */
export const PTHREAD_CLONE_FLAGS = 0x3d0f00n;
/** Go's runtime.newosproc: VM|FS|FILES|SIGHAND|SYSVSEM|THREAD (cloneFlags); amd64 adds SETTLS. */
export const GO_CLONE_FLAGS = 0x50f00n;
export const CLONE_PARENT_SETTID = 0x100000n;
export const CLONE_CHILD_CLEARTID = 0x200000n;

/** glibc's HEAP_MAX_SIZE on 64-bit (2 × DEFAULT_MMAP_THRESHOLD_MAX): an arena heap; reserved as twice that, then trimmed. */
export const ARENA_HEAP_SIZE = 64n << 20n;
/** Go's heapArenaBytes on 64-bit Linux. */
export const GO_HEAP_ARENA_SIZE = 64n << 20n;

/** Go's page-summary levels (2^(48-shift) × 8 bytes for shifts 34, 31, 28, 25, 22), reserved at start-up since Go 1.14. */
export const GO_SUMMARY_LEVELS = [34n, 31n, 28n, 25n, 22n].map((shift) => (1n << (48n - shift)) * 8n);
/** The scavenge index: 8 MiB in Go 1.19, 512 MiB since about 1.21. */
export const GO_SCAVENGE_INDEX = [8n << 20n, 512n << 20n];
/** mheap_.arenas L2: 1 << 22 pointers. */
export const GO_ARENA_INDEX = 32n << 20n;

export function isError(ret: bigint | null): boolean {
  return ret === null || (ret < 0n && ret >= -4095n);
}

/** clone3's struct clone_args fields, little-endian u64s. */
export function cloneArgsField(bytes: Uint8Array | undefined, index: number): bigint | undefined {
  if (!bytes || bytes.length < (index + 1) * 8) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readBigUInt64LE(index * 8);
}
export const CLONE_ARGS = { flags: 0, pidfd: 1, childTid: 2, parentTid: 3, exitSignal: 4, stack: 5, stackSize: 6, tls: 7 };

/** clone's raw child stack register: argument 1 on x86_64 and aarch64 alike. */
export function cloneStack(raw: readonly bigint[]): bigint {
  return raw[1]!;
}

export function nr(arch: Arch, name: string): number {
  return syscallNumber(arch, name) ?? -1;
}

// What the model knows about one mapped range, and the /proc/PID/maps text
// format it is seeded from and printed in.
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../syscalls/abi';
import type { MmapCall } from '../syscalls/calls';

/** Which syscall (or snapshot) made a region, by whom and when. */
export interface Provenance {
  /** The thread that made it (for a snapshot: the process's pid). */
  readonly tid: number;
  /** The record's seq: the syscall event with this seq is the proof. */
  readonly seq: number;
  /** Milliseconds since the session started, as event times: when the syscall returned. */
  readonly time: number;
  /** When the syscall was entered (same clock), if the tracer saw the entry. */
  readonly entered?: number;
  /** 'mmap', 'mremap', 'brk', 'shmat', … or 'snapshot' when it predates tracing. */
  readonly cause: string;
}

/**
 * Every class a region can have, in one place. The detectors (lib/detect)
 * prove the Go and glibc classes from syscalls, or read them from a region's shape
 * after an attach (lib/detect/shape.ts); the explanation (lib/explain/
 * classify.ts) names the rest from /proc/PID/maps names.
 */
export const REGION_CLASSES = [
  'pthread-stack', //        a thread stack made by pthread_create (glibc's or musl's)
  'guard-page', //           the PROT_NONE guard below it
  'glibc-arena-heap', //     a glibc malloc arena heap: 64 MiB, 64 MiB-aligned
  'go-heap-arena', //        a Go heap arena reservation and its commits
  'go-page-summary', //      the page allocator's summary levels 0..4 (runtime/mpagealloc_64bit.go)
  'go-scavenge-index', //    the scavenger's index of chunks (runtime/mgcscavenge.go)
  'go-arena-index', //       mheap_.arenas L2: one pointer per possible heap arena (runtime/malloc.go)
  'go-arena-metadata', //    one heapArena struct per heap arena (runtime/mheap.go)
  'go-page-chunks', //       pageAlloc.chunks L2: the per-chunk bitmaps (runtime/mpagealloc_64bit.go)
  'main-heap', //            the brk heap, [heap]
  'main-stack', //           the main thread's stack, [stack]
  'vdso-vvar', //            pages the kernel maps at exec
  'file-segment', //         a mapped file (program, libraries, data)
  'file-bss', //             the anonymous .bss tail after an ELF data segment
  'anonymous', //            anonymous memory nobody explained
] as const;
export type RegionClass = (typeof REGION_CLASSES)[number];

/** How the kernel names the mapping: decides merging and the maps name. */
export type RegionKind =
  | 'anon' //   anonymous memory (brk heap included)
  | 'file' //   a file, by path; shared anonymous memory is the file "/dev/zero (deleted)"
  | 'shm' //    a System V segment, "/SYSV<key> (deleted)"
  | 'stack' //  the main thread's stack, "[stack]", grows on faults
  | 'special'; // [vdso], [vvar], [vvar_vclock], [uprobes]: made by the kernel at exec

/**
 * The attributes that pieces of one mapping share. Immutable: a change
 * (mprotect, a class) gives the changed pieces a new object, so splitting a
 * region copies nothing but its bounds.
 */
export interface RegionAttrs {
  /** PROT_READ | PROT_WRITE | PROT_EXEC bits. */
  readonly prot: number;
  /** MAP_SHARED (maps shows 's'), else private ('p'). */
  readonly shared: boolean;
  readonly kind: RegionKind;
  /** As /proc/PID/maps names it: a path, '[heap]', '[stack]', '[vdso]', '[anon:x]', or '' for plain anonymous memory. */
  readonly name: string;
  /** Device and inode as /proc/PID/maps shows them; known for snapshot regions only ('' / 0n otherwise). */
  readonly dev: string;
  readonly inode: bigint;
  /** System V segment id and its size in bytes (kind 'shm'); -1 / -1n when unknown. */
  readonly shmid: number;
  readonly shmSize: bigint;
  /**
   * Shared mappings only: whether the kernel lets it be made writable
   * (VM_MAYWRITE: the fd was opened for writing, the segment not attached
   * SHM_RDONLY). null when unknown (mapped read-only from a fd the tracer did
   * not see the mode of). Always true for private memory (writes copy).
   */
  readonly mayWrite: boolean | null;
  /** madvise(MADV_DONTFORK): a forked child does not get this range. */
  readonly dontFork: boolean;
  readonly origin: Provenance;
  /** The mmap that made it, as numbers (lib/syscalls/calls.ts): the flags and sizes the detectors match on. */
  readonly made?: MmapCall;
  /**
   * A MAP_FIXED mapping placed over existing memory: the origin of the
   * mapping it was placed into (the outermost one, if that itself was placed
   * into another). Go commits its heap this way inside PROT_NONE reservations.
   */
  readonly within?: Provenance;
  /**
   * The last syscall that changed these attributes (mprotect, madvise,
   * prctl); the origin until one did. Pieces of one mapping that came to be
   * alike again merge, keeping the lower piece's.
   */
  readonly changed: Provenance;
  /** What a detector proved (or read from the shape) it is; null until one says. */
  readonly class: RegionClass | null;
}

/** One region as the model's queries return it: a copy, safe to keep. */
export interface Region extends RegionAttrs {
  readonly start: bigint;
  /** Exclusive. */
  readonly end: bigint;
  /** File offset of `start` (0 for anonymous memory). */
  readonly offset: bigint;
  /** 'rw-p' etc., as /proc/PID/maps prints it. */
  readonly perms: string;
}

export function permsOf(prot: number, shared: boolean): string {
  return (
    (prot & PROT_READ ? 'r' : '-') +
    (prot & PROT_WRITE ? 'w' : '-') +
    (prot & PROT_EXEC ? 'x' : '-') +
    (shared ? 's' : 'p')
  );
}

/** One line of /proc/PID/maps. */
export interface MapsEntry {
  start: bigint;
  end: bigint;
  prot: number;
  shared: boolean;
  offset: bigint;
  dev: string;
  inode: bigint;
  /** '' for anonymous memory. Paths may contain spaces; the kernel escapes only '\n'. */
  name: string;
}

// start-end perms offset dev inode [name]; the name starts after the padding.
const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([sp]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;

/** Parses /proc/PID/maps text. Throws on a line it does not understand: a silent skip would hide a model error. */
export function parseMaps(text: string): MapsEntry[] {
  const out: MapsEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = MAPS_LINE.exec(line);
    if (!m) throw new Error(`liveprobe: cannot parse /proc/PID/maps line: ${JSON.stringify(line)}`);
    out.push({
      start: BigInt('0x' + m[1]),
      end: BigInt('0x' + m[2]),
      prot: (m[3] === 'r' ? PROT_READ : 0) | (m[4] === 'w' ? PROT_WRITE : 0) | (m[5] === 'x' ? PROT_EXEC : 0),
      shared: m[6] === 's',
      offset: BigInt('0x' + m[7]),
      dev: m[8]!,
      inode: BigInt(m[9]!),
      name: m[10] ?? '',
    });
  }
  return out;
}

/** Names the kernel gives its own mappings; anything else in brackets is anonymous memory. */
const SPECIAL_NAMES = new Set(['[vdso]', '[vvar]', '[vvar_vclock]', '[uprobes]', '[vsyscall]']);

/** The kind of a mapping, from its maps name (and inode: SysV shm files are named /SYSV<key>). */
export function kindOfName(name: string): RegionKind {
  if (name === '') return 'anon';
  if (name === '[stack]') return 'stack';
  if (SPECIAL_NAMES.has(name)) return 'special';
  if (name.startsWith('[')) return 'anon'; // [heap], [anon:x], [anon_shmem:x] (the latter is shared, flagged by 's')
  if (/^\/SYSV[0-9a-f]{8} \(deleted\)$/.test(name)) return 'shm';
  return 'file';
}

/** [vsyscall] is the legacy gate page: listed in maps but not a VMA of the process (not in VmSize, never changes). */
export function isGate(name: string): boolean {
  return name === '[vsyscall]';
}

function hex(n: bigint, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** One line in /proc/PID/maps layout (show_map_vma: name padded to column 73), optionally with extra text before the name. */
export function formatMapsLine(
  start: bigint,
  end: bigint,
  perms: string,
  offset: bigint,
  dev: string,
  inode: bigint,
  name: string,
  extra?: string,
): string {
  let line = `${hex(start, 8)}-${hex(end, 8)} ${perms} ${hex(offset, 8)} ${dev || '00:00'} ${inode}`;
  if (extra !== undefined) line += ` ${extra}`;
  if (name !== '') line = line.padEnd(72) + ' ' + name;
  return line;
}

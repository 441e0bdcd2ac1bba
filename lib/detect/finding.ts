// What the detectors report: a fact about the process, with the seqs of the
// syscall events that prove it.

export type FindingKind =
  | 'cgo-thread' //          a thread made by glibc's pthread_create (cgo Ms, C threads)
  | 'go-thread' //           a thread made by the Go runtime itself (runtime.newosproc)
  | 'glibc-arena' //         a glibc malloc arena heap (64 MiB reserve, 64 MiB-aligned)
  | 'go-heap-arena' //       a Go heap arena reservation (64 MiB) and its commits
  | 'go-runtime-metadata'; // the Go runtime's startup reservations (page summaries, indexes)

export interface Finding {
  type: 'finding';
  kind: FindingKind;
  pid: number;
  /** The thread whose event completed the proof. */
  tid: number;
  /** The seq of the event that completed it: the finding follows that event. */
  seq: number;
  time: number;
  /** Seqs of the syscall events that prove it, in order. */
  evidence: number[];
  /** The memory it is about, when it is about memory. */
  region?: { start: bigint; end: bigint };
  /** One line for people. */
  summary: string;
  /** Kind-specific facts (sizes, tids, flags). */
  details: Record<string, bigint | number | string | boolean | null>;
}

export const MiB = 1n << 20n;

export function fmtSize(bytes: bigint): string {
  if (bytes % MiB === 0n) return `${bytes / MiB} MiB`;
  if (bytes % 1024n === 0n && bytes < 64n * MiB) return `${bytes / 1024n} KiB`;
  if (bytes >= MiB) return `${(Number(bytes) / Number(MiB)).toFixed(1)} MiB`;
  if (bytes % 1024n === 0n) return `${bytes / 1024n} KiB`;
  return `${bytes} B`;
}

export function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

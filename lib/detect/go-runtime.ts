// The Go runtime's own structures on 64-bit Linux (amd64, 48-bit
// addresses), their sizes by Go's formulas, and what changes by release: one
// row per release range (docs/go-glibc-musl.md, "Go's reservations by
// release"). The detectors (lib/detect/arenas.ts) match the start-up mmaps
// against these sizes; the shape classifier (lib/detect/go-shape.ts) lays
// them out in /proc/PID/maps for the binary's Go version.
import type { RegionClass } from '../model';

/** Address bits the page allocator covers (heapAddrBits, runtime/malloc.go). */
const HEAP_ADDR_BITS = 48n;
/** A palloc chunk is 4 MiB (logPallocChunkBytes = 22, runtime/mpagealloc.go). */
const LOG_CHUNK_BYTES = 22n;

/**
 * The page summary levels 0..4 (runtime/mpagealloc_64bit.go, levelShift
 * 34, 31, 28, 25, 22): 2^(48 − shift) entries of 8 bytes = 128 KiB, 1 MiB,
 * 8 MiB, 64 MiB, 512 MiB, reserved PROT_NONE in this order at start-up.
 */
export const GO_SUMMARY_LEVELS = [34n, 31n, 28n, 25n, 22n].map((shift) => (1n << (HEAP_ADDR_BITS - shift)) * 8n);
/** mheap_.arenas L2 (runtime/malloc.go arenaL2Bits = 48 − 26 = 22): 2^22 pointers, mapped RW. */
export const GO_ARENA_INDEX = (1n << (HEAP_ADDR_BITS - 26n)) * 8n;
/**
 * pageAlloc.chunks L2 (runtime/mpagealloc_64bit.go pallocChunksL1Bits = 13):
 * 2^(48 − 22 − 13) pallocData of 128 bytes (alloc and scavenged bitmaps), mapped RW.
 */
export const GO_PAGE_CHUNKS = (1n << (HEAP_ADDR_BITS - LOG_CHUNK_BYTES - 13n)) * 128n;
/** The scavenge index before Go 1.21: one bit per chunk. */
const SCAVENGE_BITS = (1n << (HEAP_ADDR_BITS - LOG_CHUNK_BYTES)) / 8n;
/** The scavenge index since Go 1.21 (runtime/mgcscavenge.go): one 8-byte scavChunkData per chunk. */
const SCAVENGE_CHUNK_DATA = (1n << (HEAP_ADDR_BITS - LOG_CHUNK_BYTES)) * 8n;

/** What differs by release: measured on ex7pure (docs/go-glibc-musl.md). */
export interface GoRelease {
  /** The first minor version (1.x) of the range; a row holds until the next. */
  since: number;
  scavengeIndex: bigint;
  /** One heapArena struct per heap arena, mapped RW right after the arena's reservation. */
  heapArenaMeta: bigint;
}

export const GO_RELEASES: readonly GoRelease[] = [
  { since: 19, scavengeIndex: SCAVENGE_BITS, heapArenaMeta: 2165776n },
  { since: 20, scavengeIndex: SCAVENGE_BITS, heapArenaMeta: 1133584n },
  { since: 21, scavengeIndex: SCAVENGE_CHUNK_DATA, heapArenaMeta: 1133584n },
  { since: 22, scavengeIndex: SCAVENGE_CHUNK_DATA, heapArenaMeta: 68624n },
  { since: 25, scavengeIndex: SCAVENGE_CHUNK_DATA, heapArenaMeta: 69648n },
];

/** Every scavenge index size a release has (the live detector does not know the version). */
export const GO_SCAVENGE_INDEX = [...new Set(GO_RELEASES.map((r) => r.scavengeIndex))];

/** The row for a `go1.x[.y]` version string, or undefined (older than the table, or unparsable). */
export function goRelease(version: string | null | undefined): GoRelease | undefined {
  const m = /^go1\.(\d+)(?:\.|$|rc|beta)/.exec(version ?? '');
  if (!m) return undefined;
  const minor = Number(m[1]);
  let row: GoRelease | undefined;
  for (const r of GO_RELEASES) if (r.since <= minor) row = r;
  return row;
}

/** The class each named runtime structure gets (lib/model/region.ts REGION_CLASSES). */
export const GO_STRUCTURE_CLASS = {
  summary: 'go-page-summary',
  scavengeIndex: 'go-scavenge-index',
  arenaIndex: 'go-arena-index',
  heapArenaMeta: 'go-arena-metadata',
  pageChunks: 'go-page-chunks',
} as const satisfies Record<string, RegionClass>;

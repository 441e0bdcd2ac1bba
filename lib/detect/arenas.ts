// Big PROT_NONE reservations and what they turn out to be.
//
// glibc's new_heap (malloc/arena.c), in the thread that first mallocs:
//   mmap(NULL, 128 MiB, PROT_NONE, PRIVATE|ANON[|NORESERVE]) → munmap the head
//   and tail around the 64 MiB-aligned middle → mprotect(base, n, RW);
//   or mmap(remembered aligned_heap_area, 64 MiB, …) → mprotect(base, n, RW).
// Go's heap (mheap.sysAlloc): mmap(hint, 64 MiB·k, PROT_NONE, PRIVATE|ANON) →
//   mmap(base+off, 4 MiB·n, RW, PRIVATE|FIXED|ANON) as the heap grows; never
//   mprotect. That difference (mprotect vs MAP_FIXED RW inside the
//   reservation) tells the two apart whatever the addresses and versions.
import os from 'node:os';
import type { SyscallEvent, TraceEvent } from '../events';
import type { Detector, DetectorContext } from './pipeline';
import { fmtSize, hex } from './finding';
import {
  ARENA_HEAP_SIZE, GO_ARENA_INDEX, GO_HEAP_ARENA_SIZE, GO_SCAVENGE_INDEX, GO_SUMMARY_LEVELS, MAP_ANONYMOUS, MAP_FIXED,
  MAP_NORESERVE, PROT_NONE, PROT_RW, isError,
} from './signatures';

interface Reservation {
  pid: number;
  tid: number;
  start: bigint;
  end: bigint;
  /** Bytes as first reserved (128 MiB for a fresh glibc heap). */
  size: bigint;
  noreserve: boolean;
  evidence: number[];
  resolved: boolean;
  /** What it turned out to be; later commits inside it get the same class. */
  cls?: 'go-heap-arena' | 'go-runtime-metadata' | 'glibc-arena-heap';
}

interface ArenaHeap {
  base: bigint;
  committed: bigint;
}

interface GoProcess {
  /** Start-up reservations and allocations seen before the first heap commit, in order. */
  early: { seq: number; start: bigint; len: bigint; prot: bigint; fixed: boolean }[];
  arenas: number;
  metadataReported: boolean;
  /** The first RW anonymous mmap after an arena reservation: its heapArena metadata. */
  expectHeapArenaMeta: boolean;
}

const EARLY_MAX = 256;

export interface ArenaLimits {
  /** MALLOC_ARENA_MAX from the target's environment, if set. */
  arenaMax: number | null;
  cpus: number;
}

export class ArenaDetector implements Detector {
  #reservations: Reservation[] = [];
  #glibc = new Map<number, ArenaHeap[]>();
  #go = new Map<number, GoProcess>();

  constructor(private readonly limits: (pid: number) => ArenaLimits = () => ({ arenaMax: null, cpus: os.availableParallelism() })) {}

  /** The arena heaps found so far for a process. */
  glibcArenas(pid: number): readonly ArenaHeap[] {
    return this.#glibc.get(pid) ?? [];
  }

  onEvent(ev: TraceEvent, ctx: DetectorContext): void {
    if (ev.type === 'exec') {
      this.#reservations = this.#reservations.filter((r) => r.pid !== ev.pid);
      this.#glibc.delete(ev.pid);
      this.#go.delete(ev.pid);
      return;
    }
    if (ev.type !== 'syscall' || isError(ev.ret)) return;
    if (ev.name === 'mmap') this.#onMmap(ev, ctx);
    else if (ev.name === 'munmap') this.#onMunmap(ev);
    else if (ev.name === 'mprotect') this.#onMprotect(ev, ctx);
  }

  #goState(pid: number): GoProcess {
    let g = this.#go.get(pid);
    if (!g) this.#go.set(pid, (g = { early: [], arenas: 0, metadataReported: false, expectHeapArenaMeta: false }));
    return g;
  }

  #onMmap(ev: SyscallEvent, ctx: DetectorContext): void {
    const [, len, prot, flags] = ev.raw as [bigint, bigint, bigint, bigint];
    const addr = BigInt.asUintN(64, ev.ret!);
    if ((flags & MAP_ANONYMOUS) === 0n) return;
    const g = this.#goState(ev.pid);
    // Go's start-up burst is a few dozen mmaps; a program that is not Go never
    // ends it, so keep only the first ones.
    if (!g.metadataReported && g.early.length < EARLY_MAX) {
      g.early.push({ seq: ev.seq, start: addr, len, prot, fixed: (flags & MAP_FIXED) !== 0n });
    }
    if (prot === PROT_NONE && (flags & MAP_FIXED) === 0n && len % ARENA_HEAP_SIZE === 0n) {
      this.#reservations.push({
        pid: ev.pid, tid: ev.tid, start: addr, end: addr + len, size: len,
        noreserve: (flags & MAP_NORESERVE) !== 0n, evidence: [ev.seq], resolved: false,
      });
      if (g.metadataReported && len === GO_HEAP_ARENA_SIZE && (flags & MAP_NORESERVE) === 0n) g.expectHeapArenaMeta = true;
      return;
    }
    if (prot === PROT_RW && (flags & MAP_FIXED) !== 0n) {
      const r = this.#containing(ev.pid, addr, addr + len);
      if (r && !r.resolved) this.#goHeapArena(ev, r, ctx);
      // A later commit makes a new mapping inside: it keeps the reservation's class.
      else if (r?.cls) ctx.classify(ev.pid, addr, addr + len, r.cls, ev);
      return;
    }
    if (prot === PROT_RW && (flags & MAP_FIXED) === 0n && g.expectHeapArenaMeta) {
      // A later arena's heapArena struct: the first RW mmap after its reservation.
      g.expectHeapArenaMeta = false;
      ctx.classify(ev.pid, addr, addr + len, 'go-runtime-metadata', ev);
    }
  }

  #containing(pid: number, start: bigint, end: bigint): Reservation | undefined {
    return this.#reservations.find((r) => r.pid === pid && start >= r.start && end <= r.end);
  }

  /**
   * The unresolved reservation a thread's mprotect commits. glibc reserves,
   * trims and commits in one thread, and another thread's trim may be
   * reported late: until it is, that reservation still seems to cover the
   * freed head that this thread's mmap got, so look at the thread's own first.
   */
  #reservedBy(pid: number, tid: number, start: bigint, end: bigint): Reservation | undefined {
    let other: Reservation | undefined;
    for (let i = this.#reservations.length - 1; i >= 0; i--) {
      const r = this.#reservations[i]!;
      if (r.pid !== pid || r.resolved || start < r.start || end > r.end) continue;
      if (r.tid === tid) return r;
      other ??= r;
    }
    return other;
  }

  #onMunmap(ev: SyscallEvent): void {
    const [addr, len] = ev.raw as [bigint, bigint];
    const end = addr + len;
    for (const r of this.#reservations) {
      // glibc trims its reservation in the thread that made it. Another
      // thread's munmap may be reported after a new mmap that reused the
      // freed range (exit stops of two threads come in either order).
      if (r.pid !== ev.pid || r.tid !== ev.tid || end <= r.start || addr >= r.end) continue;
      // glibc trims the head or the tail of its 128 MiB reservation.
      if (addr <= r.start) r.start = end < r.end ? end : r.end;
      else if (end >= r.end) r.end = addr;
      r.evidence.push(ev.seq);
    }
    this.#reservations = this.#reservations.filter((r) => r.end > r.start);
  }

  #onMprotect(ev: SyscallEvent, ctx: DetectorContext): void {
    const [addr, len, prot] = ev.raw as [bigint, bigint, bigint];
    if (prot !== PROT_RW) return;
    const heaps = this.#glibc.get(ev.pid) ?? [];
    const grown = heaps.find((h) => addr >= h.base && addr < h.base + ARENA_HEAP_SIZE);
    if (grown) {
      grown.committed = addr + len - grown.base > grown.committed ? addr + len - grown.base : grown.committed;
      return;
    }
    const r = this.#reservedBy(ev.pid, ev.tid, addr, addr + len);
    if (!r || addr % ARENA_HEAP_SIZE !== 0n || r.end - addr < ARENA_HEAP_SIZE) return;
    r.resolved = true;
    r.cls = 'glibc-arena-heap';
    const heap = { base: addr, committed: len };
    heaps.push(heap);
    this.#glibc.set(ev.pid, heaps);
    const { arenaMax, cpus } = this.limits(ev.pid);
    // The main arena (brk heap) counts against the limit too.
    const limit = arenaMax ?? 8 * cpus;
    const count = heaps.length + 1;
    const shape = r.size === 2n * ARENA_HEAP_SIZE ? `128 MiB reservation trimmed to the 64 MiB-aligned ${hex(addr)}` : `64 MiB at the remembered aligned address ${hex(addr)}`;
    ctx.emit({
      type: 'finding', kind: 'glibc-arena', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
      evidence: [...r.evidence, ev.seq],
      region: { start: addr, end: addr + ARENA_HEAP_SIZE },
      summary:
        `glibc malloc arena heap for thread ${ev.tid}: ${shape}, ${fmtSize(len)} usable; ` +
        `arena ${count} of at most ${limit}` + (arenaMax !== null ? ` (MALLOC_ARENA_MAX=${arenaMax})` : ` (8 × ${cpus} CPUs)`),
      details: {
        base: addr, reserved: ARENA_HEAP_SIZE, committed: len, noreserve: r.noreserve, arenas: count, limit,
        arenaMax, firstReservation: r.size,
      },
    });
    ctx.classify(ev.pid, addr, addr + ARENA_HEAP_SIZE, 'glibc-arena-heap', ev);
  }

  #goHeapArena(ev: SyscallEvent, r: Reservation, ctx: DetectorContext): void {
    r.resolved = true;
    r.cls = 'go-heap-arena';
    const g = this.#goState(ev.pid);
    g.arenas++;
    const [, len] = ev.raw as [bigint, bigint];
    ctx.emit({
      type: 'finding', kind: 'go-heap-arena', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
      evidence: [r.evidence[0]!, ev.seq],
      region: { start: r.start, end: r.end },
      summary: `Go heap arena #${g.arenas}: ${fmtSize(r.end - r.start)} reserved PROT_NONE at ${hex(r.start)}, committed in steps with MAP_FIXED RW (first ${fmtSize(len)})`,
      details: { base: r.start, reserved: r.end - r.start, firstCommit: len },
    });
    ctx.classify(ev.pid, r.start, r.end, 'go-heap-arena', ev);
    if (!g.metadataReported) this.#goMetadata(ev, g, r, ctx);
  }

  // The runtime's start-up burst before the first heap commit: page-summary
  // levels, the scavenge index, the arena index, the heapArena metadata.
  #goMetadata(ev: SyscallEvent, g: GoProcess, arena: Reservation, ctx: DetectorContext): void {
    g.metadataReported = true;
    const picked: { seq: number; start: bigint; len: bigint }[] = [];
    const arenaSeq = arena.evidence[0]!;
    let afterArena = false;
    let heapArenaMetaTaken = false;
    for (const m of g.early) {
      if (m.seq === arenaSeq) {
        afterArena = true;
      } else if (m.prot === PROT_NONE && !m.fixed && (GO_SUMMARY_LEVELS.includes(m.len) || GO_SCAVENGE_INDEX.includes(m.len))) {
        picked.push(m);
      } else if (m.prot === PROT_RW && !m.fixed && m.len === GO_ARENA_INDEX) {
        picked.push(m);
      } else if (afterArena && !heapArenaMetaTaken && m.prot === PROT_RW && !m.fixed) {
        // Matched by position, not size (it changes across versions).
        picked.push(m);
        heapArenaMetaTaken = true;
      }
    }
    // Their pages are later made RW with MAP_FIXED: that is metadata, not a heap.
    for (const m of picked) {
      const r = this.#reservations.find((x) => x.pid === ev.pid && x.evidence[0] === m.seq);
      if (r) {
        r.resolved = true;
        r.cls = 'go-runtime-metadata';
      }
    }
    g.early = [];
    if (picked.length === 0) return;
    const total = picked.reduce((s, m) => s + m.len, 0n);
    ctx.emit({
      type: 'finding', kind: 'go-runtime-metadata', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
      evidence: picked.map((m) => m.seq),
      summary: `Go runtime metadata reserved at start-up: ${picked.length} mappings, ${fmtSize(total)} (page summaries, scavenge index, arena index, heapArena)`,
      details: { mappings: picked.length, bytes: total },
    });
    for (const m of picked) ctx.classify(ev.pid, m.start, m.start + m.len, 'go-runtime-metadata', ev);
  }
}

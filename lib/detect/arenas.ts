// Big PROT_NONE reservations and what they turn out to be
// (docs/go-glibc-musl.md, "glibc's malloc arenas" and "Go's heap").
//
// glibc's new_heap (malloc/arena.c), in the thread that first mallocs:
//   mmap(NULL, 128 MiB, PROT_NONE, PRIVATE|ANON[|NORESERVE]) → munmap the head
//   and tail around the 64 MiB-aligned middle → mprotect(base, n, RW);
//   or mmap(remembered aligned_heap_area, 64 MiB, …) → mprotect(base, n, RW).
// Go's heap (mheap.sysAlloc): mmap(hint, 64 MiB·k, PROT_NONE, PRIVATE|ANON) →
//   mmap(base+off, 4 MiB·n, RW, PRIVATE|FIXED|ANON) as the heap grows; never
//   mprotect. That difference (mprotect vs MAP_FIXED RW inside the
//   reservation) tells the two apart whatever the addresses and versions.
//
// Where a reservation still is, and which one a commit landed in, is the
// model's to say (a region's origin, and a MAP_FIXED mapping's `within`);
// this detector keeps each reservation's evidence and what it turned out to be.
import os from 'node:os';
import type { SyscallEvent, TraceEvent } from '../events';
import type { AddressSpace, Region, RegionClass } from '../model';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, PROT_NONE, PROT_RW } from '../syscalls/abi';
import type { Call, MmapCall, MprotectCall, MunmapCall } from '../syscalls/calls';
import { fmtSize, hex } from '../units';
import type { Detector, DetectorContext } from './detector';
import { GO_ARENA_INDEX, GO_PAGE_CHUNKS, GO_SCAVENGE_INDEX, GO_STRUCTURE_CLASS as GO, GO_SUMMARY_LEVELS } from './go-runtime';
import { classifyByShape } from './shape';
import { HEAP_WINDOW } from './signatures';

/** A PROT_NONE reservation of a multiple of 64 MiB, as its mmap made it. */
interface Reservation {
  pid: number;
  tid: number;
  seq: number;
  start: bigint;
  end: bigint;
  noreserve: boolean;
  /** The mmap, then the same thread's trims of it. */
  evidence: number[];
  resolved: boolean;
  /** What it turned out to be; later commits inside it get the same class. */
  cls?: RegionClass;
}

interface GoProcess {
  /** Start-up reservations and allocations seen before the first heap commit, in order. */
  early: { seq: number; start: bigint; len: bigint; prot: number; fixed: boolean }[];
  arenas: number;
  metadataReported: boolean;
  /** The first RW anonymous mmap after an arena reservation: its heapArena metadata. */
  expectHeapArenaMeta: boolean;
  /** pageAlloc's chunk bitmaps, mapped right after the first heap commit. */
  pageChunksSeen: boolean;
  /** The start-up structures by the seq of their mmap: a MAP_FIXED commit into one is more of it. */
  structures: Map<number, RegionClass>;
}

const EARLY_MAX = 256;

export interface ArenaLimits {
  /** MALLOC_ARENA_MAX or glibc.malloc.arena_max from the target's environment, if set. */
  arenaMax: number | null;
  /** Which of the two, as written (lib/detect/arena-limit.ts). */
  arenaMaxFrom?: string | null;
  cpus: number;
}

/** Whether [lo, hi) is all memory of the mapping made by the call with this seq, without a hole. */
function stillReserved(model: AddressSpace, seq: number, lo: bigint, hi: bigint): boolean {
  const pieces = model.regionsIn(lo, hi);
  if (pieces.length === 0 || pieces[0]!.start > lo || pieces.at(-1)!.end < hi) return false;
  return pieces.every((p, i) => p.origin.seq === seq && (i === 0 || p.start === pieces[i - 1]!.end));
}

/** A region of the reservation: its own memory or a mapping placed into it. */
function ofReservation(p: Region, r: Reservation): boolean {
  return p.origin.seq === r.seq || p.within?.seq === r.seq;
}

/**
 * What is left of a reservation around addr: the run of its pieces without a
 * hole. Go trims a reservation it had to align (sysReserveAligned: 128 MiB,
 * head and tail unmapped); glibc trims its own the same way.
 */
function liveExtent(model: AddressSpace, r: Reservation, addr: bigint): { start: bigint; end: bigint } {
  const pieces = model.regionsIn(r.start, r.end).filter((p) => ofReservation(p, r));
  let i = pieces.findIndex((p) => p.start <= addr && addr < p.end);
  if (i < 0) return { start: r.start, end: r.end };
  let j = i;
  while (i > 0 && pieces[i - 1]!.end === pieces[i]!.start) i--;
  while (j + 1 < pieces.length && pieces[j]!.end === pieces[j + 1]!.start) j++;
  const start = pieces[i]!.start > r.start ? pieces[i]!.start : r.start;
  const end = pieces[j]!.end < r.end ? pieces[j]!.end : r.end;
  return { start, end };
}

export class ArenaDetector implements Detector {
  /** By the seq of the mmap that made them. */
  #reservations = new Map<number, Reservation>();
  /** glibc arena heaps found so far, per process. */
  #glibcHeaps = new Map<number, number>();
  #go = new Map<number, GoProcess>();

  constructor(private readonly limits: (pid: number) => ArenaLimits = () => ({ arenaMax: null, cpus: os.availableParallelism() })) {}

  onEvent(ev: TraceEvent, call: Call | undefined, ctx: DetectorContext): void {
    if (ev.type === 'exec') {
      for (const [seq, r] of this.#reservations) if (r.pid === ev.pid) this.#reservations.delete(seq);
      this.#glibcHeaps.delete(ev.pid);
      this.#go.delete(ev.pid);
      return;
    }
    if (ev.type === 'snapshot' && ev.threads) return this.#onAttach(ev.pid, ctx);
    if (ev.type !== 'syscall' || !call || call.errno) return;
    if (call.call === 'mmap') this.#onMmap(ev, call, ctx);
    else if (call.call === 'munmap') this.#onMunmap(ev, call, ctx);
    else if (call.call === 'mprotect') this.#onMprotect(ev, call, ctx);
  }

  // An attach: what the snapshot holds was made before, so numbering goes
  // on from it, and the Go start-up burst is long over.
  #onAttach(pid: number, ctx: DetectorContext): void {
    const regions = ctx.model(pid)?.regions() ?? [];
    const windows = (cls: RegionClass) =>
      new Set(regions.filter((r) => classifyByShape(r, regions) === cls).map((r) => r.start - (r.start % HEAP_WINDOW))).size;
    this.#glibcHeaps.set(pid, windows('glibc-arena-heap'));
    const g = this.#goState(pid);
    g.arenas = windows('go-heap-arena');
    g.metadataReported = true;
    g.early = [];
  }

  #goState(pid: number): GoProcess {
    let g = this.#go.get(pid);
    if (!g) this.#go.set(pid, (g = { early: [], arenas: 0, metadataReported: false, expectHeapArenaMeta: false, pageChunksSeen: false, structures: new Map() }));
    return g;
  }

  #onMmap(ev: SyscallEvent, c: MmapCall, ctx: DetectorContext): void {
    const { length: len, prot, flags } = c;
    const addr = c.value;
    if (!(flags & MAP_ANONYMOUS)) return;
    const fixed = (flags & MAP_FIXED) !== 0;
    const g = this.#goState(ev.pid);
    // Go's start-up burst is a few dozen mmaps; a program that is not Go never
    // ends it, so keep only the first ones.
    if (!g.metadataReported && g.early.length < EARLY_MAX) g.early.push({ seq: ev.seq, start: addr, len, prot, fixed });
    if (prot === PROT_NONE && !fixed && len % HEAP_WINDOW === 0n) {
      const noreserve = (flags & MAP_NORESERVE) !== 0;
      this.#reservations.set(ev.seq, {
        pid: ev.pid, tid: ev.tid, seq: ev.seq, start: addr, end: addr + len, noreserve, evidence: [ev.seq], resolved: false,
      });
      if (g.metadataReported && len === HEAP_WINDOW && !noreserve) g.expectHeapArenaMeta = true;
      return;
    }
    if (prot === PROT_RW && fixed) {
      // The reservation this commit was placed into, as the model saw it.
      const model = ctx.model(ev.pid);
      const within = model?.find(addr)?.within;
      const structure = within && g.structures.get(within.seq);
      if (structure) return ctx.classify(ev.pid, addr, addr + len, structure, ev);
      const r = within ? this.#reservations.get(within.seq) : undefined;
      if (!model || !r || r.pid !== ev.pid || addr < r.start || addr + len > r.end) return;
      if (!r.resolved) this.#goHeapArena(ev, c, r, liveExtent(model, r, addr), ctx);
      // A later commit makes a new mapping inside: it keeps the reservation's class.
      else if (r.cls) ctx.classify(ev.pid, addr, addr + len, r.cls, ev);
      return;
    }
    if (prot === PROT_RW && !fixed && g.expectHeapArenaMeta) {
      // A later arena's heapArena struct: the first RW mmap after its reservation.
      g.expectHeapArenaMeta = false;
      ctx.classify(ev.pid, addr, addr + len, GO.heapArenaMeta, ev);
    } else if (prot === PROT_RW && !fixed && g.metadataReported && !g.pageChunksSeen && len === GO_PAGE_CHUNKS) {
      g.pageChunksSeen = true;
      ctx.classify(ev.pid, addr, addr + len, GO.pageChunks, ev);
    }
  }

  // glibc trims its reservation in the thread that made it: a munmap by that
  // thread right next to what is left of it is one of its trims.
  #onMunmap(ev: SyscallEvent, c: MunmapCall, ctx: DetectorContext): void {
    const model = ctx.model(ev.pid);
    if (!model) return;
    const lo = c.addr;
    const hi = c.addr + c.length;
    let trimmed: Reservation | undefined;
    for (const next of [lo > 0n ? model.find(lo - 1n) : undefined, model.find(hi)]) {
      const r = next && this.#reservations.get(next.origin.seq);
      if (!r || r === trimmed || r.pid !== ev.pid || r.resolved || r.tid !== ev.tid || lo < r.start || hi > r.end) continue;
      trimmed = r;
      r.evidence.push(ev.seq);
    }
    // A reservation unmapped whole (Go's hint that was not honoured) is over.
    for (const [seq, r] of this.#reservations) {
      if (r.pid === ev.pid && r.start < hi && lo < r.end && !model.regionsIn(r.start, r.end).some((p) => ofReservation(p, r))) {
        this.#reservations.delete(seq);
      }
    }
  }

  #onMprotect(ev: SyscallEvent, c: MprotectCall, ctx: DetectorContext): void {
    if (c.prot !== PROT_RW) return;
    const model = ctx.model(ev.pid);
    const region = model?.find(c.addr);
    // A commit that grows a known heap, or memory that is no reservation.
    if (!model || !region || region.class === 'glibc-arena-heap') return;
    const r = this.#reservations.get(region.origin.seq);
    const base = c.addr;
    if (!r || r.pid !== ev.pid || r.resolved || base % HEAP_WINDOW !== 0n || !stillReserved(model, r.seq, base, base + HEAP_WINDOW)) return;
    r.resolved = true;
    r.cls = 'glibc-arena-heap';
    const heaps = (this.#glibcHeaps.get(ev.pid) ?? 0) + 1;
    this.#glibcHeaps.set(ev.pid, heaps);
    const { arenaMax, arenaMaxFrom, cpus } = this.limits(ev.pid);
    // The main arena (brk heap) counts against the limit too.
    const limit = arenaMax ?? 8 * cpus;
    const count = heaps + 1;
    const size = r.end - r.start;
    const shape = size === 2n * HEAP_WINDOW ? `128 MiB reservation trimmed to the 64 MiB-aligned ${hex(base)}` : `64 MiB at the remembered aligned address ${hex(base)}`;
    ctx.emit({
      type: 'finding', kind: 'glibc-arena', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
      evidence: [...r.evidence, ev.seq],
      region: { start: base, end: base + HEAP_WINDOW },
      summary:
        `glibc malloc arena heap for thread ${ev.tid}: ${shape}, ${fmtSize(c.length)} usable; ` +
        `arena ${count} of at most ${limit}` + (arenaMax !== null ? ` (${arenaMaxFrom ?? `MALLOC_ARENA_MAX=${arenaMax}`})` : ` (8 × ${cpus} CPUs)`),
      details: {
        base, reserved: HEAP_WINDOW, committed: c.length, noreserve: r.noreserve, arenas: count, limit,
        arenaMax, firstReservation: size,
      },
    });
    ctx.classify(ev.pid, base, base + HEAP_WINDOW, 'glibc-arena-heap', ev);
  }

  #goHeapArena(ev: SyscallEvent, c: MmapCall, r: Reservation, live: { start: bigint; end: bigint }, ctx: DetectorContext): void {
    r.resolved = true;
    r.cls = 'go-heap-arena';
    const g = this.#goState(ev.pid);
    g.arenas++;
    const { start, end } = live;
    ctx.emit({
      type: 'finding', kind: 'go-heap-arena', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
      evidence: [...r.evidence, ev.seq],
      region: { start, end },
      summary: `Go heap arena #${g.arenas}: ${fmtSize(end - start)} reserved PROT_NONE at ${hex(start)}, committed in steps with MAP_FIXED RW (first ${fmtSize(c.length)})`,
      details: { base: start, reserved: end - start, firstCommit: c.length },
    });
    ctx.classify(ev.pid, start, end, 'go-heap-arena', ev);
    if (!g.metadataReported) this.#goMetadata(ev, g, r, ctx);
  }

  // The runtime's start-up burst before the first heap commit, in Go's order
  // (runtime/mpagealloc_64bit.go sysInit, mgcscavenge.go, malloc.go
  // mallocinit/sysAlloc): the five summary levels, the scavenge index (the
  // next PROT_NONE mmap; 8 MiB before Go 1.21, like level 2, so told apart
  // by order), the arena reservation, the arena index, the heapArena struct.
  #goMetadata(ev: SyscallEvent, g: GoProcess, arena: Reservation, ctx: DetectorContext): void {
    g.metadataReported = true;
    const picked: { seq: number; start: bigint; len: bigint; cls: RegionClass }[] = [];
    let level = 0;
    let scavengeIndex = false;
    let afterArena = false;
    let heapArenaMetaTaken = false;
    for (const m of g.early) {
      if (m.seq === arena.seq) {
        afterArena = true;
      } else if (m.prot === PROT_NONE && !m.fixed && level < GO_SUMMARY_LEVELS.length && m.len === GO_SUMMARY_LEVELS[level]) {
        picked.push({ ...m, cls: GO.summary });
        level++;
      } else if (m.prot === PROT_NONE && !m.fixed && level === GO_SUMMARY_LEVELS.length && !scavengeIndex && GO_SCAVENGE_INDEX.includes(m.len)) {
        picked.push({ ...m, cls: GO.scavengeIndex });
        scavengeIndex = true;
      } else if (m.prot === PROT_RW && !m.fixed && m.len === GO_ARENA_INDEX) {
        picked.push({ ...m, cls: GO.arenaIndex });
      } else if (afterArena && !heapArenaMetaTaken && m.prot === PROT_RW && !m.fixed) {
        // Matched by position, not size (it changes across versions).
        picked.push({ ...m, cls: GO.heapArenaMeta });
        heapArenaMetaTaken = true;
      }
    }
    // Their pages are later made RW with MAP_FIXED: that is the same structure, not a heap.
    for (const m of picked) {
      g.structures.set(m.seq, m.cls);
      const r = this.#reservations.get(m.seq);
      if (r) {
        r.resolved = true;
        r.cls = m.cls;
      }
    }
    g.early = [];
    if (picked.length === 0) return;
    const total = picked.reduce((s, m) => s + m.len, 0n);
    const names = [...new Set(picked.map((m) => m.cls))].map((c) => `${picked.filter((m) => m.cls === c).length} ${c}`);
    ctx.emit({
      type: 'finding', kind: 'go-runtime-metadata', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
      evidence: picked.map((m) => m.seq),
      summary: `Go runtime metadata reserved at start-up: ${picked.length} mappings, ${fmtSize(total)} (${names.join(', ')})`,
      details: { mappings: picked.length, bytes: total },
    });
    for (const m of picked) ctx.classify(ev.pid, m.start, m.start + m.len, m.cls, ev);
  }
}

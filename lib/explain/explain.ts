// The VmSize, explained: the article's napkin math ("4 × 70 + 8 + 1 × 128"),
// done exactly from the model, the findings and /proc.
import os from 'node:os';
import { arenaMaxSetting } from '../detect/arena-limit';
import { goRelease } from '../detect/go-runtime';
import { goRuntimeByShape } from '../detect/go-shape';
import type { Extent } from '../detect/pipeline';
import { stacksOnMergedGuards } from '../detect/shape';
import { GLIBC_DEFAULT_STACK, HEAP_WINDOW, MUSL_THREAD_GUARD } from '../detect/signatures';
import type { Finding } from '../events';
import { type AddressSpace, type Region, type RegionClass, pageSize } from '../model';
import { readEnviron, readProc, readProcLink, statusField, taskStates } from '../proc';
import { fmtSize } from '../units';
import { type BinaryFacts, binaryFacts } from './binary-facts';
import { type ThreadInC, threadsInC } from './cgo-calls';
import { classifyRegion } from './classify';
import { parseSmaps } from './smaps';
import type { UsageSummary } from './usage';

export interface ClassLine {
  class: RegionClass;
  /** Distinct allocations (by the syscall that made each). */
  count: number;
  /** The size of each when they are all alike, else null. */
  each: bigint | null;
  bytes: bigint;
  /** Resident bytes (from /proc/PID/smaps), null when the process is gone. */
  rss: bigint | null;
  /** 'proof': seen being made (evidence seqs); 'shape': inferred from its shape in the maps. */
  basis: 'proof' | 'shape' | 'name';
}

export interface ThreadLine {
  tid: number;
  /**
   * cgo-thread: a Go M made by pthread_create (the binary links runtime/cgo);
   * go-thread: a Go M made by the runtime's raw clone; pthread: a thread of
   * a program that is not Go.
   */
  kind: 'main' | 'cgo-thread' | 'go-thread' | 'pthread' | 'unknown';
  state: string;
  /** proof: seen made; shape: its stack pointer was on a pthread stack at the attach; binary: what the binary links decides it. */
  basis: 'proof' | 'shape' | 'binary' | 'none';
}

/** A file mapped large enough to matter, all its mappings together. */
export interface FileLine {
  path: string;
  mappings: number;
  bytes: bigint;
  rss: bigint | null;
}

export interface Explanation {
  type: 'explanation';
  pid: number;
  /** VmSize from /proc/PID/status in kB; null once the process has exited. */
  vmSizeKb: number | null;
  modelKb: number;
  /** Traced since an attach (else since an exec): what tid null in byCreator and unexplained means. */
  attached: boolean;
  classes: ClassLine[];
  /** Bytes by the thread whose call made them; tid null: there before tracing began (at the attach, or the exec's image). */
  byCreator: { tid: number | null; bytes: bigint }[];
  threads: ThreadLine[];
  /** Files whose mappings hold at least FILE_SHARE of the VmSize, largest first. */
  files: FileLine[];
  /** What is left in 'anonymous', piece by piece, largest first (at most UNEXPLAINED_SHOWN); tid null: made before the attach. */
  unexplained: { start: bigint; end: bigint; perms: string; tid: number | null }[];
  /** kB in classes other than 'anonymous'. */
  explainedKb: number;
  binary: BinaryFacts | null;
  usage: UsageSummary | null;
  hints: string[];
}

function readStatusKb(pid: number, field: string): number | null {
  const m = /^(\d+) kB$/.exec(statusField(readProc(`/proc/${pid}/status`), field) ?? '');
  return m ? Number(m[1]) : null;
}

/** A file listed by path when its mappings hold at least this share of the VmSize. */
const FILE_SHARE = 0.01;
const UNEXPLAINED_SHOWN = 16;

/** RSS per range (sorted, disjoint), by overlap with the kernel's VMAs, apportioned by size within one. */
function rssByRange<R extends { start: bigint; end: bigint }>(pid: number, regions: readonly R[], smaps?: string): Map<R, bigint> | null {
  const text = smaps ?? readProc(`/proc/${pid}/smaps`);
  if (text === undefined) return null;
  const vmas = parseSmaps(text);
  const out = new Map<R, bigint>();
  let v = 0;
  for (const r of regions) {
    let rss = 0n;
    while (v < vmas.length && vmas[v]!.end <= r.start) v++;
    for (let k = v; k < vmas.length && vmas[k]!.start < r.end; k++) {
      const m = vmas[k]!;
      const size = m.end - m.start;
      if (size === 0n) continue;
      const lo = m.start > r.start ? m.start : r.start;
      const hi = m.end < r.end ? m.end : r.end;
      if (hi > lo) rss += (BigInt(m.rssKb) * 1024n * (hi - lo)) / size;
    }
    out.set(r, rss);
  }
  return out;
}

export interface ExplainInput {
  pid: number;
  model: AddressSpace;
  findings: readonly Finding[];
  exe?: string;
  usage?: UsageSummary | null;
  /** attach: each thread's stack pointer when the world was stopped, for threads made before. */
  threadRegs?: readonly { tid: number; sp: bigint }[];
  /** /proc/PID/smaps as the caller already read it (lib/watch reads it once per sample). */
  smaps?: string;
  /** The binary's facts when the caller has them already (lib/watch keeps them per executable). */
  binary?: BinaryFacts | null;
  /** The ranges the detectors classified, one per proven allocation (counts per class). */
  extents?: readonly Extent[];
}

/** One region, or the part of one that a shape-found structure covers, with its class. */
interface Piece {
  region: Region;
  start: bigint;
  end: bigint;
  class: RegionClass;
  basis: ClassLine['basis'];
  /** One allocation per key (see explain). */
  key: number | string | null;
}

/** The regions cut where the shape-found Go structures (sorted) begin and end; what they cover takes their class. */
function piecesOf(regions: readonly Region[], shaped: readonly Extent[], stackCap: bigint | null): Piece[] {
  const out: Piece[] = [];
  for (const r of regions) {
    const c = classifyRegion(r, regions);
    // A pthread stack found by shape is the RW region above its guard; the
    // kernel merges it with RW memory mapped right above, which is not stack.
    const stackEnd = stackCap !== null && c.class === 'pthread-stack' && c.basis === 'shape' ? r.start + stackCap : r.end;
    // One allocation per making syscall; regions from the attach snapshot all
    // share one origin, so there: one per 64 MiB heap window, else per region.
    // Proven allocations (a detector's class) are counted by its extents.
    const key: Piece['key'] =
      r.class !== null ? null
      : r.origin.cause !== 'snapshot' ? r.origin.seq
      : c.class === 'glibc-arena-heap' || c.class === 'go-heap-arena' ? `w${r.start - (r.start % HEAP_WINDOW)}`
      : `r${r.start}`;
    const fromSnapshot = r.origin.cause === 'snapshot' || r.within?.cause === 'snapshot';
    // The runtime's structures are cut out of what a name or shape alone
    // would call the whole region: the kernel merges the arena index with a
    // pthread stack right below it into one rw-p VMA.
    const over = fromSnapshot && (c.basis === 'shape' || c.class === 'anonymous') ? shaped.filter((x) => x.start < r.end && r.start < x.end) : [];
    const own = (lo: bigint, hi: bigint) => {
      const cut = stackEnd < lo ? lo : stackEnd > hi ? hi : stackEnd;
      if (cut > lo) out.push({ region: r, start: lo, end: cut, ...c, key });
      if (hi > cut) out.push({ region: r, start: cut, end: hi, class: 'anonymous', basis: 'name', key: `r${r.start}+` });
    };
    let at = r.start;
    for (const x of over) {
      const lo = x.start > at ? x.start : at;
      const hi = x.end < r.end ? x.end : r.end;
      if (lo > at) own(at, lo);
      out.push({ region: r, start: lo, end: hi, class: x.cls, basis: 'shape', key: `x${x.start}` });
      at = hi;
    }
    if (at < r.end) own(at, r.end);
  }
  return out;
}

/** glibc's default thread stack for a live process: its RLIMIT_STACK, 2 MiB when unlimited (docs/go-glibc-musl.md). */
function glibcStackSize(pid: number): bigint | null {
  const m = /^Max stack size\s+(\d+|unlimited)\s/m.exec(readProc(`/proc/${pid}/limits`) ?? '');
  if (!m) return null;
  return m[1] === 'unlimited' ? 2n << 20n : BigInt(m[1]!);
}

/** Stacks of threads made by pthread_create before an attach whose guard merged into the mapping below (lib/detect/shape.ts). */
function mergedGuardStacks(regions: readonly Region[], input: ExplainInput, binary: BinaryFacts | null, stackCap: bigint | null): Extent[] {
  if (!input.threadRegs || !binary?.libc || (binary.isGo && !binary.cgoLinked)) return [];
  const guard = binary.libc === 'musl' ? MUSL_THREAD_GUARD : pageSize();
  return stacksOnMergedGuards(regions, input.threadRegs.filter((t) => t.tid !== input.pid).map((t) => t.sp), guard, stackCap);
}

export function explain(input: ExplainInput): Explanation {
  const { pid, model, findings } = input;
  const exe = input.exe ?? readProcLink(`/proc/${pid}/exe`);
  let binary: BinaryFacts | null = input.binary ?? null;
  if (exe && input.binary === undefined) {
    try {
      binary = binaryFacts(exe, readEnviron(pid));
    } catch {
      binary = null;
    }
  }
  // [vsyscall] is listed in maps but is no VMA of the process: not in VmSize.
  const regions = model.regions().filter((r) => r.name !== '[vsyscall]');
  const go = binary?.isGo ? goRelease(binary.goVersion) : undefined;
  const stackCap = binary?.libc === 'glibc' && !model.exited ? glibcStackSize(pid) : null;
  const goShaped = go ? goRuntimeByShape(regions, go) : [];
  const merged = mergedGuardStacks(regions, input, binary, stackCap).filter((x) => !goShaped.some((g) => g.start < x.end && x.start < g.end));
  const shaped = [...goShaped, ...merged].sort((a, b) => (a.start < b.start ? -1 : 1));
  const pieces = piecesOf(regions, shaped, stackCap);
  const rss = model.exited ? null : rssByRange(pid, pieces, input.smaps);
  const groups = new Map<RegionClass, { bytes: bigint; rss: bigint; origins: Map<number | string, bigint>; basis: ClassLine['basis'] }>();
  const creators = new Map<number | null, bigint>();
  const files = new Map<string, FileLine>();
  for (const p of pieces) {
    const size = p.end - p.start;
    let g = groups.get(p.class);
    if (!g) groups.set(p.class, (g = { bytes: 0n, rss: 0n, origins: new Map(), basis: p.basis }));
    g.bytes += size;
    g.rss += rss?.get(p) ?? 0n;
    if (p.key !== null) g.origins.set(p.key, (g.origins.get(p.key) ?? 0n) + size);
    if (p.basis === 'shape') g.basis = 'shape';
    const by = p.region.origin.cause === 'snapshot' ? null : p.region.origin.tid;
    creators.set(by, (creators.get(by) ?? 0n) + size);
    if (p.region.kind === 'file') {
      let f = files.get(p.region.name);
      if (!f) files.set(p.region.name, (f = { path: p.region.name, mappings: 0, bytes: 0n, rss: rss ? 0n : null }));
      f.mappings++;
      f.bytes += size;
      if (f.rss !== null) f.rss += rss?.get(p) ?? 0n;
    }
  }
  // One proven allocation per classified extent that still has memory of its class.
  const extentSizes = new Map<RegionClass, bigint[]>();
  for (const x of input.extents ?? []) {
    const live = regions.some((r) => r.class === x.cls && r.end > x.start && r.start < x.end);
    if (!live) continue;
    let l = extentSizes.get(x.cls);
    if (!l) extentSizes.set(x.cls, (l = []));
    l.push(x.end - x.start);
  }
  const classes: ClassLine[] = [...groups.entries()]
    .map(([cls, g]) => {
      const sizes = [...(extentSizes.get(cls) ?? []), ...g.origins.values()];
      const alike = sizes.every((s) => s === sizes[0]);
      return {
        class: cls, count: sizes.length, each: alike ? sizes[0]! : null, bytes: g.bytes,
        rss: rss ? g.rss : null, basis: g.basis,
      };
    })
    .sort((a, b) => (b.bytes > a.bytes ? 1 : b.bytes < a.bytes ? -1 : 0));

  const modelKb = Number(model.size / 1024n);
  const explainedKb = Number(classes.filter((c) => c.class !== 'anonymous').reduce((s, c) => s + c.bytes, 0n) / 1024n);
  const out: Explanation = {
    type: 'explanation', pid, vmSizeKb: model.exited ? null : readStatusKb(pid, 'VmSize'), modelKb, attached: input.threadRegs !== undefined, classes,
    byCreator: [...creators.entries()].map(([tid, bytes]) => ({ tid, bytes })).sort((a, b) => (b.bytes > a.bytes ? 1 : -1)),
    threads: threadsOf(input, regions, binary, merged),
    files: [...files.values()].filter((f) => Number(f.bytes / 1024n) >= FILE_SHARE * modelKb).sort((a, b) => (b.bytes > a.bytes ? 1 : -1)),
    unexplained: pieces
      .filter((p) => p.class === 'anonymous')
      .sort((a, b) => (b.end - b.start > a.end - a.start ? 1 : -1))
      .slice(0, UNEXPLAINED_SHOWN)
      .map((p) => ({ start: p.start, end: p.end, perms: p.region.perms, tid: p.region.origin.cause === 'snapshot' ? null : p.region.origin.tid })),
    explainedKb, binary, usage: input.usage ?? null, hints: [],
  };
  const libcResolver = regions.some((r) => /\/lib(nss_(dns|files|resolve|myhostname)|resolv)[.-]/.test(r.name));
  const inC = binary?.isGo && binary.cgoLinked && !model.exited ? threadsInC(pid, regions, exe) : [];
  out.hints = hintsFor(out, findings.filter((f) => f.pid === pid), pid, libcResolver, inC);
  return out;
}

/**
 * Every thread's kind. Seen made: the finding says (a pthread_create in a
 * program that is not Go makes a plain pthread). Made before an attach: the
 * binary decides (docs/go-glibc-musl.md, "Go's threads in a cgo binary"):
 * with runtime/cgo linked every M is a pthread, without it every M is a raw
 * clone; a stack pointer on a pthread stack is shape evidence of a pthread,
 * but one in the Go heap only says the thread was running a goroutine.
 */
function threadsOf(input: ExplainInput, regions: readonly Region[], binary: BinaryFacts | null, mergedStacks: readonly Extent[]): ThreadLine[] {
  const { pid, findings } = input;
  const pthread: ThreadLine['kind'] = binary && !binary.isGo ? 'pthread' : 'cgo-thread';
  const seen = new Map<number, ThreadLine['kind']>();
  for (const f of findings) {
    if (f.pid !== pid) continue;
    if (f.kind === 'cgo-thread') seen.set(Number(f.details.newTid), pthread);
    if (f.kind === 'go-thread') seen.set(Number(f.details.newTid), 'go-thread');
  }
  const onPthreadStack = new Set<number>();
  for (const { tid, sp } of input.threadRegs ?? []) {
    const r = regions.find((x) => sp >= x.start && sp < x.end);
    const onMerged = mergedStacks.some((x) => x.cls === 'pthread-stack' && sp >= x.start && sp < x.end);
    if (onMerged || (r && classifyRegion(r, regions).class === 'pthread-stack')) onPthreadStack.add(tid);
  }
  const byBinary: ThreadLine['kind'] = !binary ? 'unknown' : !binary.isGo ? 'pthread' : binary.cgoLinked ? 'cgo-thread' : 'go-thread';
  const states = taskStates(pid);
  return [...new Set([pid, ...states.keys(), ...seen.keys()])]
    .sort((a, b) => a - b)
    .map((tid): ThreadLine => {
      const state = states.get(tid) ?? 'exited';
      if (tid === pid) return { tid, kind: 'main', state, basis: 'proof' };
      const kind = seen.get(tid);
      if (kind) return { tid, kind, state, basis: 'proof' };
      if (byBinary === 'unknown' && onPthreadStack.has(tid)) return { tid, kind: pthread, state, basis: 'shape' };
      return { tid, kind: byBinary, state, basis: byBinary === 'unknown' ? 'none' : onPthreadStack.has(tid) ? 'shape' : 'binary' };
    });
}

/** Each hint only when the data supports it. */
function hintsFor(e: Explanation, findings: readonly Finding[], pid: number, lookedUpThroughLibc: boolean, inC: readonly ThreadInC[]): string[] {
  const hints: string[] = [];
  const arena = e.classes.find((c) => c.class === 'glibc-arena-heap');
  const stacks = e.classes.find((c) => c.class === 'pthread-stack');
  if (arena && arena.count > 0) {
    const rss = arena.rss !== null ? `, ${fmtSize(arena.rss)} resident` : '';
    hints.push(
      `VmSize is not RSS: ${arena.count} glibc malloc arena heap${arena.count > 1 ? 's reserve' : ' reserves'} ${fmtSize(arena.bytes)} of address space${rss}; reserved memory costs no RAM.`,
    );
    const max = arenaMaxSetting(readEnviron(pid));
    hints.push(
      max
        ? `${max.from} is set: glibc makes at most ${max.max} arenas (main arena included).`
        : `Each thread that mallocs gets its own arena, up to 8 × CPUs; MALLOC_ARENA_MAX=2 caps them if the reservations matter (more lock contention in malloc).`,
    );
  }
  // The limit reached: from here on threads share arenas instead of adding 64 MiB each.
  const lastArena = findings.filter((f) => f.kind === 'glibc-arena').at(-1);
  const arenas = Number(lastArena?.details.arenas ?? 0);
  const limit = Number(lastArena?.details.limit ?? 0);
  if (lastArena && arenas >= limit) {
    hints.push(
      `glibc's arena limit is reached (${arenas} of at most ${limit}, the main arena included): threads that malloc from now on share arenas, so VmSize no longer grows by 64 MiB per thread.`,
    );
  }
  const stackLimit = rlimitStackBytes(pid);
  if (stacks && stacks.each !== null && stackLimit !== null && stacks.each === stackLimit) {
    hints.push(
      `Each pthread stack is ${fmtSize(stacks.each)} because the stack limit (ulimit -s) is ${stackLimit / 1024n} kB: glibc sizes a new thread's stack by RLIMIT_STACK. ` +
        `A lower ulimit -s where the program starts makes them smaller (goroutine stacks live in the Go heap, not there).`,
    );
  }
  const cgoThreads = findings.filter((f) => f.kind === 'cgo-thread').length;
  if (e.binary?.libc === 'musl') {
    // glibc would give each thread that mallocs a 64 MiB arena heap (up to
    // 8 × CPUs arenas, the main one included) and an RLIMIT_STACK stack.
    const threads = e.threads.filter((t) => t.kind !== 'main').length;
    const arenas = Math.min(threads, 8 * os.availableParallelism() - 1);
    const muslStacks = (stacks?.bytes ?? 0n) + (e.classes.find((c) => c.class === 'guard-page')?.bytes ?? 0n);
    const saved = BigInt(arenas) * HEAP_WINDOW + BigInt(threads) * (GLIBC_DEFAULT_STACK + 4096n) - muslStacks;
    hints.push(
      `musl: its malloc has no per-thread arenas, so there are no 64 MiB arena heaps here, and its thread stacks are small ` +
        `(${fmtSize(muslStacks)} for ${threads} threads); glibc would reserve about ${fmtSize(saved > 0n ? saved : 0n)} more for the same ` +
        `${threads} threads (${arenas} arena heaps of 64 MiB, ${fmtSize(GLIBC_DEFAULT_STACK)} stacks).`,
    );
  }
  if (stacks && cgoThreads > 0 && e.binary?.isGo && e.binary.libc === 'glibc') {
    hints.push(
      `In a cgo binary every Go thread is a pthread with its own ${fmtSize(stacks.each ?? GLIBC_DEFAULT_STACK)} stack (${cgoThreads} seen made). ` +
        `CGO_ENABLED=0 would remove the pthread stacks and the glibc arenas, at the cost of C libraries, os/user via libc and the cgo DNS resolver.`,
    );
  }
  // Two or more goroutines in blocking C calls at once: each holds a thread
  // (docs/go-glibc-musl.md, "Blocking cgo calls hold threads").
  if (inC.length >= 2) {
    const byCall = new Map<string, number>();
    for (const t of inC) byCall.set(t.call, (byCall.get(t.call) ?? 0) + 1);
    const calls = [...byCall].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c, n]) => `${n} in ${c}`);
    const live = e.threads.filter((t) => t.state !== 'exited').length;
    const stack = stacks?.each != null ? `; each new one a pthread with its own ${fmtSize(stacks.each)} stack` : '';
    hints.push(
      `${inC.length} threads are blocked in C calls now (${calls.join(', ')}): a goroutine in a cgo call keeps its thread until the call returns, ` +
        `and the Go runtime runs the other goroutines on other threads, making new ones when none is idle, so every concurrent blocking cgo call holds a thread ` +
        `(${live} threads in all${stack}). Bounding how many such calls run at once (a buffered channel as a semaphore) bounds the threads.`,
    );
  }
  // Only when a lookup went through libc: getaddrinfo loads libnss_* (or libresolv).
  if (e.binary?.isGo && e.binary.dns && e.binary.dns.resolver !== 'go' && lookedUpThroughLibc) {
    hints.push(
      `DNS: ${e.binary.dns.why}; GODEBUG=netdns=go or building with -tags netgo keeps lookups in pure Go (no cgo call, no extra pthread).`,
    );
  }
  return hints;
}

/** RLIMIT_STACK's soft limit in bytes (/proc/PID/limits), null if unlimited or unreadable. */
function rlimitStackBytes(pid: number): bigint | null {
  const m = /^Max stack size\s+(\d+)\s/m.exec(readProc(`/proc/${pid}/limits`) ?? '');
  return m ? BigInt(m[1]!) : null;
}

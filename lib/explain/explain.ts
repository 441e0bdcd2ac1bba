// The VmSize, explained: the article's napkin math ("4 × 70 + 8 + 1 × 128"),
// done exactly from the model, the findings and /proc.
import type { Extent } from '../detect/pipeline';
import { GLIBC_DEFAULT_STACK, HEAP_WINDOW } from '../detect/signatures';
import type { Finding } from '../events';
import type { AddressSpace, Region, RegionClass } from '../model';
import { readEnviron, readProc, readProcLink, statusField, taskStates } from '../proc';
import { fmtSize } from '../units';
import { type BinaryFacts, binaryFacts } from './binary-facts';
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
  kind: 'main' | 'cgo-thread' | 'go-thread' | 'unknown';
  state: string;
  basis: 'proof' | 'shape' | 'none';
}

export interface Explanation {
  type: 'explanation';
  pid: number;
  /** VmSize from /proc/PID/status in kB; null once the process has exited. */
  vmSizeKb: number | null;
  modelKb: number;
  classes: ClassLine[];
  byCreator: { tid: number; bytes: bigint }[];
  threads: ThreadLine[];
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

/** RSS per model region, by overlap with the kernel's VMAs (same boundaries as the classes in practice). */
function rssByRegion(pid: number, regions: Region[], smaps?: string): Map<Region, bigint> | null {
  const text = smaps ?? readProc(`/proc/${pid}/smaps`);
  if (text === undefined) return null;
  const vmas = parseSmaps(text);
  const out = new Map<Region, bigint>();
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

export function explain(input: ExplainInput): Explanation {
  const { pid, model, findings } = input;
  // [vsyscall] is listed in maps but is no VMA of the process: not in VmSize.
  const regions = model.regions().filter((r) => r.name !== '[vsyscall]');
  const rss = model.exited ? null : rssByRegion(pid, regions, input.smaps);
  const groups = new Map<RegionClass, { bytes: bigint; rss: bigint; origins: Map<number | string, bigint>; basis: ClassLine['basis'] }>();
  const creators = new Map<number, bigint>();
  const provenClasses = new Set((input.extents ?? []).map((x) => x.cls));
  for (const r of regions) {
    const c = classifyRegion(r, regions);
    const size = r.end - r.start;
    let g = groups.get(c.class);
    if (!g) groups.set(c.class, (g = { bytes: 0n, rss: 0n, origins: new Map(), basis: c.basis }));
    g.bytes += size;
    g.rss += rss?.get(r) ?? 0n;
    // One allocation per making syscall; regions from the attach snapshot all
    // share one origin, so there: one per 64 MiB heap window, else per region.
    const key: number | string =
      r.origin.cause !== 'snapshot' ? r.origin.seq
      : c.class === 'glibc-arena-heap' || c.class === 'go-heap-arena' ? `w${r.start - (r.start % HEAP_WINDOW)}`
      : `r${r.start}`;
    // Proven allocations are counted by the detectors' extents below.
    if (!(c.basis === 'proof' && provenClasses.has(c.class))) g.origins.set(key, (g.origins.get(key) ?? 0n) + size);
    if (c.basis === 'shape') g.basis = 'shape';
    creators.set(r.origin.tid, (creators.get(r.origin.tid) ?? 0n) + size);
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

  const states = taskStates(pid);
  const kinds = new Map<number, ThreadLine['kind']>();
  for (const f of findings) {
    if (f.pid !== pid) continue;
    if (f.kind === 'cgo-thread') kinds.set(Number(f.details.newTid), 'cgo-thread');
    if (f.kind === 'go-thread') kinds.set(Number(f.details.newTid), 'go-thread');
  }
  const exe = input.exe ?? readProcLink(`/proc/${pid}/exe`);
  let binary: BinaryFacts | null = input.binary ?? null;
  if (exe && input.binary === undefined) {
    try {
      binary = binaryFacts(exe, readEnviron(pid));
    } catch {
      binary = null;
    }
  }
  // Threads made before an attach: where their stack pointer was when every
  // thread was stopped. On a pthread stack: made by pthread_create (cgo).
  // In the Go heap: a g0 stack from Go's allocator, made by the Go runtime;
  // but a goroutine's stack too, where a thread blocks in notetsleepg (the
  // os/signal loop) or a blocking syscall. A Go binary that links libc has
  // runtime/cgo, and then every M is a pthread (runtime/proc.go newm1 calls
  // _cgo_thread_start when iscgo): such a thread is a cgo thread anyway.
  const allPthreads = binary?.isGo === true && binary.libc !== null;
  const byShape = new Map<number, ThreadLine['kind']>();
  for (const { tid, sp } of input.threadRegs ?? []) {
    if (tid === pid || kinds.has(tid)) continue;
    const r = regions.find((x) => sp >= x.start && sp < x.end);
    const c = r ? classifyRegion(r, regions).class : undefined;
    if (c === 'pthread-stack') byShape.set(tid, 'cgo-thread');
    else if (c === 'go-heap-arena') byShape.set(tid, allPthreads ? 'cgo-thread' : 'go-thread');
  }
  const threads: ThreadLine[] = [...new Set([pid, ...states.keys(), ...kinds.keys()])]
    .sort((a, b) => a - b)
    .map((tid) => ({
      tid,
      kind: tid === pid ? 'main' : (kinds.get(tid) ?? byShape.get(tid) ?? 'unknown'),
      state: states.get(tid) ?? 'exited',
      basis: tid === pid || kinds.has(tid) ? 'proof' : byShape.has(tid) ? 'shape' : 'none',
    }));

  const modelKb = Number(model.size / 1024n);
  const explainedKb = Number(classes.filter((c) => c.class !== 'anonymous').reduce((s, c) => s + c.bytes, 0n) / 1024n);
  const out: Explanation = {
    type: 'explanation', pid, vmSizeKb: model.exited ? null : readStatusKb(pid, 'VmSize'), modelKb, classes,
    byCreator: [...creators.entries()].map(([tid, bytes]) => ({ tid, bytes })).sort((a, b) => (b.bytes > a.bytes ? 1 : -1)),
    threads, explainedKb, binary, usage: input.usage ?? null, hints: [],
  };
  const libcResolver = regions.some((r) => /\/lib(nss_(dns|files|resolve|myhostname)|resolv)[.-]/.test(r.name));
  out.hints = hintsFor(out, findings.filter((f) => f.pid === pid), pid, libcResolver);
  return out;
}


/** Each hint only when the data supports it. */
function hintsFor(e: Explanation, findings: readonly Finding[], pid: number, lookedUpThroughLibc: boolean): string[] {
  const hints: string[] = [];
  const arena = e.classes.find((c) => c.class === 'glibc-arena-heap');
  const stacks = e.classes.find((c) => c.class === 'pthread-stack');
  if (arena && arena.count > 0) {
    const rss = arena.rss !== null ? `, ${fmtSize(arena.rss)} resident` : '';
    hints.push(
      `VmSize is not RSS: ${arena.count} glibc malloc arena heap${arena.count > 1 ? 's reserve' : ' reserves'} ${fmtSize(arena.bytes)} of address space${rss}; reserved memory costs no RAM.`,
    );
    const env = readEnviron(pid);
    const max = env.find((v) => v.startsWith('MALLOC_ARENA_MAX='));
    hints.push(
      max
        ? `${max} is set: glibc makes at most that many arenas (main arena included).`
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
  if (stacks && cgoThreads > 0 && e.binary?.isGo && e.binary.libc) {
    hints.push(
      `In a cgo binary every Go thread is a pthread with its own ${fmtSize(stacks.each ?? GLIBC_DEFAULT_STACK)} stack (${cgoThreads} seen made). ` +
        `CGO_ENABLED=0 would remove the pthread stacks and the glibc arenas, at the cost of C libraries, os/user via libc and the cgo DNS resolver.`,
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

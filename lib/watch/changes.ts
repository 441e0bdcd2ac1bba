// What changed between two looks at a process, as findings with basis
// 'shape' (nothing was seen being made: it is read from /proc), and the glibc
// arena ratchet: arena RSS that keeps climbing while the Go heap's does not
// (docs/go-glibc-musl.md, "glibc's malloc arenas").
import { arenaMaxSetting } from '../detect/arena-limit';
import type { RegionClass } from '../model';
import { fmtSize } from '../units';
import type { ProcessSample } from './sample';

export type WatchFindingKind =
  | 'new-arena' //        a glibc malloc arena heap appeared
  | 'arena-limit' //      the arenas reached glibc's limit: threads now share them
  | 'new-thread' //       a thread appeared, with its kind
  | 'class-growth' //     a class's VmSize or RSS grew by a step worth saying
  | 'arena-ratchet' //    glibc arena RSS keeps growing while the Go heap's does not
  | 'go-heap-growth'; //  the Go heap's RSS keeps growing while the arenas' does not

export interface WatchFinding {
  type: 'finding';
  kind: WatchFindingKind;
  basis: 'shape';
  pid: number;
  /** ms since the watch started: the sample that showed it. */
  time: number;
  summary: string;
  details: Record<string, bigint | number | string | boolean | null>;
}

/** How many samples in a row must agree before a trend is a finding. */
export const TREND_SAMPLES = 4;
/** Growth below this is noise for a trend (and for class-growth: below both). */
const MIN_GROWTH = 1n << 20n;
const MIN_GROWTH_PERCENT = 10n;

function grew(from: bigint, to: bigint): boolean {
  const d = to - from;
  return d >= MIN_GROWTH && d * 100n >= from * MIN_GROWTH_PERCENT;
}

/** The limit glibc applies and where it came from, from the process's environment. */
export interface ArenaLimit {
  limit: number;
  why: string;
}

/**
 * Per-process memory of earlier samples: what has been said already and the
 * arena/heap RSS history the trends are read from.
 */
export class ProcessHistory {
  readonly pid: number;
  #last: ProcessSample | undefined;
  #history: { arenaRss: bigint; goHeapRss: bigint; arenas: bigint[] }[] = [];
  #limitSaid = false;
  #ratchetSaid = false;
  #goGrowthSaid = false;

  constructor(pid: number) {
    this.pid = pid;
  }

  /** The findings this sample shows against the earlier ones. */
  update(s: ProcessSample, limit: ArenaLimit): WatchFinding[] {
    const out: WatchFinding[] = [];
    const say = (kind: WatchFindingKind, summary: string, details: WatchFinding['details']) =>
      out.push({ type: 'finding', kind, basis: 'shape', pid: s.pid, time: s.time, summary, details });
    const prev = this.#last;
    if (prev) {
      const before = new Set(prev.arenas.map((a) => a.base));
      for (const a of s.arenas) {
        if (before.has(a.base)) continue;
        say('new-arena', `glibc malloc arena heap at 0x${a.base.toString(16)}: arena ${s.arenas.length + 1} of at most ${limit.limit} (${limit.why})`, {
          base: a.base, arenas: s.arenas.length + 1, limit: limit.limit,
        });
      }
      const known = new Set(prev.explanation.threads.map((t) => t.tid));
      for (const t of s.explanation.threads) {
        if (known.has(t.tid) || t.state === 'exited') continue;
        say('new-thread', `thread ${t.tid} (${t.kind}, from its stack's shape)`, { tid: t.tid, kind: t.kind });
      }
      const old = new Map(prev.explanation.classes.map((c) => [c.class, c]));
      for (const c of s.explanation.classes) {
        const o = old.get(c.class);
        const bytes = o?.bytes ?? 0n;
        const rss = o?.rss ?? 0n;
        if (grew(bytes, c.bytes) || (c.rss !== null && grew(rss, c.rss))) {
          say('class-growth', `${c.class}: ${fmtSize(bytes)} → ${fmtSize(c.bytes)} of VmSize, RSS ${fmtSize(rss)} → ${fmtSize(c.rss ?? 0n)}`, {
            class: c.class as RegionClass, bytes: c.bytes, previousBytes: bytes, rss: c.rss, previousRss: rss,
          });
        }
      }
    }
    // The main arena (the brk heap) counts against the limit too.
    if (!this.#limitSaid && s.arenas.length + 1 >= limit.limit) {
      this.#limitSaid = true;
      say('arena-limit', `${s.arenas.length + 1} glibc arenas: the limit (${limit.limit}, ${limit.why}) is reached; new threads now share arenas`, {
        arenas: s.arenas.length + 1, limit: limit.limit,
      });
    }
    this.#trends(s, say);
    this.#last = s;
    return out;
  }

  #trends(s: ProcessSample, say: (k: WatchFindingKind, summary: string, d: WatchFinding['details']) => void): void {
    const arenaRss = s.arenas.reduce((n, a) => n + a.rssBytes, 0n);
    this.#history.push({ arenaRss, goHeapRss: s.goHeapRssBytes, arenas: s.arenas.map((a) => a.rssBytes) });
    if (this.#history.length > TREND_SAMPLES) this.#history.shift();
    if (this.#history.length < TREND_SAMPLES) return;
    const h = this.#history;
    const first = h[0]!;
    // Rising: up at every look, by a step worth saying in all. A level that
    // went up once and then stayed (arenas reused, as under MALLOC_ARENA_MAX)
    // is no trend.
    const rising = (pick: (x: (typeof h)[number]) => bigint) => h.every((x, i) => i === 0 || pick(x) > pick(h[i - 1]!)) && grew(pick(first), pick(h.at(-1)!));
    const flat = (pick: (x: (typeof h)[number]) => bigint) => !grew(pick(first), pick(h.at(-1)!));
    if (!this.#ratchetSaid && s.arenas.length > 0 && rising((x) => x.arenaRss) && flat((x) => x.goHeapRss)) {
      this.#ratchetSaid = true;
      // What a cap of 2 could give back at most: what the arenas past the
      // largest one hold (the main arena is not among them).
      const sorted = [...s.arenas.map((a) => a.rssBytes)].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
      const beyond = sorted.slice(1).reduce((n, b) => n + b, 0n);
      say(
        'arena-ratchet',
        `glibc arena RSS grew ${fmtSize(first.arenaRss)} → ${fmtSize(arenaRss)} over ${TREND_SAMPLES} samples while the Go heap's stayed ` +
          `${fmtSize(s.goHeapRssBytes)}: malloc fragmentation across ${s.arenas.length} thread arenas, not a Go leak. ` +
          `Try MALLOC_ARENA_MAX=2 (or GLIBC_TUNABLES=glibc.malloc.arena_max=2), or a lower M_TRIM_THRESHOLD; ` +
          `at most ${fmtSize(beyond)} is held by the arenas beyond the largest one`,
        { from: first.arenaRss, to: arenaRss, goHeapRss: s.goHeapRssBytes, arenas: s.arenas.length, heldBeyondLargest: beyond },
      );
    }
    if (!this.#goGrowthSaid && rising((x) => x.goHeapRss) && flat((x) => x.arenaRss)) {
      this.#goGrowthSaid = true;
      say(
        'go-heap-growth',
        `Go heap RSS grew ${fmtSize(first.goHeapRss)} → ${fmtSize(s.goHeapRssBytes)} over ${TREND_SAMPLES} samples while glibc's arenas ` +
          `stayed ${fmtSize(arenaRss)}: memory the Go program keeps (a Go leak or a growing cache), not glibc; a heap profile (pprof) says what holds it`,
        { from: first.goHeapRss, to: s.goHeapRssBytes, arenaRss },
      );
    }
  }
}

/** glibc's arena limit for a process, from its environment (lib/detect/arena-limit.ts), else 8 × CPUs. */
export function arenaLimitOf(env: readonly string[], cpus: number): ArenaLimit {
  const set = arenaMaxSetting(env);
  return set ? { limit: set.max, why: set.from } : { limit: 8 * cpus, why: `8 × ${cpus} CPUs` };
}

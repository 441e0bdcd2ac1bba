// -c / -C: per-syscall calls, errors and time, in strace -c's table.
import type { SnapshotEvent, SyscallEvent } from '../events';
import { type Explanation, explain } from '../explain/explain';
import { AddressSpace, type RegionClass } from '../model';
import { readStartBrk } from '../model/proc';
import { isErrorReturn } from '../syscalls/abi';

interface Row {
  nr: number;
  name: string;
  calls: number;
  errors: number;
  /** Seconds between the entry stop and the exit stop (wall clock, as strace -c -w). */
  seconds: number;
}

export class SyscallCounts {
  readonly #rows = new Map<string, Row>();

  add(ev: SyscallEvent): void {
    // strace counts a call at its exit: exit and exit_group, which never
    // return, are not in its table.
    if (ev.ret === null) return;
    let r = this.#rows.get(ev.name);
    if (!r) this.#rows.set(ev.name, (r = { nr: ev.nr, name: ev.name, calls: 0, errors: 0, seconds: 0 }));
    r.calls++;
    if (isErrorReturn(ev.ret)) r.errors++;
    if (ev.entryTime !== null) r.seconds += Math.max(0, ev.time - ev.entryTime) / 1000;
  }

  /** The rows as data, for --json. */
  rows(): { syscall: string; calls: number; errors: number; seconds: number }[] {
    return [...this.#rows.values()].map((r) => ({ syscall: r.name, calls: r.calls, errors: r.errors, seconds: r.seconds }));
  }

  get size(): number {
    return this.#rows.size;
  }

  /** strace 6.1's layout (src/count.c): by time, most first; ties in syscall-number order. */
  format(): string {
    const rows = [...this.#rows.values()].sort((a, b) => b.seconds - a.seconds || a.nr - b.nr);
    const total = rows.reduce((s, r) => s + r.seconds, 0);
    const dashes = '------ ----------- ----------- --------- --------- ----------------';
    const line = (pct: number, secs: number, calls: number, errors: number, name: string) =>
      `${pct.toFixed(2).padStart(6)} ${secs.toFixed(6).padStart(11)} ${String(Math.floor((secs * 1e6) / Math.max(1, calls))).padStart(11)} ` +
      `${String(calls).padStart(9)} ${(errors ? String(errors) : '').padStart(9)} ${name}`;
    const out = [
      `${'% time'.padStart(6)} ${'seconds'.padStart(11)} ${'usecs/call'.padStart(11)} ${'calls'.padStart(9)} ${'errors'.padStart(9)} syscall`,
      dashes,
    ];
    for (const r of rows) out.push(line(total > 0 ? (100 * r.seconds) / total : 0, r.seconds, r.calls, r.errors, r.name));
    out.push(dashes);
    const calls = rows.reduce((s, r) => s + r.calls, 0);
    const errors = rows.reduce((s, r) => s + r.errors, 0);
    out.push(line(100, total, calls, errors, 'total'));
    return out.join('\n');
  }
}

/**
 * The bytes per memory class at a snapshot (run: the image just exec'd;
 * attach: what the attach found), classified as the explanation classifies
 * (a model seeded from the snapshot's maps, as lib/watch/sample.ts does), so
 * the -c table can say what each class gained since.
 */
export function classBytesAt(snap: SnapshotEvent): { classes: Map<RegionClass, bigint>; kb: number } {
  const model = new AddressSpace(snap.pid);
  model.seed(snap.maps, { tid: snap.tid, seq: snap.seq, time: snap.time, cause: 'snapshot' }, readStartBrk(snap.pid));
  const threadRegs = snap.threads?.map(({ tid, sp }) => ({ tid, sp }));
  const e = explain({ pid: snap.pid, model, findings: [], threadRegs });
  return { classes: new Map(e.classes.map((c) => [c.class, c.bytes])), kb: e.modelKb };
}

type ClassBytes = { classes: Map<RegionClass, bigint>; kb: number };

/** One memory class beside the counts: the bytes it holds now and, with a start, what it gained since (negative: it shrank). */
export interface ClassGain {
  class: RegionClass;
  bytes: bigint;
  gained: bigint | null;
}

/**
 * Beside the counts: per memory class, the bytes it holds and what it gained
 * since `start` (the classes at the start or the attach, classBytesAt); a
 * class that was there and is gone holds 0. The text and JSON forms both.
 */
export function classGains(e: Explanation, start?: ClassBytes): { rows: ClassGain[]; total: Omit<ClassGain, 'class'> } {
  const rows: ClassGain[] = e.classes.map((c) => ({ class: c.class, bytes: c.bytes, gained: start ? c.bytes - (start.classes.get(c.class) ?? 0n) : null }));
  if (start) for (const [cls, bytes] of start.classes) if (!e.classes.some((c) => c.class === cls)) rows.push({ class: cls, bytes: 0n, gained: -bytes });
  const kb = BigInt(e.vmSizeKb ?? e.modelKb);
  return { rows, total: { bytes: kb * 1024n, gained: start ? (kb - BigInt(start.kb)) * 1024n : null } };
}

export function formatClassBytes(e: Explanation, start?: ClassBytes, since: 'start' | 'attach' = 'start'): string {
  const gainWidth = 19;
  const head = `${'memory class'.padEnd(22)} ${'kB'.padStart(11)}`;
  const rule = `${'-'.repeat(22)} ${'-'.repeat(11)}`;
  const out = start ? [`${head} ${`gained since ${since}`.padStart(gainWidth)}`, `${rule} ${'-'.repeat(gainWidth)}`] : [head, rule];
  const row = (name: string, g: Omit<ClassGain, 'class'>) => {
    const gain = g.gained === null ? '' : ` ${(g.gained > 0n ? `+${g.gained / 1024n}` : String(g.gained / 1024n)).padStart(gainWidth)}`;
    return `${name.padEnd(22)} ${String(g.bytes / 1024n).padStart(11)}${gain}`;
  };
  const { rows, total } = classGains(e, start);
  for (const g of rows) out.push(row(g.class, g));
  out.push(start ? `${rule} ${'-'.repeat(gainWidth)}` : rule, row('total (VmSize)', total));
  return out.join('\n');
}

/** -c --json's closing line: the syscall rows, and the memory classes as formatClassBytes shows them. */
export function countsJson(counts: SyscallCounts, e: Explanation | undefined, start: ClassBytes | undefined, since: 'start' | 'attach') {
  const gains = e ? classGains(e, start) : undefined;
  return {
    type: 'counts',
    syscalls: counts.rows(),
    since,
    classes: gains?.rows.map((g) => ({ class: g.class, bytes: g.bytes, gainedBytes: g.gained })) ?? [],
    vmSizeBytes: gains?.total.bytes ?? null,
    gainedBytes: gains?.total.gained ?? null,
  };
}

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

/**
 * Beside the counts: per memory class, the kB it holds and what it gained
 * since `start` (the classes at the start or the attach, classBytesAt); a
 * class that was there and is gone holds 0.
 */
export function formatClassBytes(e: Explanation, start?: { classes: Map<RegionClass, bigint>; kb: number }, since: 'start' | 'attach' = 'start'): string {
  const gainWidth = 19;
  const head = `${'memory class'.padEnd(22)} ${'kB'.padStart(11)}`;
  const rule = `${'-'.repeat(22)} ${'-'.repeat(11)}`;
  const gain = (kb: number) => ` ${(kb > 0 ? `+${kb}` : String(kb)).padStart(gainWidth)}`;
  const out = start ? [`${head} ${`gained since ${since}`.padStart(gainWidth)}`, `${rule} ${'-'.repeat(gainWidth)}`] : [head, rule];
  const row = (cls: string, bytes: bigint) =>
    `${cls.padEnd(22)} ${String(bytes / 1024n).padStart(11)}${start ? gain(Number((bytes - (start.classes.get(cls as RegionClass) ?? 0n)) / 1024n)) : ''}`;
  for (const c of e.classes) out.push(row(c.class, c.bytes));
  if (start) for (const cls of start.classes.keys()) if (!e.classes.some((c) => c.class === cls)) out.push(row(cls, 0n));
  const total = e.vmSizeKb ?? e.modelKb;
  out.push(start ? `${rule} ${'-'.repeat(gainWidth)}` : rule, `${'total (VmSize)'.padEnd(22)} ${String(total).padStart(11)}${start ? gain(total - start.kb) : ''}`);
  return out.join('\n');
}

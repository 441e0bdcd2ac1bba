// -c / -C: per-syscall calls, errors and time, in strace -c's table.
import type { SyscallEvent } from '../events';
import type { Explanation } from '../explain/explain';
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

/** Beside the counts: what the calls left in the address space, per memory class (bytes each class holds). */
export function formatClassBytes(e: Explanation): string {
  const out = [`${'memory class'.padEnd(22)} ${'kB'.padStart(11)}`, `${'-'.repeat(22)} ${'-'.repeat(11)}`];
  for (const c of e.classes) out.push(`${c.class.padEnd(22)} ${String(c.bytes / 1024n).padStart(11)}`);
  out.push(`${'-'.repeat(22)} ${'-'.repeat(11)}`, `${'total (VmSize)'.padEnd(22)} ${String(e.vmSizeKb ?? e.modelKb).padStart(11)}`);
  return out.join('\n');
}

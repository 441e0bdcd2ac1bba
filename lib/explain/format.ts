// The explanation as people read it, and side by side for compare.
import { fmtSize, hex } from '../units';
import type { ClassLine, Explanation } from './explain';

const kb = (bytes: bigint): string => `${bytes / 1024n} kB`;

function classCell(c: ClassLine): string {
  const size = c.each !== null && c.count > 1 ? `${c.count} × ${fmtSize(c.each)}` : `${c.count} × ${fmtSize(c.bytes / BigInt(c.count))}`;
  return c.each !== null ? size : `${c.count} mappings`;
}

export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const total = e.vmSizeKb !== null ? `VmSize ${e.vmSizeKb} kB (/proc/${e.pid}/status), model ${e.modelKb} kB` : `model ${e.modelKb} kB (process exited)`;
  lines.push(`=== liveprobe: why process ${e.pid} has this much virtual memory ===`);
  lines.push(total);
  if (e.binary) lines.push(`binary: ${e.binary.summary}${e.binary.dns ? `; DNS: ${e.binary.dns.resolver} (${e.binary.dns.why})` : ''}`);
  lines.push('');
  lines.push(`${'class'.padEnd(22)} ${'allocations'.padEnd(20)} ${'size'.padStart(13)} ${'rss'.padStart(11)}  basis`);
  for (const c of e.classes) {
    lines.push(
      `${c.class.padEnd(22)} ${classCell(c).padEnd(20)} ${kb(c.bytes).padStart(13)} ${(c.rss === null ? '-' : kb(c.rss)).padStart(11)}  ${c.basis}`,
    );
  }
  const pct = e.modelKb > 0 ? ((100 * e.explainedKb) / e.modelKb).toFixed(1) : '0';
  const before = e.attached ? 'before attach' : 'at exec';
  lines.push(`explained ${e.explainedKb} of ${e.vmSizeKb ?? e.modelKb} kB (${pct}%); the rest is anonymous memory with no known maker`);
  for (const u of e.unexplained) {
    // What neither a proof, a name nor a shape covers: the Go runtime's small
    // chunks (persistentalloc, gcBits, profiling buckets), ld.so's TLS and data.
    const by = u.tid === null ? before : `by ${u.tid}`;
    lines.push(`  anonymous ${hex(u.start)}-${hex(u.end)} ${u.perms} ${kb(u.end - u.start).padStart(9)}  made ${by}`);
  }
  lines.push('');
  const byKind = new Map<string, number>();
  for (const t of e.threads) byKind.set(t.kind, (byKind.get(t.kind) ?? 0) + 1);
  lines.push(`threads: ${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  for (const t of e.threads) lines.push(`  ${String(t.tid).padStart(7)} ${t.kind.padEnd(11)} state ${t.state}`);
  if (e.byCreator.length) {
    lines.push('made by thread: ' + e.byCreator.slice(0, 8).map((c) => `${c.tid ?? before} ${fmtSize(c.bytes)}`).join(', '));
  }
  for (const f of e.files) {
    lines.push(`large file: ${f.path} ${kb(f.bytes)} in ${f.mappings} mapping${f.mappings > 1 ? 's' : ''}${f.rss === null ? '' : `, ${kb(f.rss)} resident`}`);
  }
  if (e.usage) {
    const u = e.usage;
    lines.push(
      `usage (${u.samples} samples): cpu ${u.cpu.min.toFixed(0)}–${u.cpu.max.toFixed(0)}% (last ${u.cpu.last.toFixed(0)}%), ` +
        `rss ${fmtSize(BigInt(u.rssBytes.min))}–${fmtSize(BigInt(u.rssBytes.max))} (last ${fmtSize(BigInt(u.rssBytes.last))})`,
    );
  }
  for (const h of e.hints) lines.push(`hint: ${h}`);
  return lines.join('\n');
}

/** Two explanations side by side, with the difference per class. */
export function formatComparison(a: Explanation, b: Explanation, labels: [string, string]): string {
  const classes = [...new Set([...a.classes.map((c) => c.class), ...b.classes.map((c) => c.class)])];
  const get = (e: Explanation, cls: string) => e.classes.find((c) => c.class === cls);
  const rows = classes.map((cls) => {
    const x = get(a, cls);
    const y = get(b, cls);
    const xb = x?.bytes ?? 0n;
    const yb = y?.bytes ?? 0n;
    return { cls, x, y, diff: yb - xb };
  });
  rows.sort((p, q) => (q.diff < 0n ? -q.diff : q.diff) > (p.diff < 0n ? -p.diff : p.diff) ? 1 : -1);
  const cell = (c: ClassLine | undefined) => (c ? `${classCell(c)} = ${kb(c.bytes)}` : '-');
  const w = 34;
  // A long command keeps its end, where two command lines usually differ (…/ex7 -s vs …/ex7pure).
  const label = (l: string) => (l.length <= w ? l : `…${l.slice(l.length - w + 1)}`).padEnd(w);
  const lines = [`${'class'.padEnd(22)} ${label(labels[0])} ${label(labels[1])} difference`];
  for (const r of rows) {
    const sign = r.diff > 0n ? '+' : r.diff < 0n ? '-' : ' ';
    const abs = r.diff < 0n ? -r.diff : r.diff;
    lines.push(`${r.cls.padEnd(22)} ${cell(r.x).padEnd(w)} ${cell(r.y).padEnd(w)} ${sign}${kb(abs)}`);
  }
  const ta = a.vmSizeKb ?? a.modelKb;
  const tb = b.vmSizeKb ?? b.modelKb;
  lines.push(`${'VmSize'.padEnd(22)} ${`${ta} kB`.padEnd(w)} ${`${tb} kB`.padEnd(w)} ${tb - ta >= 0 ? '+' : '-'}${Math.abs(tb - ta)} kB`);
  const threads = (e: Explanation) => e.threads.length;
  lines.push(`${'threads'.padEnd(22)} ${String(threads(a)).padEnd(w)} ${String(threads(b)).padEnd(w)} ${threads(b) - threads(a) >= 0 ? '+' : ''}${threads(b) - threads(a)}`);
  return lines.join('\n');
}

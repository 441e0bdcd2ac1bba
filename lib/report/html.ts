// --report FILE.html: everything liveprobe knows about a process as one
// self-contained page that opens offline (the chart library and styles are
// inlined from npm packages, nothing is fetched): the address space as a
// treemap of regions by class (areas keep 4 KiB and 512 MiB both visible as
// rectangles, and a log-scale bar per class beside it; hover for a region's
// provenance and evidence), VmSize and RSS over time with a marker per
// finding, threads over time by kind, the explanation table, binary facts and
// hints. Charts by Apache ECharts (npm `echarts`).
import fs from 'node:fs';
import type { Finding } from '../events';
import { classifyRegion } from '../explain/classify';
import type { Explanation } from '../explain/explain';
import type { Region } from '../model';
import { fmtSize } from '../units';
import type { Recording } from './recorder';

export interface ReportSide {
  /** What was traced, for the heading: the command line, or the pid. */
  title: string;
  explanation: Explanation;
  /** The model's regions at the explanation's moment. */
  regions: readonly Region[];
  recording: Recording;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe inside a <script> element (no "</script>" can end it early). */
function scriptJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)).replace(/</g, '\\u003c');
}

const kb = (b: bigint): string => `${b / 1024n} kB`;

/** The data one side's charts are drawn from. */
function chartData(side: ReportSide): unknown {
  const { explanation: e, regions, recording: rec } = side;
  const threadKind = new Map(e.threads.map((t) => [t.tid, t.kind]));
  const evidenceOf = (r: Region): number[] =>
    rec.findings.filter((f) => f.region && f.region.start < r.end && r.start < f.region.end).flatMap((f) => f.evidence);
  const byClass = new Map<string, { name: string; value: number; info: string }[]>();
  for (const r of regions) {
    if (r.name === '[vsyscall]') continue;
    const c = classifyRegion(r, regions);
    let l = byClass.get(c.class);
    if (!l) byClass.set(c.class, (l = []));
    const ev = evidenceOf(r);
    l.push({
      name: `0x${r.start.toString(16)}`,
      value: Number(r.end - r.start),
      info:
        `${r.start.toString(16)}-${r.end.toString(16)} ${r.perms} ${fmtSize(r.end - r.start)} ${r.name}<br>` +
        `class ${c.class} (${c.basis}); made by ${r.origin.cause} in thread ${r.origin.tid}` +
        (r.origin.cause === 'snapshot' ? ' (before tracing)' : ` at ${r.origin.time.toFixed(1)} ms, seq ${r.origin.seq}`) +
        (ev.length ? `<br>evidence: seq ${ev.join(', ')}` : ''),
    });
  }
  // Threads over time by kind: a step per start and end.
  const kinds = [...new Set(e.threads.map((t) => t.kind))];
  const times = [...new Set(rec.threads.flatMap((t) => [t.start, t.end ?? rec.end]).concat([0, rec.end]))].sort((a, b) => a - b);
  const threadSeries = kinds.map((k) => ({
    kind: k,
    points: times.map((t) => [t, rec.threads.filter((x) => (threadKind.get(x.tid) ?? 'unknown') === k && x.start <= t && (x.end === null || x.end > t)).length]),
  }));
  return {
    treemap: [...byClass].map(([cls, children]) => ({ name: cls, children })),
    classes: e.classes.map((c) => ({ name: c.class, kb: Number(c.bytes / 1024n) })),
    vmsize: rec.timeline.map((p) => [p.t, p.vmSizeKb]),
    rss: rec.timeline.filter((p) => p.rssKb !== null).map((p) => [p.t, p.rssKb]),
    findings: rec.findings.map((f: Finding) => ({ t: f.time, kind: f.kind, seq: f.seq, summary: f.summary, evidence: f.evidence })),
    threads: threadSeries,
  };
}

function sideHtml(side: ReportSide, i: number): string {
  const e = side.explanation;
  const total = e.vmSizeKb ?? e.modelKb;
  const pct = total > 0 ? ((100 * e.explainedKb) / total).toFixed(1) : '0';
  const rows = e.classes
    .map(
      (c) =>
        `<tr data-class="${esc(c.class)}" data-bytes="${c.bytes}"><td>${esc(c.class)}</td><td>${c.count}${c.each !== null ? ` × ${fmtSize(c.each)}` : ''}</td>` +
        `<td class="n">${kb(c.bytes)}</td><td class="n">${c.rss === null ? '-' : kb(c.rss)}</td><td>${c.basis}</td></tr>`,
    )
    .join('\n');
  const threads = new Map<string, number>();
  for (const t of e.threads) threads.set(t.kind, (threads.get(t.kind) ?? 0) + 1);
  return `<section class="side" id="side${i}" data-pid="${e.pid}">
<h2>${esc(side.title)} <small>pid ${e.pid}</small></h2>
<p class="total" data-vmsize-kb="${total}">VmSize <b>${total} kB</b>${e.vmSizeKb === null ? ' (model; the process has exited)' : ''} · explained ${e.explainedKb} kB (${pct}%) ·
threads ${[...threads].map(([k, n]) => `${n} ${esc(k)}`).join(', ')}</p>
${e.binary ? `<p class="binary">binary: ${esc(e.binary.summary)}</p>` : ''}
<div class="row"><div class="chart" id="space${i}"></div><div class="chart narrow" id="sizes${i}"></div></div>
<div class="row"><div class="chart" id="timeline${i}"></div><div class="chart narrow" id="threads${i}"></div></div>
<table class="classes"><thead><tr><th>class</th><th>allocations</th><th>size</th><th>rss</th><th>basis</th></tr></thead>
<tbody>
${rows}
</tbody><tfoot><tr data-total="${total}"><td>VmSize</td><td></td><td class="n">${total} kB</td><td></td><td></td></tr></tfoot></table>
<h3>findings</h3>
<ol class="findings">${side.recording.findings.map((f) => `<li data-seq="${f.seq}" data-kind="${f.kind}">${f.time.toFixed(1)} ms · <b>${f.kind}</b> ${esc(f.summary)} <small>[evidence: ${f.evidence.join(', ')}]</small></li>`).join('\n')}</ol>
${e.hints.length ? `<h3>hints</h3><ul class="hints">${e.hints.map((h) => `<li>${esc(h)}</li>`).join('\n')}</ul>` : ''}
<script type="application/json" id="data${i}">${scriptJson(chartData(side))}</script>
</section>`;
}

// Drawn in the page: one ECharts instance per chart, SVG so a test (or a
// reader's browser tools) can inspect what is drawn.
const PAGE_SCRIPT = `
for (const section of document.querySelectorAll('section.side')) {
  const i = section.id.slice(4);
  const d = JSON.parse(document.getElementById('data' + i).textContent);
  const init = (id) => echarts.init(document.getElementById(id + i), null, { renderer: 'svg' });
  init('space').setOption({
    title: { text: 'address space by class (area = size)', textStyle: { fontSize: 13 } },
    tooltip: { formatter: (p) => p.data.info || (p.name + ': ' + Math.round(p.value / 1024) + ' kB') },
    series: [{ type: 'treemap', data: d.treemap, roam: false, nodeClick: false, breadcrumb: { show: false },
      leafDepth: 2, levels: [{ itemStyle: { borderWidth: 2, gapWidth: 2 } }, { itemStyle: { gapWidth: 1 } }],
      upperLabel: { show: true, height: 16 } }],
  });
  init('sizes').setOption({
    title: { text: 'size per class (kB, log scale)', textStyle: { fontSize: 13 } },
    tooltip: {}, grid: { left: 130 },
    xAxis: { type: 'log', logBase: 2 }, yAxis: { type: 'category', data: d.classes.map((c) => c.name) },
    series: [{ type: 'bar', data: d.classes.map((c) => Math.max(c.kb, 1)) }],
  });
  init('timeline').setOption({
    title: { text: 'VmSize and RSS over time (kB); a line per finding', textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'axis' }, legend: { top: 20 },
    xAxis: { type: 'value', name: 'ms' }, yAxis: { type: 'value' },
    series: [
      { name: 'VmSize', type: 'line', step: 'end', showSymbol: false, data: d.vmsize,
        markLine: { symbol: 'none', label: { show: false }, data: d.findings.map((f) => ({ xAxis: f.t, name: f.kind + ' (seq ' + f.seq + ')' })) } },
      { name: 'RSS', type: 'line', step: 'end', showSymbol: false, data: d.rss },
    ],
  });
  init('threads').setOption({
    title: { text: 'threads by kind', textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'axis' }, legend: { top: 20 },
    xAxis: { type: 'value', name: 'ms' }, yAxis: { type: 'value', minInterval: 1 },
    series: d.threads.map((s) => ({ name: s.kind, type: 'line', step: 'end', stack: 'threads', areaStyle: {}, showSymbol: false, data: s.points })),
  });
}
document.body.dataset.drawn = 'yes';
`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
.sides { display: flex; gap: 2em; } .side { flex: 1; min-width: 0; }
.row { display: flex; gap: 1em; } .chart { flex: 2; height: 340px; } .chart.narrow { flex: 1; }
table.classes { border-collapse: collapse; margin: 1em 0; } td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } tfoot td { font-weight: bold; }
ol.findings { font-size: 13px; } small { color: #666; }
`;

/** The page, for one process or two side by side (compare). */
export function renderReport(sides: readonly ReportSide[], heading: string): string {
  const echarts = fs.readFileSync(require.resolve('echarts/dist/echarts.min.js'), 'utf8');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(heading)}</title>
<style>${STYLE}</style>
<script>${echarts.replace(/<\/script/gi, '<\\/script')}</script>
</head><body>
<h1>${esc(heading)}</h1>
<div class="sides">
${sides.map(sideHtml).join('\n')}
</div>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}

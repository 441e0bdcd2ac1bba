// Pictures (issue 20): the HTML report opened in headless Chromium (Debian's
// chromium, driven by playwright-core) and read back from its DOM and its
// charts; the Perfetto JSON checked against the Trace Event format. Both from
// a real ex7 run through the CLI.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { fixture } from './helpers/fixtures';
import { untilValue } from './helpers/patience';
import { cliPath, runCli, runCliReleasing } from './helpers/trace';

const T = { timeout: 180_000 };
const CHROMIUM = '/usr/bin/chromium';

interface JsonLine {
  type: string;
  seq?: number;
  kind?: string;
  pid?: number;
  tid?: number;
  evidence?: number[];
  classes?: { class: string; bytes: string }[];
  vmSizeKb?: number | null;
  modelKb?: number;
  threads?: { tid: number; kind: string }[];
}

async function ex7Run(extra: string[]): Promise<{ dir: string; lines: JsonLine[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-report-'));
  const r = await runCli(['run', '--json', ...extra.map((a) => a.replace('{dir}', dir)), await fixture('ex7'), '-sleep', '300ms']);
  assert.equal(r.code, 0, r.stderr.slice(-500));
  return { dir, lines: r.stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as JsonLine) };
}

describe('pictures', () => {
  test('--report: one row per class equal to the explanation, one marker per finding, the total equal to VmSize; a screenshot', T, async () => {
    const { dir, lines } = await ex7Run(['--report', '{dir}/ex7.html']);
    const e = lines.at(-1)!;
    assert.equal(e.type, 'explanation');
    const findings = lines.filter((l) => l.type === 'finding');
    assert.ok(findings.length >= 5, 'ex7 makes threads and arenas');
    const html = fs.readFileSync(path.join(dir, 'ex7.html'), 'utf8');
    // Self-contained: outside the inlined scripts' text, nothing names a file to fetch.
    const markup = html.replace(/<script[^>]*>[\s\S]*?<\/script>/g, '<script></script>');
    assert.deepEqual(markup.match(/<(script|link|img)[^>]+(src|href)=[^>]*>/g), null);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      // Offline: any request the page makes fails the test.
      const requests: string[] = [];
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) requests.push(req.url());
      });
      await page.goto(`file://${path.join(dir, 'ex7.html')}`);
      await page.waitForFunction("document.body.dataset.drawn === 'yes'");
      assert.deepEqual(requests, []);
      const rows = await page.$$eval('table.classes tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-class'), tr.getAttribute('data-bytes')]));
      assert.deepEqual(rows, e.classes!.map((c) => [c.class, c.bytes]));
      const total = await page.$eval('table.classes tfoot tr', (tr) => Number(tr.getAttribute('data-total')));
      assert.equal(total, e.vmSizeKb ?? e.modelKb);
      // The timeline chart carries one marker line per finding, at its time.
      const markers = await page.evaluate<number>("echarts.getInstanceByDom(document.getElementById('timeline0')).getOption().series[0].markLine.data.length");
      assert.equal(markers, findings.length);
      const listed = await page.$$eval('ol.findings li', (lis) => lis.map((li) => Number(li.getAttribute('data-seq'))));
      assert.deepEqual(listed, findings.map((f) => f.seq));
      // The treemap drew a rectangle per region at least (SVG renderer).
      const rects = await page.$$eval('#space0 svg path, #space0 svg rect', (els) => els.length);
      assert.ok(rects > e.classes!.length, `treemap drawn (${rects} shapes)`);
      const shot = path.join(dir, 'ex7-report.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`# screenshot: ${shot}`);
    } finally {
      await browser.close();
    }
  });

  test('--perfetto: every thread a named track, every finding an instant with its evidence, the required fields everywhere', T, async () => {
    const { dir, lines } = await ex7Run(['--perfetto', '{dir}/ex7.json']);
    const trace = JSON.parse(fs.readFileSync(path.join(dir, 'ex7.json'), 'utf8')) as { displayTimeUnit: string; traceEvents: Record<string, unknown>[] };
    assert.equal(trace.displayTimeUnit, 'ms');
    const ev = trace.traceEvents;
    // The Trace Event format's required fields, per phase.
    for (const x of ev) {
      assert.equal(typeof x.ph, 'string');
      assert.equal(typeof x.name, 'string');
      assert.equal(typeof x.pid, 'number');
      assert.equal(typeof x.tid, 'number');
      if (x.ph !== 'M') assert.equal(typeof x.ts, 'number', JSON.stringify(x));
      if (x.ph === 'X') assert.equal(typeof x.dur, 'number');
      if (x.ph === 'C' || x.ph === 'M') assert.equal(typeof x.args, 'object');
      assert.ok(['M', 'X', 'i', 'C'].includes(x.ph as string), `phase ${String(x.ph)}`);
    }
    const e = lines.at(-1)!;
    const named = new Map(ev.filter((x) => x.ph === 'M' && x.name === 'thread_name').map((x) => [x.tid, (x.args as { name: string }).name]));
    assert.deepEqual([...named.keys()].sort(), e.threads!.map((t) => t.tid).sort());
    for (const t of e.threads!) assert.equal(named.get(t.tid), `${t.kind} ${t.tid}`);
    const findings = lines.filter((l) => l.type === 'finding');
    const instants = ev.filter((x) => x.ph === 'i' && x.cat === 'finding');
    assert.deepEqual(
      instants.map((x) => [x.name, x.tid, (x.args as { seq: number; evidence: number[] }).seq, (x.args as { evidence: number[] }).evidence]),
      findings.map((f) => [f.kind, f.tid, f.seq, f.evidence]),
    );
    // Syscalls as slices: as many as syscall events, each at its entry.
    const syscalls = lines.filter((l) => l.type === 'syscall');
    assert.equal(ev.filter((x) => x.ph === 'X').length, syscalls.length);
    assert.ok(ev.some((x) => x.ph === 'C' && x.name === 'VmSize'));
    assert.ok(ev.some((x) => x.ph === 'C' && x.name === 'glibc arenas'));
  });
});

/** Sizes as the live view prints them (lib/cli/live.ts). */
function human(bytes: bigint): string {
  const MiB = 1n << 20n;
  return bytes < MiB ? `${(bytes + 512n) / 1024n} KiB` : `${(Number(bytes) / Number(MiB)).toFixed(1)} MiB`;
}

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

describe('--live', () => {
  test('in tmux: its rows equal the explanation while ex7 sleeps; a resize redraws it to the new width', T, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-live-'));
    const json = path.join(dir, 'ex7.ndjson');
    const name = `liveprobe-live-${process.pid}`;
    const cmd = `${process.execPath} ${cliPath()} run --live --json -o ${json} -- ${await fixture('ex7')} -sleep 4s; sleep 30`;
    tmux('new-session', '-d', '-s', name, '-x', '110', '-y', '40', cmd);
    try {
      // A frame while ex7 sleeps: its threads made, nothing changes until it wakes.
      const frame = await untilValue(() => tmux('capture-pane', '-p', '-t', name), (t) => /threads: 1 main, \d+ cgo-thread/.test(t) && /findings \(\d+\)/.test(t), 'a live frame with the threads and findings');
      const rows = frame.split('\n').filter((l) => /^[a-z][a-z-]+ +\d/.test(l)).map((l) => l.trim().split(/\s{2,}/).slice(0, 2));
      tmux('resize-window', '-t', name, '-x', '60');
      const narrow = await untilValue(() => tmux('capture-pane', '-p', '-t', name), (t) => t.split('\n').some((l) => l.endsWith('…') && l.length === 60), 'the frame redrawn 60 columns wide');
      const lines = narrow.split('\n').filter((l) => l.length);
      assert.ok(lines.every((l) => [...l].length <= 60), 'no line wider than the terminal');
      assert.deepEqual(lines.filter((l) => /^[a-z][a-z-]+ +\d/.test(l)).map((l) => l.trim().split(/\s{2,}/)[0]), rows.map((r) => r[0]), 'the same classes after the resize');
      // The explanation of the same moment (ex7's exit changes no mapping): class by class.
      const e = await untilValue(() => (fs.existsSync(json) ? fs.readFileSync(json, 'utf8') : ''), (t) => t.includes('"type":"explanation"'), 'the explanation in the --json file');
      const explanation = e.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; classes?: { class: string; bytes: string }[] }).find((l) => l.type === 'explanation')!;
      assert.deepEqual(rows, explanation.classes!.map((c) => [c.class, human(BigInt(c.bytes))]));
    } finally {
      try {
        tmux('kill-session', '-t', name);
      } catch {
        // already gone
      }
    }
  });

  test('not a terminal: plain blocks, no escape sequences, the last one with the final classes', T, async () => {
    // ex7 -ready exits once the first block is out: then the last one follows.
    const r = await runCliReleasing(['run', '--live', await fixture('ex7'), '-ready'], /\n\n/);
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stderr, /\x1b\[/);
    // After the view, the CLI's closing lines: the preemption count when Go sent a SIGURG meanwhile.
    const closing = /\nliveprobe: not shown: \d+ SIGURG the process sent its own threads [^\n]*$/;
    const blocks = r.stderr.trimEnd().replace(closing, '').trimEnd().split('\n\n');
    assert.ok(blocks.length >= 2, 'a block a second, and the last at the end');
    const last = blocks.at(-1)!;
    assert.match(last, /^liveprobe .*ex7 -ready  \d+ s  events \d+ \(\d+\/s\)  stops \d+\/s  lost 0\n/);
    assert.match(last, /\npthread-stack +\d/);
    assert.match(last, /\nthreads: 1 main, \d+ cgo-thread\n/);
  });
});


describe('compare --report', () => {
  test('two sides in one page, each with its own rows equal to its explanation', T, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-cmp-'));
    const page = path.join(dir, 'cmp.html');
    const r = await runCli(['compare', '--json', '--report', page, '--', await fixture('ex7'), '-sleep', '300ms', '---', await fixture('ex7pure'), '-sleep', '300ms']);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as { a: { pid: number; classes: { class: string; bytes: string }[] }; b: { pid: number; classes: { class: string; bytes: string }[] } };
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const p = await browser.newPage({ viewport: { width: 1800, height: 1000 } });
      await p.goto(`file://${page}`);
      await p.waitForFunction("document.body.dataset.drawn === 'yes'");
      const sides = await p.$$eval('section.side', (ss) => ss.map((s) => [
        Number(s.getAttribute('data-pid')),
        [...s.querySelectorAll('table.classes tbody tr')].map((tr) => [tr.getAttribute('data-class'), tr.getAttribute('data-bytes')]),
      ]));
      assert.deepEqual(sides, [
        [c.a.pid, c.a.classes.map((x) => [x.class, x.bytes])],
        [c.b.pid, c.b.classes.map((x) => [x.class, x.bytes])],
      ]);
      const shot = path.join(dir, 'compare-report.png');
      await p.screenshot({ path: shot });
      console.log(`# screenshot: ${shot}`);
    } finally {
      await browser.close();
    }
  });
});

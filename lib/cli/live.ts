// --live: a top-like view of the traced process, redrawn in place once a
// second (log-update rewrites the lines it drew last): classes with size and
// RSS bars, threads by kind, the last findings, events/s, stops/s and lost
// records. Fits the terminal's width, redraws at once when it is resized;
// where stderr is not a terminal it prints the same block as plain lines
// each second instead. NO_COLOR turns colour off.
import createLogUpdate = require('log-update');
import type { Finding } from '../events';
import type { Explanation } from '../explain/explain';
import type { Session } from '../session';
import { MiB } from '../units';

const FINDINGS_SHOWN = 5;
const BAR = '█';

export interface LiveFrameInput {
  title: string;
  elapsedS: number;
  explanation: Explanation | undefined;
  findings: readonly Finding[];
  events: number;
  eventsPerS: number;
  stopsPerS: number;
  lost: number;
  columns: number;
  colour: boolean;
}

function bar(value: bigint, max: bigint, width: number): string {
  if (max <= 0n || width <= 0) return '';
  const n = Number((value * BigInt(width)) / max);
  return BAR.repeat(value > 0n && n === 0 ? 1 : n);
}

function fit(text: string, columns: number): string {
  const line = text.trimEnd();
  return line.length > columns ? line.slice(0, Math.max(0, columns - 1)) + '…' : line;
}

/** Sizes for a glance: KiB below 1 MiB, MiB with a decimal above. */
function human(bytes: bigint): string {
  return bytes < MiB ? `${(bytes + 512n) / 1024n} KiB` : `${(Number(bytes) / Number(MiB)).toFixed(1)} MiB`;
}

/** One frame, as lines no wider than `columns` (styles added after the fitting). */
export function liveFrame(f: LiveFrameInput): string[] {
  const plain = (s: string) => fit(s, f.columns);
  const bold = (s: string) => (f.colour ? `\x1b[1m${fit(s, f.columns)}\x1b[22m` : fit(s, f.columns));
  const yellow = (s: string) => (f.colour ? `\x1b[33m${fit(s, f.columns)}\x1b[39m` : fit(s, f.columns));
  const e = f.explanation;
  const lines: string[] = [];
  lines.push(
    bold(`liveprobe ${f.title}  ${f.elapsedS.toFixed(0)} s  events ${f.events} (${Math.round(f.eventsPerS)}/s)  stops ${Math.round(f.stopsPerS)}/s  lost ${f.lost}`),
  );
  if (!e) {
    lines.push(plain('waiting for the address space…'));
    return lines;
  }
  const total = e.vmSizeKb ?? e.modelKb;
  lines.push(plain(`VmSize ${total} kB, explained ${e.explainedKb} kB (${total ? ((100 * e.explainedKb) / total).toFixed(1) : '0'}%)`));
  // Two bars per class, in what width is left after the numbers.
  const label = 22;
  const nums = 26;
  const barWidth = Math.max(4, Math.floor((f.columns - label - nums - 4) / 2));
  const maxBytes = e.classes.reduce((m, c) => (c.bytes > m ? c.bytes : m), 0n);
  const maxRss = e.classes.reduce((m, c) => ((c.rss ?? 0n) > m ? (c.rss ?? 0n) : m), 0n);
  lines.push(bold(`${'class'.padEnd(label)} ${'size'.padStart(12)} ${'rss'.padStart(12)}`));
  for (const c of e.classes) {
    lines.push(
      plain(
        `${c.class.padEnd(label)} ${human(c.bytes).padStart(12)} ${(c.rss === null ? '-' : human(c.rss)).padStart(12)}  ` +
          `${bar(c.bytes, maxBytes, barWidth).padEnd(barWidth)} ${c.rss === null ? '' : bar(c.rss, maxRss, barWidth)}`,
      ),
    );
  }
  const kinds = new Map<string, number>();
  // Live threads while it runs; once it has exited, the threads it had.
  for (const t of e.threads) if (t.state !== 'exited' || e.vmSizeKb === null) kinds.set(t.kind, (kinds.get(t.kind) ?? 0) + 1);
  lines.push(plain(`threads: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}`));
  lines.push(bold(`findings (${f.findings.length}), the last ${Math.min(FINDINGS_SHOWN, f.findings.length)}:`));
  for (const x of f.findings.slice(-FINDINGS_SHOWN)) lines.push(yellow(`  ${x.time.toFixed(1)} ms ${x.kind}: ${x.summary}`));
  return lines;
}

/** Draws the view every second while the session runs; stop() draws the last frame and leaves it. */
export class LiveView {
  readonly #session: Session;
  readonly #title: string;
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #colour: boolean;
  readonly #log: ReturnType<typeof createLogUpdate.create> | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #start = performance.now();
  #last = { t: performance.now(), events: 0, stops: 0 };
  #onResize = () => this.draw();

  constructor(session: Session, title: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#session = session;
    this.#title = title;
    this.#stream = stream;
    this.#tty = Boolean(stream.isTTY);
    this.#colour = this.#tty && process.env.NO_COLOR === undefined;
    this.#log = this.#tty ? createLogUpdate.create(stream, { showCursor: false }) : undefined;
    if (this.#tty) stream.on('resize', this.#onResize);
    this.#timer = setInterval(() => this.draw(), 1000);
  }

  draw(): void {
    const now = performance.now();
    const s = this.#session.stats;
    const dt = Math.max(1e-3, (now - this.#last.t) / 1000);
    const frame = liveFrame({
      title: this.#title,
      elapsedS: (now - this.#start) / 1000,
      explanation: this.#session.explain(),
      findings: this.#session.findings,
      events: s.events,
      eventsPerS: (s.events - this.#last.events) / dt,
      stopsPerS: (s.stops - this.#last.stops) / dt,
      lost: s.lost,
      columns: this.#tty ? this.#stream.columns || 80 : 200,
      colour: this.#colour,
    });
    this.#last = { t: now, events: s.events, stops: s.stops };
    if (this.#log) this.#log(frame.join('\n'));
    else this.#stream.write(frame.join('\n') + '\n\n');
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#stream.off('resize', this.#onResize);
    this.draw();
    this.#log?.done();
  }
}

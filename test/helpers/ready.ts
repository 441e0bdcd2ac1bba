// Fixtures that say on stdout when they have reached a state, and answer on
// request (test/fixtures/ex7 -ready, arenas -ready): tests wait for a line,
// not for time.
import type { Readable } from 'node:stream';
import type { Quiescer } from './model';
import { taskStates, until } from './reliability';

/**
 * Waits until every thread of pid sleeps in the kernel ('S'). A Go thread
 * stopped while it still runs goroutine code has its stack pointer in the
 * Go heap, not on its pthread stack, and lib/detect/shape.ts then takes a
 * cgo M for a Go runtime thread: tests of the shape rules hold the target
 * still once it is idle, as a process that has run for a while is.
 */
export async function untilIdle(pid: number): Promise<void> {
  await until(() => [...taskStates(pid).values()].every((s) => s === 'S'), `every thread of ${pid} asleep`, 30_000);
}

/** The lines a process writes, taken in order: next() waits for the next one that matches. */
export class LineReader {
  #lines: string[] = [];
  #partial = '';
  #taken = 0;
  #closed = false;
  #wake: (() => void)[] = [];
  #onClose: () => void = () => {};
  /** Resolves when the stream has ended (the process closed its stdout, or exited). */
  readonly closed = new Promise<void>((r) => (this.#onClose = r));

  constructor(stream: Readable) {
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => {
      const parts = (this.#partial + c).split('\n');
      this.#partial = parts.pop()!;
      this.#lines.push(...parts);
      this.#notify();
    });
    stream.on('close', () => {
      this.#closed = true;
      this.#onClose();
      this.#notify();
    });
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = [];
    for (const f of w) f();
  }

  /** Everything written so far, lines taken or not. */
  all(): string[] {
    return [...this.#lines];
  }

  /** The next line not yet taken that matches (lines before it are skipped); rejects if the stream ends first. */
  async next(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      while (this.#taken < this.#lines.length) {
        const m = pattern.exec(this.#lines[this.#taken++]!);
        if (m) return m;
      }
      if (this.#closed) throw new Error(`stdout closed without a line matching ${pattern}; it wrote: ${this.#lines.slice(-5).join(' | ')}`);
      await new Promise<void>((r) => this.#wake.push(r));
    }
  }
}

/**
 * ex7 -ready: glibc's own count of its arena heaps (SIGUSR2 asks, the main
 * thread answers from malloc_info).
 */
export async function glibcArenaHeaps(pid: number, lines: LineReader): Promise<number> {
  process.kill(pid, 'SIGUSR2');
  return Number((await lines.next(/^arena_heaps=(\d+)$/))[1]);
}

/**
 * Runs inspect() while ex7 -ready is held still, at a moment glibc's arena
 * count is known: asked before the hold and after it, the same. The Go
 * runtime starts Ms (each with an arena) for a while after any point the
 * program can name, so a differing pair means it was still starting: hold
 * again.
 */
export async function heldWithArenaCount<R>(pid: number, lines: LineReader, q: Quiescer, inspect: () => R): Promise<{ held: R; arenaHeaps: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const before = await glibcArenaHeaps(pid, lines);
    await untilIdle(pid);
    await q.stop();
    let held: R;
    try {
      held = inspect();
    } finally {
      q.resume();
    }
    const after = await glibcArenaHeaps(pid, lines);
    if (before === after) return { held, arenaHeaps: after };
  }
  throw new Error(`ex7 ${pid} kept making arenas through 20 holds`);
}

/**
 * Waits until ex7 -ready has stopped starting Ms: every thread asleep, with
 * glibc's arena count the same before and after (heldWithArenaCount without
 * the hold). Returns that count.
 */
export async function untilSettled(pid: number, lines: LineReader): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const before = await glibcArenaHeaps(pid, lines);
    await untilIdle(pid);
    const after = await glibcArenaHeaps(pid, lines);
    await untilIdle(pid);
    if (before === after) return after;
  }
  throw new Error(`ex7 ${pid} kept making arenas through 20 counts`);
}

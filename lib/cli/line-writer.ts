// Writes lines to stderr or a file, waiting when the destination is full, so
// a slow terminal slows the consumer (and through the credit window, the
// target) instead of buffering without bound. A regular file or a
// character device other than a terminal (/dev/null) is written with
// synchronous writes: an asynchronous one goes through libuv's thread pool,
// two more thread wake-ups per chunk on CPUs the target may need. A pipe,
// FIFO, socket or terminal keeps a stream, so a stalled reader (a paused
// terminal: Ctrl-S, a stuck ssh session) never blocks the event loop
// (Ctrl-C must still detach).
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { LiveprobeError } from '../errors';

/**
 * Whether fd is a terminal, asking node:tty only of a character device that
 * may be one. node:tty brings node:net and the stream modules with it, as
 * does process.stderr (8 and 6 ms of start-up, issue 16 §5), and a pipe, a
 * file or a device of major 1 — the memory devices, /dev/null, /dev/zero,
 * /dev/full (the kernel's Documentation/admin-guide/devices.txt) — is never
 * a terminal.
 */
export function isTerminal(fd: number, known?: fs.Stats): boolean {
  let st = known;
  try {
    st ??= fs.fstatSync(fd);
  } catch {
    return false; // closed
  }
  if (!st.isCharacterDevice() || Math.floor(st.rdev / 256) % 4096 === 1) return false;
  return (require('node:tty') as typeof import('node:tty')).isatty(fd);
}

export class LineWriter {
  /** stderr; or undefined when writing to #fd. */
  #stream: Writable | undefined;
  #fd = -1;
  #buffer: string[] = [];
  #bytes = 0;
  readonly #file: string | undefined;
  /**
   * A write that failed (a full disk, /dev/full, a FIFO whose reader went
   * away): given to the next write, flush or close, as one line for people
   * instead of an uncaught error in a callback.
   */
  #failed: LiveprobeError | undefined;

  constructor(file?: string) {
    this.#file = file;
    if (file === undefined) {
      this.#stream = process.stderr;
      return;
    }
    let fd: number;
    try {
      fd = fs.openSync(file, 'w');
    } catch (err) {
      throw new LiveprobeError('ENOENT', `cannot write ${file}: ${(err as Error).message.split(',')[0]}; pick a writable path`);
    }
    const st = fs.fstatSync(fd);
    if (st.isFile() || (st.isCharacterDevice() && !isTerminal(fd, st))) this.#fd = fd;
    else {
      this.#stream = fs.createWriteStream('', { fd });
      this.#stream.on('error', (err) => this.#fail(err));
    }
  }

  #fail(err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    const why = `${e.code ?? 'EIO'}: ${e.message.split(',')[0]!.replace(/^[A-Z]+: /, '')}`;
    this.#failed ??= new LiveprobeError('EIO', `cannot write ${this.#file}: ${why}`, typeof e.errno === 'number' ? -e.errno : undefined);
    this.#buffer = [];
    this.#bytes = 0;
  }

  #check(): void {
    if (this.#failed) throw this.#failed;
  }

  #scheduled = false;

  async write(line: string): Promise<void> {
    this.#check();
    this.#buffer.push(line, '\n');
    this.#bytes += line.length + 1;
    if (this.#bytes >= 64 * 1024 || this.#stream?.writableNeedDrain) {
      await this.flush();
    } else if (!this.#scheduled) {
      // Lines go out as soon as the consumer waits for the next event.
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#writeBuffered();
      });
    }
  }

  #writeBuffered(): void {
    if (this.#buffer.length === 0) return;
    const chunk = this.#buffer.join('');
    this.#buffer = [];
    this.#bytes = 0;
    if (this.#stream) {
      this.#stream.write(chunk);
      return;
    }
    const bytes = Buffer.from(chunk);
    try {
      for (let off = 0; off < bytes.length; ) off += fs.writeSync(this.#fd, bytes, off);
    } catch (err) {
      this.#fail(err);
    }
  }

  async flush(): Promise<void> {
    this.#check();
    this.#writeBuffered();
    const stream = this.#stream;
    if (stream?.writableNeedDrain) {
      // An error ends the wait too: no drain follows it.
      await new Promise<void>((resolve) => {
        stream.once('drain', resolve);
        stream.once('error', () => resolve());
      });
    }
    this.#check();
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      if (this.#fd >= 0) {
        fs.closeSync(this.#fd);
        this.#fd = -1;
      } else if (this.#stream && this.#stream !== process.stderr) {
        const stream = this.#stream;
        if (!stream.destroyed) await new Promise<void>((resolve) => stream.end(resolve));
      }
    }
  }
}

// Writes lines to stderr or a file, waiting when the destination is full, so
// a slow terminal slows the consumer (and through the credit window, the
// target) instead of buffering without bound.
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { LiveprobeError } from '../errors';

export class LineWriter {
  #stream: Writable;
  #ownsStream: boolean;
  #buffer: string[] = [];
  #bytes = 0;

  constructor(file?: string) {
    if (file === undefined) {
      this.#stream = process.stderr;
      this.#ownsStream = false;
    } else {
      let fd: number;
      try {
        fd = fs.openSync(file, 'w');
      } catch (err) {
        throw new LiveprobeError('ENOENT', `cannot write ${file}: ${(err as Error).message.split(',')[0]}; pick a writable path`);
      }
      this.#stream = fs.createWriteStream('', { fd });
      this.#ownsStream = true;
    }
  }

  #scheduled = false;

  async write(line: string): Promise<void> {
    this.#buffer.push(line, '\n');
    this.#bytes += line.length + 1;
    if (this.#bytes >= 64 * 1024 || this.#stream.writableNeedDrain) {
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
    this.#stream.write(chunk);
  }

  async flush(): Promise<void> {
    this.#writeBuffered();
    if (this.#stream.writableNeedDrain) {
      await new Promise<void>((resolve) => this.#stream.once('drain', resolve));
    }
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.#ownsStream) {
      await new Promise<void>((resolve) => this.#stream.end(resolve));
    }
  }
}

// The CLI's pictures of a session: --report (HTML) and --perfetto (Trace
// Event JSON), fed the same events the CLI prints, written at the end.
import fs from 'node:fs';
import { LiveprobeError } from '../errors';
import type { TraceEvent } from '../events';
import type { Explanation } from '../explain/explain';
import type { AddressSpace } from '../model';
import { renderReport } from './html';
import { PerfettoWriter } from './perfetto';
import { Recorder } from './recorder';

export class Pictures {
  readonly #report: string | undefined;
  readonly #perfetto: PerfettoWriter | undefined;
  readonly #recorder = new Recorder();
  #lastTime = 0;

  /** Opens what it will write now, so a path that cannot be written fails before anything runs. */
  constructor(opts: { report?: string; perfetto?: string }) {
    this.#report = opts.report;
    try {
      if (opts.report) fs.writeFileSync(opts.report, '');
      this.#perfetto = opts.perfetto ? new PerfettoWriter(opts.perfetto) : undefined;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new LiveprobeError('EACCES', `cannot write ${e.path ?? opts.report ?? opts.perfetto}: ${e.code ?? e.message}; give a path you can write`);
    }
  }

  add(ev: TraceEvent, model: AddressSpace | undefined): void {
    const size = model?.seeded ? model.size : undefined;
    this.#lastTime = ev.time;
    this.#recorder.add(ev, size);
    this.#perfetto?.add(ev, size);
  }

  usage(pid: number, rssBytes: number): void {
    this.#recorder.usage(rssBytes);
    this.#perfetto?.usage(pid, this.#lastTime, rssBytes);
  }

  /** Writes the report and closes the trace; `model` is the one the explanation was taken from. */
  close(title: string, e: Explanation | undefined, model: AddressSpace | undefined): void {
    this.#perfetto?.close(e ? [e] : []);
    if (this.#report && e) {
      fs.writeFileSync(this.#report, renderReport([{ title, explanation: e, regions: model?.regions() ?? [], recording: this.#recorder.result() }], `liveprobe: ${title}`));
    }
  }
}

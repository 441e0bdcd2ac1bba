// liveprobe compare: two programs side by side, the article's cgo vs pure-Go
// experiment in one command. Each is explained at --at (then stopped) or at
// its exit_group (its last whole moment).
import fs from 'node:fs';
import { LiveprobeError } from '../errors';
import type { Region } from '../model';
import { renderReport } from '../report/html';
import { type Recording, Recorder } from '../report/recorder';
import type { Explanation } from '../explain/explain';
import { formatComparison, formatExplanation } from '../explain/format';
import { type Session, run } from '../session';
import type { CliOptions } from './args';
import { toJson } from './format-json';

interface Side {
  e: Explanation;
  /** The model's regions when the explanation was taken (for --report). */
  regions: readonly Region[];
  recording: Recording;
}

async function explainOne(argv: string[], atMs: number | undefined): Promise<Side> {
  const session: Session = run(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  const recorder = new Recorder();
  let result: Explanation | undefined;
  let regions: readonly Region[] = [];
  let timer: NodeJS.Timeout | undefined;
  if (atMs !== undefined) {
    void session.ready.then(
      (pid) => {
        timer = setTimeout(() => {
          result = session.explain();
          regions = session.model?.regions() ?? [];
          // The experiment is over: stop the program (it is ours, launched for this).
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }, atMs);
      },
      () => undefined,
    );
  }
  // No explain() when the iterator reaches the exit_group: the batch that
  // carried it has released the held thread, so /proc may be half torn down
  // (no RSS, no hints). The session explained it at the hold (lib/session.ts
  // #holdExplanation); explain() after the loop returns that.
  for await (const ev of session) {
    if (result === undefined) recorder.add(ev, session.models.get(ev.pid)?.size);
  }
  if (timer) clearTimeout(timer);
  await session.exited.catch((err: unknown) => {
    if (err instanceof LiveprobeError) throw err;
  });
  if (!result) {
    result = session.explain();
    regions = session.model?.regions() ?? [];
  }
  if (!result) throw new LiveprobeError('ECHILD', `${argv[0]} ended before liveprobe saw its memory; give it time with --at`);
  return { e: result, regions, recording: recorder.result() };
}

export async function compare(opts: CliOptions): Promise<number> {
  const [a, b] = opts.compare!;
  if (opts.report) fs.writeFileSync(opts.report, ''); // fail before running anything if it cannot be written
  const [sa, sb] = await Promise.all([explainOne(a, opts.atMs), explainOne(b, opts.atMs)]);
  const [ea, eb] = [sa.e, sb.e];
  if (opts.report) {
    fs.writeFileSync(opts.report, renderReport([
      { title: a.join(' '), explanation: ea, regions: sa.regions, recording: sa.recording },
      { title: b.join(' '), explanation: eb, regions: sb.regions, recording: sb.recording },
    ], `liveprobe compare: ${a.join(' ')} vs ${b.join(' ')}`));
  }
  if (opts.json) {
    process.stdout.write(toJson({ type: 'comparison', a: ea, b: eb }) + '\n');
    return 0;
  }
  const labels: [string, string] = [a.join(' '), b.join(' ')];
  process.stdout.write(`${formatComparison(ea, eb, labels)}\n\n--- ${labels[0]}\n${formatExplanation(ea)}\n\n--- ${labels[1]}\n${formatExplanation(eb)}\n`);
  return 0;
}

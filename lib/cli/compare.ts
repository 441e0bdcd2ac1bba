// liveprobe compare: two programs side by side, the article's cgo vs pure-Go
// experiment in one command. Each is explained at --at (then stopped) or at
// its exit_group (its last whole moment).
import { LiveprobeError } from '../errors';
import type { Explanation } from '../explain/explain';
import { formatComparison, formatExplanation } from '../explain/format';
import { type Session, run } from '../session';
import type { CliOptions } from './args';
import { toJson } from './format-json';

async function explainOne(argv: string[], atMs: number | undefined): Promise<Explanation> {
  const session: Session = run(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  let result: Explanation | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (atMs !== undefined) {
    void session.ready.then(
      (pid) => {
        timer = setTimeout(() => {
          result = session.explain();
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
  for await (const ev of session) {
    if (result === undefined && ev.type === 'syscall' && ev.name === 'exit_group' && ev.pid === session.pid) {
      result = session.explain();
    }
  }
  if (timer) clearTimeout(timer);
  await session.exited.catch((err: unknown) => {
    if (err instanceof LiveprobeError) throw err;
  });
  result ??= session.explain();
  if (!result) throw new LiveprobeError('ECHILD', `${argv[0]} ended before liveprobe saw its memory; give it time with --at`);
  return result;
}

export async function compare(opts: CliOptions): Promise<number> {
  const [a, b] = opts.compare!;
  const [ea, eb] = await Promise.all([explainOne(a, opts.atMs), explainOne(b, opts.atMs)]);
  if (opts.json) {
    process.stdout.write(toJson({ type: 'comparison', a: ea, b: eb }) + '\n');
    return 0;
  }
  const labels: [string, string] = [a.join(' '), b.join(' ')];
  process.stdout.write(`${formatComparison(ea, eb, labels)}\n\n--- ${labels[0]}\n${formatExplanation(ea)}\n\n--- ${labels[1]}\n${formatExplanation(eb)}\n`);
  return 0;
}

// Runs a program, prints the findings as they happen, and explains its
// VmSize after a moment:  node dist/examples/explain.js 1.5 ./ex7 -sleep 3s
import { run } from '../lib';
import { formatExplanation } from '../lib/explain/format';

async function main(): Promise<void> {
  const [seconds, file, ...args] = process.argv.slice(2);
  if (!seconds || !file) {
    console.error('usage: node dist/examples/explain.js <seconds> <program> [args...]');
    process.exitCode = 2;
    return;
  }
  const session = run(file, args);
  setTimeout(() => {
    const e = session.explain();
    if (e) console.log(formatExplanation(e));
  }, Number(seconds) * 1000);
  for await (const ev of session) {
    if (ev.type === 'finding') console.log(`>>> ${ev.kind}: ${ev.summary}`);
  }
  console.log('exited:', await session.exited);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

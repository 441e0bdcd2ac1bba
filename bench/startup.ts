// bench/startup: what liveprobe's own start-up costs, next to Node's.
//
// Runs, in turn, round after round: `node -e 0` (Node's own start-up and
// exit) and `liveprobe run -o /dev/null -- /bin/true` (the CLI: load, start
// the tracer, run a program that exits at once, explain it, exit), and prints
// the median wall time of each and the median per-round difference. The
// goal (issue 16 §5): liveprobe at most Node's start-up + 30 ms.
//
//   npm run bench:startup -- [--rounds N]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../test/helpers/fixtures';

function wallMs(cmd: string, args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function main(): void {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
  const rounds = Number(values.rounds);
  const cli = path.join(repoRoot(), 'dist', 'lib', 'cli', 'main.js');
  const node: number[] = [];
  const lp: number[] = [];
  wallMs(process.execPath, [cli, 'run', '-o', '/dev/null', '--', '/bin/true']); // warm the page cache
  for (let i = 0; i < rounds; i++) {
    node.push(wallMs(process.execPath, ['-e', '0']));
    lp.push(wallMs(process.execPath, [cli, 'run', '-o', '/dev/null', '--', '/bin/true']));
  }
  const diff = median(lp.map((x, i) => x - node[i]!));
  console.log(`${rounds} rounds, median wall time:`);
  console.log(`  node -e 0                                   ${median(node).toFixed(1)} ms`);
  console.log(`  liveprobe run -o /dev/null -- /bin/true     ${median(lp).toFixed(1)} ms`);
  console.log(`  liveprobe - node, per round (median)        ${diff.toFixed(1)} ms (goal: at most 30)`);
}

main();

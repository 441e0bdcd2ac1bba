// bench/startup: what liveprobe's own start-up costs, next to Node's.
//
// Runs, in turn, round after round: `node -e 0` (Node's own start-up and
// exit) and `liveprobe run -o /dev/null -- /bin/true` (the CLI: load, start
// the tracer, run a program that exits at once, explain it, exit), and prints
// the median wall and CPU time of each and the median per-round difference
// (CPU: user + system of the whole process tree, which a busy machine
// inflates less than wall time). The
// goal (issue 16 §5): liveprobe at most Node's start-up + 30 ms.
//
//   npm run bench:startup -- [--rounds N] [--cli path/to/dist/lib/cli/main.js]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { clockTicks } from '../lib/model/page';
import { repoRoot } from '../test/helpers/fixtures';

/** CPU ms (user + system) of this process's waited-for children so far: /proc/self/stat's cutime + cstime. */
function childrenCpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[16 - 3]) + Number(f[17 - 3])) * 1000) / clockTicks();
}

/** Wall and CPU time of one run; CPU (the whole tree's) varies less than wall on a busy machine. */
function measure(cmd: string, args: string[]): { wall: number; cpu: number } {
  const c = childrenCpuMs();
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return { wall: Number(process.hrtime.bigint() - t) / 1e6, cpu: childrenCpuMs() - c };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function main(): void {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' }, cli: { type: 'string' } } });
  const rounds = Number(values.rounds);
  // --cli: another build's CLI, for before/after figures.
  const cli = values.cli ?? path.join(repoRoot(), 'dist', 'lib', 'cli', 'main.js');
  const cliArgs = [cli, 'run', '-o', '/dev/null', '--', '/bin/true'];
  const node: { wall: number; cpu: number }[] = [];
  const lp: { wall: number; cpu: number }[] = [];
  measure(process.execPath, cliArgs); // warm the page cache
  for (let i = 0; i < rounds; i++) {
    node.push(measure(process.execPath, ['-e', '0']));
    lp.push(measure(process.execPath, cliArgs));
  }
  const row = (label: string, xs: { wall: number; cpu: number }[]) =>
    `  ${label.padEnd(44)} ${median(xs.map((x) => x.wall)).toFixed(1).padStart(7)} ${median(xs.map((x) => x.cpu)).toFixed(0).padStart(7)}`;
  const diff = lp.map((x, i) => ({ wall: x.wall - node[i]!.wall, cpu: x.cpu - node[i]!.cpu }));
  console.log(`${cli}: ${rounds} rounds, medians in ms (CPU counted in ${1000 / clockTicks()} ms ticks):`);
  console.log(`  ${''.padEnd(44)} ${'wall'.padStart(7)} ${'cpu'.padStart(7)}`);
  console.log(row('node -e 0', node));
  console.log(row('liveprobe run -o /dev/null -- /bin/true', lp));
  console.log(row('liveprobe - node, per round (goal: <= 30)', diff));
}

main();

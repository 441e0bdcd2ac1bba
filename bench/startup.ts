// bench/startup: what liveprobe's own start-up costs, next to Node's.
//
// Runs, in turn, round after round: `node -e 0` (Node's own start-up and
// exit) and `liveprobe run -o /dev/null -- /bin/true` with the file
// package.json's bin runs (tools/bundle-cli.mjs's one file) and with tsc's
// dist/lib/cli/main.js (the CLI: load, start
// the tracer, run a program that exits at once, explain it, exit), and prints
// the median wall and CPU time of each and the median per-round difference
// (CPU: user + system of the whole process tree, which a busy machine
// inflates less than wall time). The
// goal (issue 16 §5): liveprobe at most Node's start-up + 30 ms.
//
//   npm run bench:startup -- [--rounds N] [--cli path/to/cli.js]...
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

type Times = { wall: number; cpu: number };

/** Wall and CPU time of one run; CPU (the whole tree's) varies less than wall on a busy machine. */
function measure(cmd: string, args: string[]): Times {
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
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '15' }, cli: { type: 'string', multiple: true } },
  });
  const rounds = Number(values.rounds);
  // By default the two forms of this build: the file package.json's bin runs
  // (tools/bundle-cli.mjs's one file) and tsc's dist/lib/cli/main.js; --cli
  // (repeatable) measures other builds the same way, for before/after figures.
  const root = repoRoot();
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const clis = values.cli ?? [path.join(root, pkg.bin.liveprobe!), path.join(root, 'dist', 'lib', 'cli', 'main.js')];
  const runs = clis.map((cli) => ({ cli, args: [cli, 'run', '-o', '/dev/null', '--', '/bin/true'], times: [] as Times[] }));
  const node: Times[] = [];
  for (const r of runs) measure(process.execPath, r.args); // warm the page cache
  for (let i = 0; i < rounds; i++) {
    node.push(measure(process.execPath, ['-e', '0']));
    for (const r of runs) r.times.push(measure(process.execPath, r.args));
  }
  const row = (label: string, xs: Times[], digits = [1, 0]) =>
    `  ${label.padEnd(56)} ${median(xs.map((x) => x.wall)).toFixed(digits[0]).padStart(7)} ${median(xs.map((x) => x.cpu)).toFixed(digits[1]).padStart(7)}`;
  console.log(`${rounds} rounds, medians in ms (CPU counted in ${1000 / clockTicks()} ms ticks):`);
  console.log(`  ${''.padEnd(56)} ${'wall'.padStart(7)} ${'cpu'.padStart(7)}`);
  console.log(row('node -e 0', node));
  for (const r of runs) {
    const diff = r.times.map((x, i) => ({ wall: x.wall - node[i]!.wall, cpu: x.cpu - node[i]!.cpu }));
    console.log(`${path.relative(root, r.cli) || r.cli}:`);
    console.log(row('run -o /dev/null -- /bin/true', r.times));
    console.log(row('minus node -e 0, per round (goal: <= 30)', diff));
    const ratio = r.times.map((x, i) => ({ wall: x.wall / node[i]!.wall, cpu: x.cpu / node[i]!.cpu }));
    console.log(row('ratio to node -e 0, per round', ratio, [2, 2]));
  }
}

main();

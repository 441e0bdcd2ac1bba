// bench/live: what --live costs liveprobe itself. The same ex7 run (it sleeps
// 12 s after making its threads) traced in a tmux terminal with and without
// --live; liveprobe's own CPU (utime + stime from /proc) over the quiet 8 s
// in the middle, as a percentage of one CPU. The difference is the view's
// redraw once a second.
//
//   npm run build:ts && node dist/bench/live.js [--rounds 3]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fixture, repoRoot } from '../test/helpers/fixtures';

const CLK_TCK = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(x[11]) + Number(x[12]);
}

/** The node process running liveprobe in the tmux session. */
function liveprobePid(): number | undefined {
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('cli/main.js')) && cmd.includes('bench-live')) return Number(p);
    } catch {
      // gone
    }
  }
  return undefined;
}

async function once(live: boolean): Promise<number> {
  const cli = path.join(repoRoot(), 'dist', 'lib', 'cli', 'main.js');
  const ex7 = await fixture('ex7');
  const args = ['run', ...(live ? ['--live'] : []), '--no-summary', '-o', '/dev/null', '--', ex7, '-sleep', '12s', 'bench-live'];
  execFileSync('tmux', ['new-session', '-d', '-s', 'bench-live', '-x', '120', '-y', '40', [process.execPath, cli, ...args].join(' ')]);
  try {
    let pid: number | undefined;
    while ((pid = liveprobePid()) === undefined) await sleep(50);
    await sleep(2000);
    const t0 = cpuTicks(pid);
    await sleep(8000);
    return ((cpuTicks(pid) - t0) / CLK_TCK / 8) * 100;
  } finally {
    execFileSync('tmux', ['kill-session', '-t', 'bench-live']);
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--rounds');
  const rounds = i > 0 ? Number(process.argv[i + 1]) : 3;
  const plain: number[] = [];
  const live: number[] = [];
  for (let r = 0; r < rounds; r++) {
    plain.push(await once(false));
    live.push(await once(true));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`liveprobe's CPU while ex7 sleeps (% of one CPU, median of ${rounds}): without --live ${med(plain).toFixed(2)}, with --live ${med(live).toFixed(2)} [${live.map((x) => x.toFixed(2)).join(' ')}]`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

// bench/watch: what `liveprobe watch` costs, side by side in one run.
//
// 1. The watched program: the syscall-heavy loads of bench/overhead.ts (Go
//    and C, their own wall time from their stdin gate), untraced and while a
//    `liveprobe watch --interval 1s` looks at them, alternately, round after
//    round; the median ratio per load.
// 2. liveprobe's own CPU per process per look: Watcher.round() on one
//    process, a memory-churning Go program (many mappings) and the
//    cgo ratchet fixture, process.cpuUsage() around many looks.
// 3. --all over N processes (default 100 ratchet fixtures) at 1 s:
//    liveprobe's CPU per round and its RSS.
// 4. A compressed soak: --all every 100 ms for --soak seconds (default 60)
//    while fixture processes come and go: liveprobe's RSS at the start and
//    the end, and every live process sampled in every round.
//
//   npm run build:ts && node dist/bench/watch.js [--rounds 5] [--procs 100] [--soak 60]
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fixture, repoRoot } from '../test/helpers/fixtures';
import { Watcher } from '../lib/watch/watcher';

function option(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => child.on('close', (code) => r(code)));
}

/** One gated run of a load: its own wall time; with a watch on it when `watched`. */
async function gatedRun(argv: string[], watched: boolean): Promise<number> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  let watch: ChildProcess | undefined;
  if (watched) {
    watch = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'lib', 'cli', 'main.js'), 'watch', '--interval', '1s', String(child.pid)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // Released once the watch has taken its first look (its first line).
    await new Promise<void>((r) => watch!.stderr!.once('data', () => r()));
  }
  child.stdin!.end('g');
  const code = await exited(child);
  if (watch) await exited(watch);
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}`);
  const m = /elapsed_ms ([\d.]+)/.exec(out);
  if (!m) throw new Error(`no elapsed_ms in ${out}`);
  return Number(m[1]);
}

async function startRatchet(threads: number): Promise<ChildProcess> {
  const p = spawn(await fixture('ratchet'), ['-mib', '1'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    p.stdout!.on('data', (c: string) => {
      out += c;
      if (out.includes(`thread ${threads} ready`)) resolve();
    });
    p.stdin!.write('t\n'.repeat(threads));
  });
  return p;
}

function cpuMs(f: () => void): number {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

async function main(): Promise<void> {
  const rounds = option('--rounds', 5);
  const procs = option('--procs', 100);
  const soakS = option('--soak', 60);

  console.log('1. the watched program, wall time vs untraced (median of per-round ratios), watch --interval 1s');
  for (const [label, name] of [['Go', 'sysload'], ['C', 'sysload-c']] as const) {
    const argv = [await fixture(name), '-ops', '300000', '-work', '7500', '-gate'];
    const ratios: number[] = [];
    const base: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const u = await gatedRun(argv, false);
      const w = await gatedRun(argv, true);
      base.push(u);
      ratios.push(w / u);
    }
    console.log(`   ${label} syscall load (untraced ${(median(base) / 1000).toFixed(2)} s): watched ${median(ratios).toFixed(3)}x  [${ratios.map((x) => x.toFixed(3)).join(' ')}]`);
  }

  console.log("2. liveprobe's CPU per process per look (Watcher.round on one process, 50 looks)");
  for (const [label, start] of [
    ['memchurn (Go, churning mappings)', async () => {
      const p = spawn(await fixture('memchurn'), ['-workers', '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((r) => p.stdout!.once('data', () => r()));
      return p;
    }],
    ['ratchet (cgo, 8 C threads and their arenas)', () => startRatchet(8)],
  ] as const) {
    const p = await start();
    const w = new Watcher({ pids: [p.pid!] });
    w.round(); // binary facts, read once per process
    const ms = cpuMs(() => {
      for (let i = 0; i < 50; i++) w.round();
    });
    const regions = w.round().samples[0]?.explanation.classes.reduce((n, c) => n + c.count, 0) ?? 0;
    console.log(`   ${label}: ${(ms / 50).toFixed(2)} ms CPU per look (${regions} allocations classified)`);
    p.kill('SIGKILL');
  }

  console.log(`3. --all over ${procs} ratchet processes, one look a second`);
  const many: ChildProcess[] = [];
  for (let i = 0; i < procs; i++) many.push(await startRatchet(2));
  const all = new Watcher({ all: true });
  all.round();
  const perRound: number[] = [];
  let seen = 0;
  for (let i = 0; i < 5; i++) {
    perRound.push(cpuMs(() => (seen = all.round().samples.filter((s) => many.some((p) => p.pid === s.pid)).length)));
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.log(
    `   ${seen} of ${procs} watched; CPU per round ${median(perRound).toFixed(0)} ms = ${(median(perRound) / 10).toFixed(1)}% of one CPU at 1 s; ` +
      `RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
  for (const p of many) p.kill('SIGKILL');

  console.log(`4. soak: --all every 100 ms for ${soakS} s while processes come and go`);
  const live = new Map<number, ChildProcess>();
  const soak = new Watcher({ all: true });
  let missed = 0;
  let looks = 0;
  let rssStart = 0;
  const t0 = performance.now();
  for (let i = 0; performance.now() - t0 < soakS * 1000; i++) {
    if (i % 10 === 0) {
      // Every second one process goes and another comes.
      const p = await startRatchet(1);
      live.set(p.pid!, p);
      if (live.size > 5) {
        const [pid, old] = live.entries().next().value as [number, ChildProcess];
        old.kill('SIGKILL');
        await exited(old);
        live.delete(pid);
      }
    }
    const r = soak.round();
    looks++;
    const sampled = new Set(r.samples.map((s) => s.pid));
    for (const pid of live.keys()) if (!sampled.has(pid)) missed++;
    if (i === 20) rssStart = process.memoryUsage().rss;
    await new Promise((res) => setTimeout(res, 100));
  }
  console.log(
    `   ${looks} looks; live fixture processes not sampled in a look: ${missed}; ` +
      `liveprobe RSS ${(rssStart / 2 ** 20).toFixed(0)} MiB after 2 s, ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB at the end`,
  );
  for (const p of live.values()) p.kill('SIGKILL');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

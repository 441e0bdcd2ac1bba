// strace's habits in the CLI (issue 16 §3) and the explanation on demand
// (§2): each behaviour against the real addon and real fixtures.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseArgs } from '../lib/cli/args';
import { fixture } from './helpers/fixtures';
import { LineReader, untilSettled } from './helpers/ready';
import { until } from './helpers/reliability';
import { STRACE } from './helpers/strace';
import { cliPath, runCli, runCliReleasing, sleep, startUnderShell } from './helpers/trace';

const T = { timeout: 120_000 };

/** The rows of an strace -c table: name → [calls, errors]. */
function countRows(table: string): Map<string, [number, number]> {
  const rows = new Map<string, [number, number]>();
  for (const l of table.split('\n')) {
    const m = /^ *\d+\.\d\d +\d+\.\d{6} +\d+ +(\d+) ([ \d]{9}) (\S+)$/.exec(l);
    if (m) rows.set(m[3]!, [Number(m[1]), Number(m[2]!.trim() || 0)]);
  }
  return rows;
}

/** The -c table's memory-class part: its header, its rule, and its rows: class → [kB held, kB gained]. */
const CLASS_HEAD = (since: string) => `${'memory class'.padEnd(22)} ${'kB'.padStart(11)} ${`gained since ${since}`.padStart(19)}`;
const CLASS_RULE = `${'-'.repeat(22)} ${'-'.repeat(11)} ${'-'.repeat(19)}`;
function classRows(table: string): { rows: Map<string, [number, number]>; vmSize: [number, number] } {
  const rows = new Map<string, [number, number]>();
  let vmSize: [number, number] = [NaN, NaN];
  const lines = table.split('\n');
  for (const l of lines.slice(lines.findIndex((x) => x.startsWith('memory class ')) + 2)) {
    const m = /^(\S+(?: \(VmSize\))?) +(\d+) +([+-]?\d+)$/.exec(l);
    if (!m) continue;
    const v: [number, number] = [Number(m[2]), Number(m[3])];
    if (m[1] === 'total (VmSize)') vmSize = v;
    else rows.set(m[1]!, v);
  }
  return { rows, vmSize };
}

const tmp = (name: string) => path.join(os.tmpdir(), `liveprobe-habits-${process.pid}-${name}`);

describe('strace habits', () => {
  test('-c -f on the syscalls fixture: the calls and errors columns equal strace -c -f, row for row', T, async () => {
    const bin = await fixture('syscalls');
    const ours = tmp('c.txt');
    const theirs = tmp('strace-c.txt');
    try {
      const r = await runCli(['run', '-c', '-f', '-o', ours, '--', bin]);
      assert.equal(r.code, 0, r.stderr);
      await new Promise<void>((resolve, reject) =>
        spawn(STRACE, ['-c', '-f', '-o', theirs, bin], { stdio: 'ignore' }).on('close', (c) => (c === 0 ? resolve() : reject(new Error(`strace ${c}`)))),
      );
      const a = fs.readFileSync(ours, 'utf8');
      const b = fs.readFileSync(theirs, 'utf8');
      const lines = a.trimEnd().split('\n');
      assert.equal(lines[0], '% time     seconds  usecs/call     calls    errors syscall');
      assert.equal(lines[1], '------ ----------- ----------- --------- --------- ----------------');
      const total = lines.findIndex((l) => l.endsWith(' total'));
      assert.equal(lines[total - 1], lines[1]);
      // Beside it, the memory classes the calls left, adding up to VmSize, and what each gained since the start.
      assert.deepEqual(lines.slice(total + 1, total + 4), ['', CLASS_HEAD('start'), CLASS_RULE]);
      const { rows, vmSize } = classRows(a);
      assert.equal([...rows.values()].reduce((x, [kb]) => x + kb, 0), vmSize[0]);
      assert.equal([...rows.values()].reduce((x, [, gain]) => x + gain, 0), vmSize[1]);
      // futex is the one call whose count is the scheduler's, not the
      // fixture's (glibc's locks contend or not, run to run): left out;
      // every other row, and the total without it, exactly.
      const steady = (t: string) => {
        const rows = countRows(t);
        const futex = rows.get('futex') ?? [0, 0];
        const total = rows.get('total')!;
        rows.delete('futex');
        rows.set('total', [total[0] - futex[0], total[1] - futex[1]]);
        return [...rows].sort();
      };
      assert.deepEqual(steady(a), steady(b));
      assert.ok(countRows(a).get('total')![0] > 100 && countRows(a).get('clone3')![1] > 0);
    } finally {
      fs.rmSync(ours, { force: true });
      fs.rmSync(theirs, { force: true });
    }
  });

  test('-c: what each memory class gained since the start (3 pthreads: +3 stacks and guards) and since an attach (a sleeping process: nothing)', T, async () => {
    const threads = await fixture('threads');
    const out = tmp('c-gain.txt');
    try {
      const r = await runCli(['run', '-c', '-o', out, '--', threads, '-n', '3']);
      assert.equal(r.code, 0, r.stderr);
      const text = fs.readFileSync(out, 'utf8');
      assert.ok(text.includes(`\n\n${CLASS_HEAD('start')}\n${CLASS_RULE}\n`), text);
      const { rows, vmSize } = classRows(text);
      // glibc's stacks are RLIMIT_STACK each (8 MiB here when ulimit -s is 8192), each with a 4 KiB guard; they stay cached after the joins.
      const stackKb = Number(/^Max stack size\s+(\d+)\s/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))![1]) / 1024;
      assert.deepEqual(rows.get('pthread-stack'), [3 * stackKb, 3 * stackKb]);
      assert.deepEqual(rows.get('guard-page'), [12, 12]);
      // What the exec made is still there, neither more nor less.
      assert.equal(rows.get('main-stack')![1], 0);
      assert.equal(rows.get('vdso-vvar')![1], 0);
      assert.equal([...rows.values()].reduce((x, [, gain]) => x + gain, 0), vmSize[1]);
      assert.ok(vmSize[0] - vmSize[1] > 0 && vmSize[0] - vmSize[1] < vmSize[0]);
      // The same with --json: the counts line carries the classes in bytes.
      const j = await runCli(['run', '-c', '--json', '-o', out, '--', threads, '-n', '3']);
      assert.equal(j.code, 0, j.stderr);
      const line = fs.readFileSync(out, 'utf8').split('\n').find((l) => l.startsWith('{"type":"counts"'))!;
      const counts = JSON.parse(line) as { since: string; classes: { class: string; bytes: string; gainedBytes: string }[]; vmSizeBytes: string; gainedBytes: string };
      const gained = new Map(counts.classes.map((c) => [c.class, BigInt(c.gainedBytes)]));
      assert.equal(counts.since, 'start');
      assert.deepEqual([gained.get('pthread-stack'), gained.get('guard-page'), gained.get('main-stack')], [BigInt(3 * stackKb) * 1024n, 12288n, 0n]);
      assert.equal([...gained.values()].reduce((x, g) => x + g, 0n), BigInt(counts.gainedBytes));
      assert.ok(BigInt(counts.vmSizeBytes) > BigInt(counts.gainedBytes));
    } finally {
      fs.rmSync(out, { force: true });
    }
    // exitwith -sleep-ms: it sleeps and makes no memory while attached.
    const target = await startUnderShell(await fixture('exitwith'), ['code', '0', '-sleep-ms', '60000']);
    try {
      const a = await runCli(['attach', '-c', '--duration', '300ms', String(target.pid)]);
      assert.equal(a.code, 0, a.stderr);
      assert.ok(a.stderr.includes(`\n\n${CLASS_HEAD('attach')}\n${CLASS_RULE}\n`), a.stderr);
      const { rows, vmSize } = classRows(a.stderr);
      assert.ok(rows.size >= 4);
      for (const [cls, [, gain]] of rows) assert.equal(gain, 0, cls);
      assert.equal(vmSize[1], 0);
    } finally {
      target.kill();
    }
  });

  test('-e trace=%class for every class strace 6.1 knows: the same calls, as many times, as strace -f -e trace=%class', T, async () => {
    // bash is what npm test's own preflight runs in (tools/test-prereqs.sh): always there.
    assert.ok(fs.existsSync('/bin/bash'), 'needs bash for /dev/tcp');
    const bin = await fixture('syscalls');
    // Files, descriptors, a refused TCP connect, credentials, a signal, stat
    // and statfs, and the fixture's SysV IPC and memory calls.
    const script = `exec 3<>/dev/tcp/127.0.0.1/1; ls -l / >/dev/null; id >/dev/null; kill -0 $$; stat / >/dev/null; df / >/dev/null; ${bin} >/dev/null; true`;
    const ours = tmp('class.txt');
    const theirs = tmp('strace-class.txt');
    const tally = (text: string, re: RegExp) => {
      const n = new Map<string, number>();
      for (const l of text.split('\n')) {
        const m = re.exec(l);
        if (m) n.set(m[1]!, (n.get(m[1]!) ?? 0) + 1);
      }
      return [...n].sort();
    };
    try {
      for (const cls of ['%file', '%desc', '%network', '%signal', '%ipc', '%creds', '%clock', '%pure', '%stat', '%lstat', '%fstat', '%%stat', '%statfs', '%fstatfs', '%%statfs', '%memory', '%process']) {
        const r = await runCli(['run', '-f', '-o', ours, '-e', `trace=${cls}`, '--', '/bin/bash', '-c', script]);
        assert.equal(r.code, 0, r.stderr);
        // The same stdio as the CLI's target (runCli): bash and ls ask isatty of each.
        await new Promise<void>((resolve) => {
          const c = spawn(STRACE, ['-f', '-o', theirs, '-e', `trace=${cls}`, '/bin/bash', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
          c.stdout.resume();
          c.stderr.resume();
          c.on('close', () => resolve());
        });
        const a = tally(fs.readFileSync(ours, 'utf8'), /^\[pid +\d+\] ([a-z_0-9]+)\(/);
        const b = tally(fs.readFileSync(theirs, 'utf8'), /^\d+ +([a-z_0-9]+)\(/);
        assert.deepEqual(a, b, cls);
        if (['%file', '%desc', '%network', '%signal', '%ipc', '%creds', '%pure', '%memory', '%process'].includes(cls)) assert.ok(a.length > 0, `${cls} saw calls`);
      }
    } finally {
      fs.rmSync(ours, { force: true });
      fs.rmSync(theirs, { force: true });
    }
  });

  test('-tt -T, -ttt, -r: times as strace prints them', T, async () => {
    const bin = await fixture('exitwith');
    const tt = await runCli(['run', '-tt', '-T', '--', bin, 'code', '0']);
    assert.equal(tt.code, 0);
    const mmap = tt.stderr.split('\n').find((l) => / mmap\(NULL, /.test(l))!;
    assert.match(mmap, /^\[pid +\d+\] \d\d:\d\d:\d\d\.\d{6} mmap\(NULL, .*\) = 0x[0-9a-f]+ <\d+\.\d{6}>$/);
    assert.match(tt.stderr, /^\[pid +\d+\] \d\d:\d\d:\d\d\.\d{6} exit_group\(0\) = \?$/m, 'no <time> for a call that never returns');
    const ttt = await runCli(['run', '-ttt', '--', bin, 'code', '0']);
    const now = Date.now() / 1000;
    const stamp = Number(/^\[pid +\d+\] (\d+\.\d{6}) mmap\(/m.exec(ttt.stderr)![1]);
    assert.ok(stamp > now - 60 && stamp <= now, `${stamp} is seconds since the epoch`);
    const rel = await runCli(['run', '-r', '--', bin, 'code', '0']);
    const first = rel.stderr.split('\n')[0]!;
    assert.match(first, /^\[pid +\d+\]      0\.000000 /);
    assert.ok(rel.stderr.split('\n').filter(Boolean).every((l) => /^\[pid +\d+\] +\d+\.\d{6} /.test(l)), rel.stderr);
  });

  test('options anywhere, -p PID: attach 1234 --duration 1, -p 1234 --duration 300ms', T, async () => {
    const target = await startUnderShell(await fixture('exitwith'), ['code', '0', '-sleep-ms', '60000']);
    try {
      for (const args of [['attach', String(target.pid), '--duration', '0.3', '--no-summary'], ['-p', String(target.pid), '--duration', '300ms', '--no-summary']]) {
        const r = await runCli(args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        const lines = r.stderr.trimEnd().split('\n');
        assert.match(lines[0]!, new RegExp(`^\\[pid +${target.pid}\\] \\+\\+\\+ attached \\(process ${target.pid}\\) \\+\\+\\+$`));
        assert.equal(lines.at(-1), `[pid ${String(target.pid).padStart(6)}] +++ detached from process ${target.pid} +++`);
      }
    } finally {
      target.kill();
    }
  });

  test('times take a unit as compare --at does; --duration 0 is refused with the reason; run keeps the program\'s own options', () => {
    assert.equal(parseArgs(['run', '--duration', '1s', 'x']).durationMs, 1000);
    assert.equal(parseArgs(['run', '--duration', '250ms', 'x']).durationMs, 250);
    assert.equal(parseArgs(['run', '--duration', '1.5', 'x']).durationMs, 1500);
    assert.equal(parseArgs(['compare', '--at', '2s', '--', 'a', '---', 'b']).atMs, 2000);
    assert.equal(parseArgs(['attach', '--every', '10s', '1']).everyMs, 10_000);
    assert.throws(() => parseArgs(['run', '--duration', '0', 'x']), {
      message: '--duration 0 would detach before anything is traced; give a time above 0, or leave it out to trace until the target exits',
    });
    const r = parseArgs(['run', '-f', '-tt', './prog', '-p', '3', '--duration', '1']);
    assert.deepEqual([r.command, r.file, r.args, r.followForks, r.timestamps, r.durationMs], ['run', './prog', ['-p', '3', '--duration', '1'], true, 2, undefined]);
    assert.deepEqual([parseArgs(['-p', '42']).command, parseArgs(['-p', '42']).pid], ['attach', 42]);
    assert.deepEqual([parseArgs(['-c', '/bin/true']).command, parseArgs(['-c', '/bin/true']).counts], ['run', 'only']);
    assert.equal(parseArgs(['run', '-C', 'x']).counts, 'both');
  });
});

describe('the explanation on demand', () => {
  /**
   * liveprobe run -o FILE ...args -- ex7 -ready (its stdout is liveprobe's):
   * once ex7 says ready, SIGUSR1 to liveprobe if poke; once the trace shows
   * what enough() waits for, SIGUSR1 to ex7, which then exits.
   */
  async function explanations(args: string[], poke: boolean, enough: (text: string) => boolean): Promise<{ lines: string[]; text: string }> {
    const out = tmp('on-demand.txt');
    const child = spawn(process.execPath, [cliPath(), 'run', '-o', out, ...args, '--', await fixture('ex7'), '-ready'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    const lines = new LineReader(child.stdout);
    await lines.next(/^ready$/);
    const written = () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '');
    await until(() => /"pid":\d+|process \d+/.test(written()), 'the target in the trace');
    const pid = Number(/"pid":(\d+)|process (\d+)/.exec(written())!.slice(1).find(Boolean));
    // Asked while the runtime still starts Ms, the model would lag /proc by the arena being made.
    await untilSettled(pid, lines);
    if (poke) child.kill('SIGUSR1');
    await until(() => enough(written()), 'the explanations in the trace', 30_000);
    process.kill(pid, 'SIGUSR1');
    assert.equal(await closed, 0);
    const text = fs.readFileSync(out, 'utf8');
    fs.rmSync(out, { force: true });
    return { lines: text.split('\n'), text };
  }

  test('kill -USR1 <liveprobe>: the explanation now, the trace goes on (text)', T, async () => {
    const { lines, text } = await explanations([], true, (t) => t.includes('=== liveprobe: why process'));
    const heads = lines.filter((l) => /^=== liveprobe: why process \d+ has this much virtual memory ===$/.test(l));
    assert.equal(heads.length, 1, text);
    const at = lines.indexOf(heads[0]!);
    assert.match(lines[at + 1]!, /^VmSize (\d+) kB \(\/proc\/\d+\/status\), model \1 kB$/);
    assert.ok(lines.slice(at).some((l) => / exit_group\(0\) = \?$/.test(l)), 'the trace goes on after it');
  });

  test('--json --every 300ms: explanation objects while tracing, and the last at the exit equal to VmSize', T, async () => {
    const { lines } = await explanations(['--json', '--every', '300ms'], false, (t) => t.split('"type":"explanation"').length > 2);
    const objs = lines.filter(Boolean).map((l) => JSON.parse(l) as { type: string; vmSizeKb: number | null; modelKb: number });
    const ex = objs.filter((o) => o.type === 'explanation');
    assert.ok(ex.length >= 3, `${ex.length} explanations: at least 2 while tracing and 1 at exit`);
    for (const e of ex) assert.ok(e.vmSizeKb! > 0 && e.modelKb > 0, 'each read /proc while the target was alive');
    assert.equal(objs.at(-1)!.type, 'explanation', 'and the last one at the exit');
    assert.equal(ex.at(-1)!.vmSizeKb, ex.at(-1)!.modelKb, 'at exit_group the model adds up to VmSize');
  });
});

describe("what the newcomer tripped on", () => {
  test('attach --findings --no-summary: the attach and detach lines and the number of findings, not silence', T, async () => {
    const target = await startUnderShell(await fixture('exitwith'), ['code', '0', '-sleep-ms', '60000']);
    try {
      const r = await runCli(['attach', '--findings', '--no-summary', '--duration', '300ms', String(target.pid)]);
      assert.equal(r.code, 0, r.stderr);
      const who = `[pid ${String(target.pid).padStart(6)}]`;
      assert.equal(r.stderr, `${who} +++ tracing 1 thread of process ${target.pid} +++\n${who} +++ detached from process ${target.pid} +++\nliveprobe: 0 findings\n`);
    } finally {
      target.kill();
    }
  });

  test('run --duration: says what it waits for after the detach', T, async () => {
    const r = await runCliReleasing(['run', '--findings', '--no-summary', '--duration', '300ms', '--', await fixture('ex7'), '-ready'], /detached from process/);
    assert.equal(r.code, 0, r.stderr);
    // Go's preemption may or may not have sent a SIGURG in that time: its count line comes last when it did.
    const all = r.stderr.trimEnd().split('\n').filter((l) => !l.includes('>>>'));
    const hidden = all.filter((l) => l.startsWith('liveprobe: not shown: '));
    for (const l of hidden) assert.match(l, /^liveprobe: not shown: \d+ SIGURG the process sent its own threads \(Go's preemption; delivered as usual\) and the tgkill calls that sent them; --preemption shows them$/);
    assert.ok(hidden.length <= 1 && (hidden.length === 0 || all.at(-1) === hidden[0]), all.join('\n'));
    const lines = all.filter((l) => !hidden.includes(l));
    const pid = /process (\d+) \+\+\+$/.exec(lines[0]!)![1];
    assert.deepEqual(lines.slice(1), [
      `[pid ${pid!.padStart(6)}] +++ detached from process ${pid} +++`,
      `liveprobe: detached; process ${pid} keeps liveprobe's seccomp filter, so liveprobe stays to let its traced syscalls through until it exits (nothing more is reported)`,
      /^liveprobe: (1 finding|\d+ findings)$/.exec(lines.at(-1)!)?.[0],
    ]);
  });

  test('a thread made by clone3 says clone3: "+++ started by clone3", JSON "call":"clone3" (how stays ptrace\'s event)', T, async () => {
    const ex7 = await fixture('ex7');
    const text = await runCli(['run', '--', ex7, '-sleep', '10ms']);
    const started = text.stderr.split('\n').filter((l) => l.includes('+++ started by'));
    assert.ok(started.length >= 3, text.stderr);
    for (const l of started) assert.match(l, /^\[pid +\d+\] \+\+\+ started by clone3 from \d+ \(process \d+\) \+\+\+$/);
    const json = await runCli(['run', '--json', '--', ex7, '-sleep', '10ms']);
    const starts = json.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.type === 'thread-start');
    assert.ok(starts.length >= 3);
    for (const o of starts) assert.deepEqual([o.how, o.call], ['clone', 'clone3']);
  });

  test('-o FILE at a terminal: the trace goes to the file, the summary to the terminal', T, async () => {
    // script(1) is Debian's essential bsdutils: always there.
    assert.ok(fs.existsSync('/usr/bin/script'), 'needs script(1) for a terminal');
    const out = tmp('o-terminal.txt');
    try {
      // script(1) gives liveprobe a pseudo-terminal as stdin/stdout/stderr.
      const r = await new Promise<{ code: number | null; text: string }>((resolve) => {
        const c = spawn('/usr/bin/script', ['-qec', `${process.execPath} ${cliPath()} run -o ${out} -- /bin/true`, '/dev/null'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let text = '';
        c.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
        c.on('close', (code) => resolve({ code, text }));
      });
      assert.equal(r.code, 0);
      const lines = r.text.replace(/\r/g, '').split('\n');
      const at = lines.findIndex((l) => /^=== liveprobe: why process \d+ has this much virtual memory ===$/.test(l));
      assert.ok(at >= 0, r.text);
      assert.match(lines[at + 1]!, /^VmSize (\d+) kB \(\/proc\/\d+\/status\), model \1 kB$/);
      assert.equal(lines[at + 2], 'binary: not a Go binary (links glibc)');
      const trace = fs.readFileSync(out, 'utf8');
      assert.match(trace, /^\[pid +\d+\] exit_group\(0\) = \?$/m);
      assert.ok(!trace.includes('=== liveprobe'), 'the summary is not in the trace file');
    } finally {
      fs.rmSync(out, { force: true });
    }
  });

  test('Ctrl-C in run: the exit code is the target\'s (0 when it exits 0 on SIGINT), run as the README says', T, async () => {
    const child = spawn(process.execPath, [cliPath(), 'run', '-o', '/dev/null', '--', '/bin/sh', '-c', 'trap "exit 0" INT; echo up; while :; do sleep 0.1; done'], {
      stdio: ['ignore', 'pipe', 'ignore'], detached: true,
    });
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    await sleep(100);
    process.kill(-child.pid!, 'SIGINT'); // the terminal's Ctrl-C: the whole foreground group
    assert.equal(await closed, 0);
  });

  test('--json starts with a header that states the time unit and its zero', T, async () => {
    const before = Date.now();
    const r = await runCli(['run', '--json', '--', '/bin/true']);
    assert.equal(r.code, 0);
    const lines = r.stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual(Object.keys(lines[0]!), ['type', 'version', 'timeUnit', 'timeZero']);
    assert.deepEqual([lines[0]!.type, lines[0]!.version, lines[0]!.timeUnit], ['header', version, 'ms']);
    const zero = lines[0]!.timeZero as number;
    assert.ok(zero >= before - 1000 && zero <= Date.now(), `${zero}`);
    const exit = lines.find((l) => l.type === 'syscall' && l.name === 'exit_group')!;
    assert.ok((exit.time as number) > 0 && zero + (exit.time as number) <= Date.now());
  });

  test('attach to a kernel thread: says so, not "a security module"', T, async () => {
    // Any kernel thread this pid namespace shows (PF_KTHREAD in /proc/PID/stat's flags): pid 2, kthreadd, on a host.
    const PF_KTHREAD = 0x00200000;
    const kthread = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        return { pid, comm, flags: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]) };
      } catch {
        return undefined;
      }
    }).find((p) => p !== undefined && (p.flags & PF_KTHREAD) !== 0);
    assert.ok(kthread, 'a kernel thread to attach to');
    const r = await runCli(['attach', kthread.pid]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `liveprobe: process ${kthread.pid} (${kthread.comm}) is a kernel thread, which cannot be traced: it has no user-space memory or syscalls\n`);
  });

  test('one arena: "1 glibc malloc arena heap reserves 64 MiB", and the arena limit reached (MALLOC_ARENA_MAX=2)', T, async () => {
    const { run } = await import('../lib');
    const session = run(await fixture('ex7'), ['-sleep', '300ms'], { stdio: 'ignore', env: { ...process.env, MALLOC_ARENA_MAX: '2' } });
    for await (const _ of session) void _;
    const e = session.explain()!;
    assert.ok(e.hints.includes('MALLOC_ARENA_MAX=2 is set: glibc makes at most 2 arenas (main arena included).'), e.hints.join('\n'));
    assert.match(e.hints[0]!, /^VmSize is not RSS: 1 glibc malloc arena heap reserves 64 MiB of address space, \d+ KiB resident; reserved memory costs no RAM\.$/);
    // The limit is reached with that one heap: the hint the data now supports.
    assert.ok(e.hints.includes("glibc's arena limit is reached (2 of at most 2, the main arena included): threads that malloc from now on share arenas, so VmSize no longer grows by 64 MiB per thread."), e.hints.join('\n'));
  });

  test('compare: long command lines keep their ends in the column headers', async () => {
    const { formatComparison } = await import('../lib/explain/format');
    const e = {
      type: 'explanation' as const, pid: 1, vmSizeKb: 1, modelKb: 1, attached: false, classes: [], byCreator: [], threads: [], files: [], unexplained: [],
      explainedKb: 0, binary: null, usage: null, hints: [],
    };
    const head = formatComparison(e, e, [
      '/work/liveprobe/test/.fixtures-out/ex7 -sleep 5s', '/work/liveprobe/test/.fixtures-out/ex7pure -sleep 5s',
    ]).split('\n')[0];
    assert.equal(head, `${'class'.padEnd(22)} …/test/.fixtures-out/ex7 -sleep 5s …t/.fixtures-out/ex7pure -sleep 5s difference`);
  });
});

describe('start-up (issue 16 §5)', () => {
  test("package.json's bin runs the one bundled file with a V8 code cache: no module of lib/ loaded, the cache written once and then accepted, the same lines as dist/lib/cli/main.js", T, async () => {
    const root = path.resolve(__dirname, '..', '..');
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin: { liveprobe: string } };
    assert.equal(pkg.bin.liveprobe, 'dist/bin/liveprobe.js');
    const launcher = path.join(root, pkg.bin.liveprobe);
    const dir = path.dirname(launcher);
    // Built from this tree now, as `npm install` (prepare) builds it; that removes old caches.
    await new Promise<void>((resolve, reject) =>
      spawn(process.execPath, [path.join(root, 'tools', 'bundle-cli.mjs')], { stdio: 'inherit' }).on('close', (c) =>
        c === 0 ? resolve() : reject(new Error(`bundle-cli exited ${c}`)),
      ),
    );
    const caches = () => fs.readdirSync(dir).filter((f) => f.endsWith('.v8cache'));
    assert.deepEqual(caches(), []);
    const hash = createHash('sha256').update(fs.readFileSync(path.join(dir, 'cli.js'))).digest('hex').slice(0, 16);
    // Every file Node loads as a module, written at exit.
    const loaded = tmp('loaded.json');
    const hook = tmp('hook.js');
    fs.writeFileSync(hook, `const M = require('node:module'); const files = new Set(); const load = M._load;
M._load = function (req, parent, isMain) { const r = load.apply(this, arguments); try { files.add(M._resolveFilename(req, parent, isMain)); } catch {} return r; };
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(loaded)}, JSON.stringify([...files])));`);
    const trace = async (cli: string, pre: string[] = []) => {
      // One thread, no children: with --no-aslr the same lines each run but for the pid.
      const args = ['run', '--no-aslr', '--no-summary', '-e', 'trace=%memory,exit_group', '--', '/bin/true'];
      const child = spawn(process.execPath, [...pre, cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      // The pid's column width too: two runs' pids may differ in digits (99999, 100000).
      return { code, text: err.replace(/\[pid +\d+\]/g, '[pid PID]').replace(/(process |\/proc\/)\d+/g, '$1PID') };
    };
    try {
      const first = await trace(launcher, ['-r', hook]);
      const files = JSON.parse(fs.readFileSync(loaded, 'utf8')) as string[];
      const own = files.filter((f) => f.startsWith(root + path.sep) && !f.includes(`${path.sep}node_modules${path.sep}`));
      assert.deepEqual(own.map((f) => path.relative(root, f)).sort(), ['build/Release/liveprobe.node', 'dist/bin/liveprobe.js']);
      // The first run wrote the cache, named for this bundle; the second
      // used it (a rejected cache would be written again).
      assert.deepEqual(caches(), [`cli.${hash}.v8cache`]);
      const written = fs.statSync(path.join(dir, caches()[0]!)).mtimeMs;
      const second = await trace(launcher);
      assert.equal(fs.statSync(path.join(dir, caches()[0]!)).mtimeMs, written);
      const unbundled = await trace(cliPath());
      for (const r of [first, second, unbundled]) assert.equal(r.code, 0);
      assert.match(first.text, /\n\[pid +PID\] brk\(NULL\) = 0x5555\w+\n[^]*\n\[pid +PID\] exit_group\(0\) = \?\n/);
      assert.equal(second.text, first.text);
      assert.equal(unbundled.text, first.text);
    } finally {
      for (const f of [loaded, hook]) fs.rmSync(f, { force: true });
    }
  });
});

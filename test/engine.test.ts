// The foundation: run and attach real programs with the real addon.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { LiveprobeError, attach, run } from '../lib';
import type { SignalEvent, SyscallEvent, ThreadStartEvent, TraceEvent } from '../lib/events';
import { fixture, repoRoot } from './helpers/fixtures';
import { LineReader, untilIdle } from './helpers/ready';
import { startLive, until } from './helpers/reliability';
import { assertContiguous, collect, readAll, runCli, runCliReleasing, startUnderShell, tasksOf } from './helpers/trace';

const execFileP = promisify(execFile);
const T = { timeout: 60_000 };
/** siginfo si_code: sent by kill(2), by tgkill/tkill. */
const SI_USER = 0;
const SI_TKILL = -6;

function syscalls(events: TraceEvent[]): SyscallEvent[] {
  return events.filter((e): e is SyscallEvent => e.type === 'syscall');
}

describe('run', () => {
  test('ex7: syscalls from every thread, one thread-start per new thread, exit 0, output intact', T, async () => {
    const ex7 = await fixture('ex7');
    const session = run(ex7, ['-sleep', '1s', '-flush'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [events, out] = await Promise.all([collect(session), readAll(session.stdout)]);
    const exit = await session.exited;
    assert.deepEqual(exit, { code: 0, signal: null, detached: false });
    assert.equal(out, 'Hello from stdio\n');
    assertContiguous(events);

    const pid = session.pid!;
    const starts = events.filter((e): e is ThreadStartEvent => e.type === 'thread-start');
    const startTids = starts.map((e) => e.tid).sort();
    assert.equal(new Set(startTids).size, startTids.length, 'one thread-start per thread');
    // Every thread we saw work is the leader or a started thread, and every started thread made syscalls.
    const working = new Set(syscalls(events).map((e) => e.tid));
    assert.deepEqual([...working].sort(), [pid, ...startTids].sort());
    assert.ok(starts.length >= 3, `ex7 starts its Go Ms with pthread_create (saw ${starts.length})`);
    for (const s of starts) {
      assert.equal(s.pid, pid);
      assert.equal(s.how, 'clone');
      // cgo: every M comes from glibc's pthread_create, i.e. clone3 with a struct of 88 bytes.
      const parentClone = syscalls(events).find((e) => e.name === 'clone3' && e.ret === BigInt(s.tid));
      assert.ok(parentClone, `clone3 returning ${s.tid}`);
      assert.equal(parentClone.tid, s.parentTid);
      assert.equal(parentClone.raw[1], 88n);
      assert.equal(parentClone.args.size, 88n);
      assert.equal(parentClone.cloneArgs?.length, 88);
      // flags = CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
      assert.equal(Buffer.from(parentClone.cloneArgs!).readBigUInt64LE(0), 0x3d0f00n);
      assert.ok(s.seq < syscalls(events).find((e) => e.tid === s.tid)!.seq, 'thread-start precedes its syscalls');
    }
    // Every thread's exit is reported, the process exit last.
    const exits = events.filter((e) => e.type === 'thread-exit').map((e) => e.tid).sort();
    assert.deepEqual(exits, [pid, ...startTids].sort());
    assert.equal(events.at(-1)!.type, 'exit');
    // The exec and its snapshot come first.
    const execve = syscalls(events).find((e) => e.name === 'execve')!;
    assert.equal(execve.path, ex7);
    assert.deepEqual(execve.argv, [ex7, '-sleep', '1s', '-flush']);
    assert.equal(execve.ret, 0n);
    const snap = events.find((e) => e.type === 'snapshot');
    assert.ok(snap && snap.type === 'snapshot' && snap.maps.includes(ex7));
  });

  test('events reach the consumer while the target sleeps, not when it exits', T, async () => {
    // The tracer sleeps in waitpid while ex7 sleeps; it must send what it
    // holds before it does (native/src/tracer.cc, waitForStop), not at the exit.
    // ex7 -ready waits for a SIGUSR1, sent only after the check: events held
    // until the exit would never come (the test's timeout fails it).
    const session = run(await fixture('ex7'), ['-ready'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = new LineReader(session.stdout!);
    let exited = false;
    void session.exited.then(() => (exited = true), () => undefined);
    let checked = false;
    for await (const ev of session) {
      if (ev.type === 'syscall' && ev.name === 'clone3' && !checked) {
        checked = true;
        const pid = session.pid!;
        assert.equal(exited, false, 'events were held until the exit');
        let state = 'gone';
        try {
          state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0]!;
        } catch {
          // reaped: reported below
        }
        assert.ok(state !== 'Z' && state !== 'gone', `ex7 is still alive, waiting for SIGUSR1 (state ${state}): events were held until the exit`);
        await session.detach();
      }
    }
    // Go drops a SIGUSR1 that comes before the program asked for it (signal.Notify).
    await lines.next(/^ready$/);
    process.kill(session.pid!, 'SIGUSR1');
    await lines.closed;
    assert.ok(checked, 'ex7 makes its cgo threads with clone3');
  });

  test('the tight-loop Go program finishes: its preemption SIGURGs are re-injected; left out and counted by default, shown with preemption', T, async () => {
    const spin = await fixture('spin');
    for (const preemption of [false, true]) {
      const session = run(spin, ['-n', '4', '-for', '300ms'], { stdio: ['ignore', 'pipe', 'inherit'], preemption });
      const [events, out] = await Promise.all([collect(session), readAll(session.stdout)]);
      assert.equal(out, 'spin: done\n');
      assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
      assertContiguous(events);
      const pid = session.pid!;
      const urgs = events.filter((e): e is SignalEvent => e.type === 'signal' && e.signal === 'SIGURG');
      const kills = syscalls(events).filter((e) => e.name === 'tgkill');
      if (preemption) {
        assert.ok(urgs.length > 0, 'preemption signals were seen and passed on');
        for (const u of urgs) assert.deepEqual([u.code, u.senderPid, u.pid], [SI_TKILL, pid, pid], 'sent by the process itself');
        assert.ok(kills.length > 0, 'and the tgkill calls that sent them');
        for (const k of kills) assert.deepEqual([k.raw[0], k.raw[2]], [BigInt(pid), 23n], 'tgkill(pid, tid, SIGURG)');
        assert.equal(session.stats.hiddenSignals, 0);
      } else {
        assert.deepEqual(urgs, []);
        assert.deepEqual(kills, []);
        assert.ok(session.stats.hiddenSignals > 0, 'the preemptions were counted, not lost');
      }
    }
  });

  test('only a SIGURG a process sends itself is quiet: raise(SIGUSR1) is shown, and so is SIGURG with preemption; trace=all hides it too', T, async () => {
    const exitwith = await fixture('exitwith');
    const trace = async (sig: number, opts: { preemption?: boolean; trace?: string }) => {
      const session = run(exitwith, ['signal', String(sig)], opts);
      const events = await collect(session);
      assertContiguous(events);
      const pid = session.pid!;
      return {
        exit: await session.exited,
        hidden: session.stats.hiddenSignals,
        stops: session.stats.stops,
        // glibc's raise: tgkill(getpid(), gettid(), sig), here from the leader.
        kills: syscalls(events).filter((e) => e.name === 'tgkill').map((e) => [e.raw[0], e.raw[1], e.raw[2], e.ret]),
        signals: events.filter((e): e is SignalEvent => e.type === 'signal').map((e) => [e.signal, e.code, e.senderPid]),
        raised: [[BigInt(pid), BigInt(pid), BigInt(sig), 0n]],
        pid,
      };
    };
    const usr1 = await trace(10, {});
    assert.deepEqual(usr1.exit, { code: null, signal: 'SIGUSR1', detached: false });
    assert.deepEqual(usr1.kills, usr1.raised);
    assert.deepEqual(usr1.signals, [['SIGUSR1', SI_TKILL, usr1.pid]]);
    assert.equal(usr1.hidden, 0);

    const quietStops: Record<string, number> = {};
    for (const traceSet of ['default', 'all']) {
      // SIGURG's default action is to ignore it: exitwith returns 0.
      const quiet = await trace(23, { trace: traceSet === 'all' ? 'all' : undefined });
      assert.deepEqual(quiet.exit, { code: 0, signal: null, detached: false });
      assert.deepEqual([quiet.kills, quiet.signals, quiet.hidden], [[], [], 1], `trace=${traceSet}`);
      quietStops[traceSet] = quiet.stops;
    }
    const shown = await trace(23, { preemption: true });
    assert.deepEqual(shown.exit, { code: 0, signal: null, detached: false });
    assert.deepEqual(shown.kills, shown.raised);
    assert.deepEqual([shown.signals, shown.hidden], [[['SIGURG', SI_TKILL, shown.pid]], 0]);
    // Under the seccomp filter the quiet tgkill does not even stop: shown, it
    // costs its seccomp stop and its exit stop; the delivery stop is there
    // either way.
    assert.equal(shown.stops - quietStops.default!, 2, `stops: ${shown.stops} shown, ${quietStops.default} quiet`);
    assert.ok(quietStops.all! > shown.stops, 'with trace=all every syscall stops');
  });

  test('a SIGURG from another process is reported with the default settings', T, async () => {
    const spin = await fixture('spin');
    const session = run(spin, ['-n', '1', '-for', '2s'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const events: TraceEvent[] = [];
    let sent = false;
    for await (const ev of session) {
      events.push(ev);
      if (ev.type === 'started' && !sent) {
        sent = true;
        process.kill(ev.pid, 'SIGURG'); // Go ignores it (it keeps a handler for preemption)
      }
    }
    assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
    const urgs = events.filter((e): e is SignalEvent => e.type === 'signal' && e.signal === 'SIGURG');
    assert.deepEqual(urgs.map((u) => [u.code, u.senderPid]), [[SI_USER, process.pid]]);
  });

  test('exit code 3 and death by SIGKILL are reported as such', T, async () => {
    const exitwith = await fixture('exitwith');
    const s3 = run(exitwith, ['code', '3']);
    const e3 = await collect(s3);
    assert.deepEqual(await s3.exited, { code: 3, signal: null, detached: false });
    const last = e3.at(-1)!;
    assert.equal(last.type, 'exit');
    assert.equal(last.type === 'exit' && last.code, 3);
    const exitGroup = syscalls(e3).find((e) => e.name === 'exit_group')!;
    assert.equal(exitGroup.raw[0], 3n);
    assert.equal(exitGroup.args.status, 3);
    assert.equal(exitGroup.text, 'exit_group(3) = ?');
    assert.equal(exitGroup.ret, null);

    const s9 = run(exitwith, ['signal', '9']);
    const e9 = await collect(s9);
    assert.deepEqual(await s9.exited, { code: null, signal: 'SIGKILL', detached: false });
    assertContiguous(e9);
  });

  test('a session runs while the same Node process spawns and awaits 20 children', T, async () => {
    const [ex7, exitwith] = await Promise.all([fixture('ex7'), fixture('exitwith')]);
    // ex7 -ready runs, traced, until the children are done: then SIGUSR1.
    const session = run(ex7, ['-ready', '-flush'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = new LineReader(session.stdout!);
    const tracing = collect(session);
    await session.ready;
    await lines.next(/^ready$/);
    const codes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        execFileP(exitwith, ['code', String(i)]).then(
          () => 0,
          (err: { code: number }) => err.code,
        ),
      ),
    );
    assert.deepEqual(codes, Array.from({ length: 20 }, (_, i) => i));
    process.kill(session.pid!, 'SIGUSR1');
    const events = await tracing;
    await lines.closed;
    assert.deepEqual(lines.all(), ['ready', 'Hello from stdio']);
    assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
    assertContiguous(events);
    assert.equal(events.at(-1)!.type, 'exit');
    assert.equal(session.stats.lost, 0);
  });

  test('run errors: a missing file and a non-executable file', T, async () => {
    const missing = run('/nonexistent/liveprobe-test');
    await assert.rejects(missing.exited, (e: unknown) => e instanceof LiveprobeError && e.code === 'ENOENT');
    const file = path.join(os.tmpdir(), `liveprobe-noexec-${process.pid}`);
    fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
    try {
      const noexec = run(file);
      await assert.rejects(collect(noexec), (e: unknown) => e instanceof LiveprobeError && e.code === 'EACCES');
    } finally {
      fs.unlinkSync(file);
    }
  });
});

describe('attach', () => {
  test('to a sleeping ex7: every task traced, snapshot = maps, detach leaves it running to exit 0', T, async () => {
    const ex7 = await fixture('ex7');
    // ex7 -ready waits for SIGUSR1 instead of a sleep, so the test takes the time it needs.
    const target = await startLive(ex7, ['-ready', '-flush']);
    const pid = target.pid;
    await target.waitFor(/^ready\n/);
    await until(() => tasksOf(pid).length >= 4, `4 threads in ${pid}`);
    await untilIdle(pid);
    const tids = tasksOf(pid);

    const session = attach(pid);
    const events: TraceEvent[] = [];
    let mapsAtStart = '';
    for await (const ev of session) {
      events.push(ev);
      if (ev.type === 'started') {
        mapsAtStart = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
        assert.deepEqual(tasksOf(pid), tids, 'no thread came or went while we attached');
        await session.detach();
      }
    }
    const seized = events.filter((e) => e.type === 'thread-start' && e.how === 'attach').map((e) => e.tid);
    assert.deepEqual(seized.sort((a, b) => a - b), tids);
    const snap = events.find((e) => e.type === 'snapshot');
    assert.ok(snap && snap.type === 'snapshot');
    assert.equal(snap.maps, mapsAtStart);
    assert.equal(events.at(-1)!.type, 'detached');
    assertContiguous(events);
    assert.deepEqual(await session.exited, { code: null, signal: null, detached: true });
    // The target is no longer traced and finishes normally.
    assert.match(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), /^TracerPid:\s*0$/m);
    process.kill(pid, 'SIGUSR1');
    assert.equal(await target.exited, 0);
    await target.waitFor(/^ready\nHello from stdio\n$/);
  });

  test('to a busy Go program: every syscall stops, its preemption is counted, not shown; with preemption it is', T, async () => {
    const spin = await fixture('spin');
    for (const preemption of [false, true]) {
      const target = await startUnderShell(spin, ['-n', '4', '-for', '2s']);
      try {
        await until(() => tasksOf(target.pid).length >= 3, `3 threads in ${target.pid}`);
        // engine 'ptrace': what is asserted is ptrace's own (its stops, SIGURG delivery records).
        const session = attach(target.pid, { preemption, engine: 'ptrace' });
        // Detached once a preemption was seen — shown: its SIGURG and a tgkill
        // (the sender's record comes at its exit stop, maybe after the
        // delivery); or counted — or when the target ended first.
        let sawUrg = false;
        let sawKill = false;
        let ended = false;
        const consuming = collect(session, (ev) => {
          sawUrg ||= ev.type === 'signal' && ev.signal === 'SIGURG';
          sawKill ||= ev.type === 'syscall' && ev.name === 'tgkill';
        });
        void consuming.then(() => (ended = true), () => (ended = true));
        await session.ready;
        await until(() => (preemption ? sawUrg && sawKill : session.stats.hiddenSignals > 0) || ended, 'a preemption while attached');
        await session.detach();
        const events = await consuming;
        assertContiguous(events);
        const urgs = events.filter((e): e is SignalEvent => e.type === 'signal' && e.signal === 'SIGURG');
        const kills = syscalls(events).filter((e) => e.name === 'tgkill');
        assert.ok(session.stats.stops > 0);
        if (preemption) {
          assert.ok(urgs.length > 0 && kills.length > 0, `${urgs.length} SIGURG and ${kills.length} tgkill shown`);
          assert.ok(kills.every((k) => k.raw[0] === BigInt(target.pid) && k.raw[2] === 23n));
          assert.equal(session.stats.hiddenSignals, 0);
        } else {
          assert.deepEqual([urgs, kills], [[], []]);
          assert.ok(session.stats.hiddenSignals > 0, 'the preemptions were counted');
        }
        assert.equal(await target.exited, 0, 'it finishes after the detach');
      } finally {
        target.kill();
      }
    }
  });

  // Each engine's thread sends its last batch while Node may be tearing down.
  // 20 Node start-ups beside four spinners: 20–30 s here, over 60 s under ASan on a loaded machine; the timeout only ends a hang.
  for (const engine of ['ptrace', 'perf'] as const) {
    test(`Node exits right after a detach, 20 times (${engine}): the tracer thread never uses the torn-down environment`, { timeout: 600_000 }, async () => {
      // The detached record unrefs the session, so Node may tear down while
      // the tracer thread still sends its last batch and releases the
      // thread-safe function (CI's ASan run once aborted there). A busy target
      // keeps both CPUs taken, so the tracer thread is often preempted there.
      const spin = await fixture('spin');
      // Spins until killed below, however long the rounds take.
      const target = await startUnderShell(spin, ['-n', '4', '-for', '24h']);
      const lib = path.join(repoRoot(), 'dist', 'lib', 'index.js');
      const script = `const s = require(${JSON.stringify(lib)}).attach(${target.pid}, { engine: '${engine}' }); s.ready.then(() => s.detach());`;
      try {
        await until(() => tasksOf(target.pid).length >= 2, `2 threads in ${target.pid}`);
        for (let i = 0; i < 20; i++) {
          const { stdout, stderr } = await execFileP(process.execPath, ['-e', script]);
          assert.deepEqual([stdout, stderr], ['', ''], `round ${i}`);
        }
        assert.equal(tasksOf(target.pid).length > 0, true, 'the target runs on');
      } finally {
        target.kill();
      }
    });
  }

  test('bad input: no such pid, already traced, invalid pid', T, async () => {
    const none = attach(2 ** 22 + 12345);
    await assert.rejects(none.ready, (e: unknown) => e instanceof LiveprobeError && e.code === 'ESRCH');

    const ex7 = await fixture('ex7');
    const target = await startLive(ex7, ['-ready']);
    try {
      await target.waitFor(/^ready\n/);
      // engine 'ptrace': only a ptrace session holds the process (the perf engine lets go after its snapshot).
      const first = attach(target.pid, { engine: 'ptrace' });
      const consuming = collect(first);
      await first.ready;
      const second = attach(target.pid);
      await assert.rejects(second.ready, (e: unknown) => e instanceof LiveprobeError && e.code === 'EBUSY');
      await first.detach();
      await consuming;
    } finally {
      target.kill();
    }
    // A child of this very process: its stops would be stolen by Node's own waitpid().
    const own = spawn(ex7, ['-ready'], { stdio: 'ignore' });
    try {
      await assert.rejects(attach(own.pid!).ready, (e: unknown) => e instanceof LiveprobeError && e.code === 'EINVAL' && /child of this Node process/.test(e.message));
    } finally {
      own.kill('SIGKILL');
    }
    await assert.rejects(attach(-1).ready, (e: unknown) => e instanceof LiveprobeError && e.code === 'EINVAL');
    await assert.rejects(attach(process.pid).ready, (e: unknown) => e instanceof LiveprobeError && e.code === 'EINVAL');
  });
});

describe('cli', () => {
  test('the preemption left out is said in the last line; --preemption shows it instead', T, async () => {
    const spin = await fixture('spin');
    const quiet = await runCli(['run', spin, '-n', '4', '-for', '300ms']);
    assert.equal(quiet.code, 0);
    const lines = quiet.stderr.trimEnd().split('\n');
    assert.match(
      lines.at(-1)!,
      /^liveprobe: not shown: [1-9]\d* SIGURG the process sent its own threads \(Go's preemption; delivered as usual\) and the tgkill calls that sent them; --preemption shows them$/,
    );
    assert.deepEqual(lines.filter((l) => /--- SIGURG|tgkill\(/.test(l)), []);
    const shown = await runCli(['run', '--preemption', spin, '-n', '4', '-for', '300ms']);
    assert.equal(shown.code, 0);
    assert.match(shown.stderr, /--- SIGURG \{si_signo=SIGURG, /);
    assert.match(shown.stderr, /tgkill\(0x[0-9a-f]+, 0x[0-9a-f]+, 0x17\) = 0/);
    assert.doesNotMatch(shown.stderr, /not shown/);
  });

  test('run exits with the target code: 3, and 137 for SIGKILL', T, async () => {
    const exitwith = await fixture('exitwith');
    const r3 = await runCli(['run', exitwith, 'code', '3']);
    assert.equal(r3.code, 3);
    assert.match(r3.stderr, /^\[pid +\d+\] exit_group\(3\) = \?$/m);
    const r9 = await runCli(['run', '-o', '/dev/null', exitwith, 'signal', '9']);
    assert.equal(r9.code, 137);
    assert.equal(r9.stderr, '');
  });

  test('bad input gets one line, no stack trace, and the right exit code', T, async () => {
    const exitwith = await fixture('exitwith');
    const notExec = path.join(os.tmpdir(), `liveprobe-cli-noexec-${process.pid}`);
    fs.writeFileSync(notExec, 'x', { mode: 0o600 });
    const child = spawn(exitwith, ['code', '0', '-sleep-ms', '60000'], { stdio: 'ignore' });
    try {
      const cases: [string[], number, RegExp][] = [
        [['attach', String(2 ** 22 + 4321)], 1, /no process with pid/],
        [['attach', 'abc'], 2, /"abc" is not a pid/],
        [['attach'], 2, /attach needs exactly one pid/],
        [['run', '/nonexistent/prog'], 1, /no such file/],
        [['run', notExec], 1, /not executable/],
        [['run'], 2, /run needs a program/],
        [['frobnicate'], 2, /unknown command/],
        [['run', '--duration', 'soon', exitwith], 2, /--duration takes seconds/],
        [['run', '-e', 'trace=mmapp', exitwith, 'code', '0'], 2, /unknown syscall "mmapp"/],
      ];
      for (const [args, code, message] of cases) {
        const r = await runCli(args);
        assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
      }
      // Already traced: a first liveprobe holds the process (ptrace: the perf engine holds nobody).
      const trace = path.join(os.tmpdir(), `liveprobe-holder-${process.pid}.ndjson`);
      const holder = spawn(process.execPath, [require.resolve('../lib/cli/main'), 'attach', '--engine', 'ptrace', '--json', '-o', trace, String(child.pid)], {
        stdio: 'ignore',
      });
      const holderExit = new Promise<[number | null, NodeJS.Signals | null]>((r) => holder.on('exit', (c, sig) => r([c, sig])));
      // Ready once its trace shows the attach completed (its signal handlers are in place long before).
      await until(() => fs.existsSync(trace) && fs.readFileSync(trace, 'utf8').includes('"type":"started"'), 'the first liveprobe to attach');
      const busy = await runCli(['attach', String(child.pid)]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /already traced by pid \d+/);
      holder.kill('SIGINT');
      assert.deepEqual(await holderExit, [130, null]);
      fs.rmSync(trace, { force: true });
    } finally {
      child.kill('SIGKILL');
      fs.unlinkSync(notExec);
    }
  });

  test('--json writes one object per event, --duration detaches', T, async () => {
    const ex7 = await fixture('ex7');
    const r = await runCliReleasing(['run', '--json', '--duration', '0.5', ex7, '-ready', '-flush'], /"type":"detached"/);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'ready\nHello from stdio\n');
    const lines = r.stderr.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; seq: number });
    // Events are numbered; findings carry their trigger's seq; usage samples
    // and the closing explanation are not events of the trace.
    const events = lines.filter((ev) => typeof ev.seq === 'number' && ev.type !== 'finding');
    events.forEach((ev, i) => assert.equal(ev.seq, i));
    assert.ok(lines.some((ev) => ev.type === 'finding'), 'findings are in the NDJSON too');
    assert.equal(events.at(-1)!.type, 'detached');
    assert.equal(lines.at(-1)!.type, 'explanation', '--json ends with the explanation');
  });
});

describe('trace set', () => {
  test('run stops only on the trace set (seccomp): read/write are not seen by default, all with trace=all', T, async () => {
    const exitwith = await fixture('exitwith');
    const filtered = await collect(run(exitwith, ['code', '0']));
    const names = new Set(syscalls(filtered).map((e) => e.name));
    assert.ok(names.has('mmap') && names.has('exit_group') && names.has('execve'));
    for (const n of ['read', 'openat', 'close', 'newfstatat', 'pread64']) assert.ok(!names.has(n), `${n} not traced`);
    const everything = await collect(run(exitwith, ['code', '0'], { trace: 'all' }));
    const all = new Set(syscalls(everything).map((e) => e.name));
    for (const n of ['read', 'openat', 'close', 'mmap', 'exit_group']) assert.ok(all.has(n), `${n} traced with all`);
    // The model's syscalls are traced whatever the filter says.
    const narrow = await collect(run(exitwith, ['code', '0'], { trace: 'getpid' }));
    assert.ok(syscalls(narrow).some((e) => e.name === 'mmap'));
    assertContiguous(narrow);
  });

  test('a child process that is not followed still runs normally under the filter, and stays quiet', T, async () => {
    const session = run('/bin/sh', ['-c', '/bin/echo one; /bin/echo two'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [events, out] = await Promise.all([collect(session), readAll(session.stdout)]);
    assert.equal(out, 'one\ntwo\n');
    assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
    const forks = events.filter((e): e is ThreadStartEvent => e.type === 'thread-start');
    assert.equal(forks.length, 2);
    for (const f of forks) {
      assert.equal(f.followed, false);
      assert.equal(f.parentTid, session.pid);
      assert.notEqual(f.pid, session.pid, 'a new process');
    }
    const others = events.filter((e) => e.type !== 'thread-start' && e.pid !== session.pid);
    assert.deepEqual(others, [], 'nothing else is reported of the children');
  });

  test('with --follow-forks the children are traced, each with its own exec', T, async () => {
    const session = run('/bin/sh', ['-c', '/bin/echo one; /bin/echo two'], { stdio: ['ignore', 'pipe', 'inherit'], followForks: true });
    const [events, out] = await Promise.all([collect(session), readAll(session.stdout)]);
    assert.equal(out, 'one\ntwo\n');
    const execs = events.filter((e) => e.type === 'exec' && e.pid !== session.pid);
    assert.deepEqual(execs.map((e) => e.type === 'exec' && e.path), ['/usr/bin/echo', '/usr/bin/echo']);
    const childExits = events.filter((e) => e.type === 'exit' && e.pid !== session.pid);
    assert.equal(childExits.length, 2);
  });
});

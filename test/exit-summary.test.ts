// The summary at the target's exit is the one at a detach: taken at the
// exit_group entry stop, while the address space is still whole (issue 16 §2).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { run } from '../lib';
import { fmtSize } from '../lib/units';
import { fixture } from './helpers/fixtures';
import { Quiescer, consume } from './helpers/model';
import { LineReader, glibcArenaHeaps, heldWithArenaCount, untilIdle } from './helpers/ready';
import { until } from './helpers/patience';
import { cliPath, cliTarget } from './helpers/trace';

const T = { timeout: 90_000 };

const vmSizeOf = (pid: number) => Number(/^VmSize:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/**
 * ex7 -ready's VmSize once it has stopped growing: asleep with the same
 * glibc arena count before and after the read (the Go runtime starts Ms,
 * each with an arena, for a while after it says ready), and the same VmSize
 * read twice around the second count.
 */
async function settledVmSize(pid: number, lines: LineReader): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const before = await glibcArenaHeaps(pid, lines);
    await untilIdle(pid);
    const vm = vmSizeOf(pid);
    const after = await glibcArenaHeaps(pid, lines);
    await untilIdle(pid);
    if (before === after && vmSizeOf(pid) === vm) return vm;
  }
  throw new Error(`ex7 ${pid} kept growing through 20 counts`);
}

describe('the summary at exit', () => {
  test('API: explain() after exit = the explanation at exit_group: VmSize as /proc last showed it, RSS per class, binary facts, hints', T, async () => {
    // ex7 -ready: held still at a moment its arenas are counted (no M was
    // starting), explained and its VmSize read; then SIGUSR1 lets it exit.
    const session = run(await fixture('ex7'), ['-ready'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = new LineReader(session.stdout!);
    const pid = await session.ready;
    const q = new Quiescer(pid);
    const consuming = consume(session, q);
    await lines.next(/^ready$/);
    const { held: [during, lastVmSize] } = await heldWithArenaCount(pid, lines, q, () => [session.explain()!, vmSizeOf(pid)] as const);
    process.kill(pid, 'SIGUSR1');
    await consuming;
    const exit = await session.exited;
    assert.equal(exit.code, 0);
    assert.equal(session.model!.exited, true);
    const e = session.explain()!;
    assert.equal(e.vmSizeKb, lastVmSize, 'VmSize: the last value /proc showed');
    assert.equal(e.modelKb, lastVmSize);
    assert.ok(e.binary?.isGo && e.binary.cgoEnabled);
    for (const c of during.classes) {
      const now = e.classes.find((x) => x.class === c.class);
      assert.ok(now, `class ${c.class} still there`);
      assert.notEqual(now.rss, null, `${c.class}: RSS known`);
      if (c.rss! > 0n) assert.ok(now.rss! > 0n, `${c.class}: resident at exit as during the run`);
    }
    assert.deepEqual(e.hints.map((h) => h.split(':')[0]), during.hints.map((h) => h.split(':')[0]));
    // Go calls exit_group from whichever thread runs the main goroutine then.
    assert.equal(e.threads.filter((t) => t.state === 'exit_group').length, 1, JSON.stringify(e.threads));
    // Every state read at that moment, none from a task being torn down (a
    // thread really running then is 'R', as it was).
    assert.ok(e.threads.every((t) => /^(exit_group|[RSDt])$/.test(t.state)), JSON.stringify(e.threads));
  });

  test('CLI: run --summary of ex7 prints VmSize (the last /proc value), binary, RSS per class, hints; thread states as at exit_group', T, async () => {
    const bin = await fixture('ex7');
    // ex7 -ready's stdout is liveprobe's: its lines say when it is ready
    // and answer arena counts (test/helpers/ready.ts).
    const child = spawn(process.execPath, [cliPath(), 'run', '--summary', '--findings', '--', bin, '-ready'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const out = new LineReader(child.stdout);
    await until(() => cliTarget(child.pid!) !== undefined, 'liveprobe to start ex7');
    const pid = cliTarget(child.pid!)!;
    await out.next(/^ready$/);
    const lastVmSize = await settledVmSize(pid, out);
    process.kill(pid, 'SIGUSR1');
    assert.equal(await closed, 0, stderr);
    const summary = stderr.slice(stderr.indexOf('=== liveprobe'));
    const lines = summary.split('\n');
    assert.equal(lines[0], `=== liveprobe: why process ${pid} has this much virtual memory ===`);
    assert.equal(lines[1], `VmSize ${lastVmSize} kB (/proc/${pid}/status), model ${lastVmSize} kB`);
    assert.match(lines[2]!, /^binary: go1\.\d+(\.\d+)?, CGO_ENABLED=1, dynamically linked against glibc; DNS: /);
    const rows = lines.slice(lines.indexOf('') + 2, lines.findIndex((l) => l.startsWith('explained ')));
    const rss = new Map(rows.map((r) => [r.split(/\s+/)[0]!, / (\d+) kB {2}\w+$/.exec(r)?.[1]]));
    for (const cls of ['go-page-summary', 'glibc-arena-heap', 'go-heap-arena', 'pthread-stack', 'file-segment', 'main-stack']) {
      assert.ok(Number(rss.get(cls)) > 0, `${cls} resident: ${rows.join('\n')}`);
    }
    assert.equal(rss.get('guard-page'), '0', 'a guard page is never resident');
    assert.equal(lines.filter((l) => /^ +\d+ (main|cgo-thread) +state exit_group$/.test(l)).length, 1, summary);
    assert.ok(lines.filter((l) => / state /.test(l)).every((l) => / state (exit_group|[RSDt])$/.test(l)), summary);
    // The hints word for word, their numbers from the findings printed above
    // the summary (--findings) and the arena row's RSS.
    const found = (kind: string) => stderr.split('\n').filter((l) => l.includes(`>>> ${kind}: `)).length;
    const arenas = found('glibc-arena');
    assert.ok(arenas >= 1 && found('cgo-thread') >= 1, stderr);
    assert.deepEqual(lines.filter((l) => l.startsWith('hint: ')), [
      `hint: VmSize is not RSS: ${arenas} glibc malloc arena heap${arenas > 1 ? 's reserve' : ' reserves'} ${fmtSize(BigInt(arenas) * 64n * 1024n * 1024n)} of address space, ` +
        `${fmtSize(BigInt(rss.get('glibc-arena-heap')!) * 1024n)} resident; reserved memory costs no RAM.`,
      'hint: Each thread that mallocs gets its own arena, up to 8 × CPUs; MALLOC_ARENA_MAX=2 caps them if the reservations matter (more lock contention in malloc).',
      "hint: Each pthread stack is 8 MiB because the stack limit (ulimit -s) is 8192 kB: glibc sizes a new thread's stack by RLIMIT_STACK. " +
        'A lower ulimit -s where the program starts makes them smaller (goroutine stacks live in the Go heap, not there).',
      `hint: In a cgo binary every Go thread is a pthread with its own 8 MiB stack (${found('cgo-thread')} seen made). ` +
        'CGO_ENABLED=0 would remove the pthread stacks and the glibc arenas, at the cost of C libraries, os/user via libc and the cgo DNS resolver.',
    ], summary);
  });
});

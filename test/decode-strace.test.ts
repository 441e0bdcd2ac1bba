// liveprobe's syscall lines against strace 6.1's, for the same program run
// the same way (address randomization off, the same environment): the
// syscalls.c fixture, which makes every decoded call with ordinary and edge
// values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { run } from '../lib';
import type { SyscallEvent, TraceEvent } from '../lib/events';
import { hostArch, syscallNumber } from '../lib/syscalls';
import { DECODED_SYSCALLS } from '../lib/syscalls/decode';
import { fixture } from './helpers/fixtures';
import { STRACE, eventLines, linesByRole, runStrace, straceAvailable } from './helpers/strace';
import { collect } from './helpers/trace';

const T = { timeout: 60_000 };
/** The decoded calls, plus shmget, whose return value names the shm segment shmat uses. */
const TRACE = [...DECODED_SYSCALLS, 'shmget'].join(',');
const ENV = { LIVEPROBE_FIXTURE: '1' };

/**
 * The launch's execve is made by each tracer's own forked child before the
 * program exists, so its envp points into that tracer's memory. Only that
 * pointer is replaced: the variable count after it must agree.
 */
function withoutLauncherEnvp(lines: string[]): void {
  const first = lines[0];
  assert.ok(first?.startsWith('execve('), `the first line is the launch: ${first}`);
  lines[0] = first.replace(/, 0x[0-9a-f]+( \/\* 1 var \*\/\) = 0)$/, ', <envp>$1');
  assert.notEqual(lines[0], first, `the launch passes the one variable of ENV: ${first}`);
}

function syscalls(events: TraceEvent[]): SyscallEvent[] {
  return events.filter((e): e is SyscallEvent => e.type === 'syscall');
}

describe('decoding matches strace', () => {
  test('strace 6.1 is installed (npm test installs it: tools/test-prereqs.sh)', () => {
    assert.ok(straceAvailable(), `${STRACE} is missing: apt-get install strace`);
  });

  test('syscalls.c: every decoded line equals strace\'s, task by task, in order', T, async () => {
    const bin = await fixture('syscalls');
    const [strace, events] = await Promise.all([
      runStrace(bin, [], { trace: TRACE, env: ENV, noAslr: true }),
      (async () => {
        const session = run(bin, [], { noAslr: true, followForks: true, env: ENV, stdio: 'ignore', trace: TRACE });
        const evs = await collect(session);
        assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
        return evs;
      })(),
    ]);
    assert.equal(strace.code, 0);
    const keep = (l: { name: string }): boolean => l.name !== 'shmget';
    const theirs = linesByRole(strace.lines, strace.pid, keep);
    const live = eventLines(events);
    const ours = linesByRole(live, syscalls(events)[0]!.pid, keep);
    withoutLauncherEnvp(theirs.get('P')!);
    withoutLauncherEnvp(ours.get('P')!);

    // The same tasks: the program, its children (glibc fork, raw fork where the
    // arch has one, vfork, clone ×3, clone3 ×3) and one pthread.
    assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
    assert.equal(ours.size, hostArch() === 'x86_64' ? 11 : 10);
    for (const [role, expected] of theirs) {
      const got = ours.get(role)!;
      for (let i = 0; i < Math.max(got.length, expected.length); i++) {
        assert.equal(got[i], expected[i], `task ${role}, line ${i + 1} of ${expected.length}`);
      }
    }
    // Enough lines to mean something: every decoded call appears.
    const names = new Set(live.map((l) => l.name));
    for (const name of DECODED_SYSCALLS.filter((n) => syscallNumber(hostArch(), n) !== undefined)) {
      assert.ok(names.has(name), `the fixture makes ${name}`);
    }
  });
});

// `-e trace=`: every form the README documents, resolved to exact syscall
// sets, and what the CLI does with a good and a bad filter.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseTraceFilter, syscallNumber } from '../lib/syscalls';
import { fixture } from './helpers/fixtures';
import { runCli } from './helpers/trace';

const T = { timeout: 30_000 };
const nr = (name: string): number => syscallNumber('x86_64', name)!;

describe('documented filter forms (x86_64)', () => {
  test('names', T, () => {
    const f = parseTraceFilter('trace=mmap,munmap,clone3', 'x86_64');
    assert.deepEqual([...f.numbers].sort((a, b) => a - b), [9, 11, 435]);
    assert.deepEqual(f.names, ['mmap', 'munmap', 'clone3']);
  });

  test('%thread is exactly liveprobe\'s thread class', T, () => {
    assert.deepEqual(parseTraceFilter('trace=%thread', 'x86_64').names, [
      'clone', 'fork', 'vfork', 'exit', 'sigaltstack', 'prctl', 'arch_prctl', 'gettid', 'set_tid_address',
      'exit_group', 'set_robust_list', 'rseq', 'clone3',
    ]);
  });

  test('%memory and %process, alone and with names', T, () => {
    const m = parseTraceFilter('%memory', 'x86_64');
    assert.equal(m.numbers.size, 26);
    assert.ok(m.matches(nr('mmap')) && m.matches(nr('shmdt')) && !m.matches(nr('clone')));
    const p = parseTraceFilter('trace=%process', 'x86_64');
    assert.equal(p.numbers.size, 16);
    assert.ok(p.matches(nr('wait4')) && p.matches(nr('execveat')) && !p.matches(nr('mmap')));
    const both = parseTraceFilter('trace=%memory,clone3,gettid', 'x86_64');
    assert.equal(both.numbers.size, 28);
  });

  test('! negates the whole list, all selects everything', T, () => {
    const notMem = parseTraceFilter('trace=!%memory', 'x86_64');
    assert.ok(!notMem.matches(nr('mmap')) && !notMem.matches(nr('madvise')));
    assert.ok(notMem.matches(nr('read')) && notMem.matches(nr('clone3')) && notMem.matches(1000));
    assert.equal(notMem.all, false);
    const all = parseTraceFilter('trace=all', 'x86_64');
    assert.equal(all.all, true);
    assert.ok(all.matches(nr('read')) && all.matches(1000));
  });
});

describe('the CLI with -e trace=', () => {
  test('an unknown syscall is a usage error (exit 2) naming the bad word', T, async () => {
    const exitwith = await fixture('exitwith');
    for (const [expr, word] of [['trace=nosuchcall', '"nosuchcall"'], ['trace=mmap,%memroy', '"%memroy"'], ['!mmap,nosuchcall', '"nosuchcall"']]) {
      const r = await runCli(['run', '-e', expr!, exitwith, 'code', '0']);
      assert.equal(r.code, 2, `${expr}: ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.startsWith('liveprobe: unknown syscall'), r.stderr);
      assert.ok(r.stderr.includes(word!), `${expr} names ${word}: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
  });

  test('a filter keeps only the named calls, in strace\'s words', T, async () => {
    const exitwith = await fixture('exitwith');
    const r = await runCli(['run', '-e', 'trace=exit_group,brk', exitwith, 'code', '4']);
    assert.equal(r.code, 4);
    const calls = r.stderr.split('\n').filter((l) => /^\[pid +\d+\] [a-z_0-9]+\(/.test(l)).map((l) => l.replace(/^\[pid +\d+\] /, ''));
    // glibc's startup asks for the break once; then the program exits.
    assert.equal(calls.length, 2, r.stderr);
    assert.match(calls[0]!, /^brk\(NULL\) = 0x[0-9a-f]+$/);
    assert.equal(calls[1], 'exit_group(4) = ?');
  });
});

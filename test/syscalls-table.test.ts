import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_TRACE, SYSCALL_CLASSES } from '../lib/syscalls/classes';
import { FilterError, defaultTraceFilter, parseTraceFilter } from '../lib/syscalls/filter';
import { type Arch, hostArch, syscallName, syscallNumber, syscallTable } from '../lib/syscalls/table';

function assertFilterError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FilterError, `expected FilterError, got ${String(err)}`);
    assert.equal(err.code, 'EINVAL');
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'message must be one line');
    return true;
  });
}

describe('syscall tables', () => {
  const expected: Record<Arch, Record<string, number>> = {
    x86_64: { read: 0, mmap: 9, clone: 56, fork: 57, execve: 59, exit_group: 231, rseq: 334, clone3: 435 },
    aarch64: {
      io_setup: 0, fcntl: 25, newfstatat: 79, fstat: 80, exit_group: 94, clone: 220, execve: 221,
      mmap: 222, fadvise64: 223, rseq: 293, clone3: 435, memfd_secret: 447,
    },
  };
  for (const arch of ['x86_64', 'aarch64'] as const) {
    it(`${arch}: known numbers both ways`, () => {
      assert.equal(syscallTable(arch).arch, arch);
      for (const [name, nr] of Object.entries(expected[arch])) {
        assert.equal(syscallNumber(arch, name), nr, `${arch} ${name}`);
        assert.equal(syscallName(arch, nr), name, `${arch} ${nr}`);
      }
    });
  }

  it('x86_64 ends at set_mempolicy_home_node with the 335..423 gap empty', () => {
    const names = syscallTable('x86_64').names;
    assert.equal(names.length, 451);
    assert.equal(names[450], 'set_mempolicy_home_node');
    for (let nr = 335; nr <= 423; nr++) assert.equal(names[nr], undefined, `x86_64 ${nr}`);
  });

  it('aarch64 has the generic table choices arm64 makes', () => {
    assert.equal(syscallNumber('aarch64', 'renameat'), 38);
    assert.equal(syscallNumber('aarch64', 'getrlimit'), 163);
    assert.equal(syscallNumber('aarch64', 'sync_file_range'), 84);
    for (const absent of ['fork', 'vfork', 'open', 'stat', 'mmap2', 'fstatat64', 'clock_gettime64', 'arch_prctl']) {
      assert.equal(syscallNumber('aarch64', absent), undefined, absent);
    }
    // 244..259 are reserved for arch-specific calls; arm64 defines none.
    for (let nr = 244; nr <= 259; nr++) assert.equal(syscallName('aarch64', nr), `syscall_0x${nr.toString(16)}`);
  });

  it('names unknown numbers like strace', () => {
    assert.equal(syscallName('x86_64', 1000), 'syscall_0x3e8');
    assert.equal(syscallName('x86_64', 400), 'syscall_0x190');
    assert.equal(syscallName('x86_64', -1), 'syscall_0xffffffffffffffff');
    assert.equal(syscallNumber('x86_64', 'nosuchcall'), undefined);
    assert.equal(syscallNumber('x86_64', 'syscall_0x3e8'), undefined);
  });

  it('hostArch maps process.arch', () => {
    if (process.arch === 'x64') assert.equal(hostArch(), 'x86_64');
    else if (process.arch === 'arm64') assert.equal(hostArch(), 'aarch64');
    else assert.throws(() => hostArch(), /x86_64 and aarch64/);
  });
});

describe('syscall classes', () => {
  it('%memory is exactly strace 6.1\'s set', () => {
    assert.deepEqual([...(SYSCALL_CLASSES['%memory'] ?? [])].sort(), [
      'brk', 'get_mempolicy', 'io_destroy', 'io_setup', 'io_uring_register', 'madvise', 'mbind',
      'migrate_pages', 'mincore', 'mlock', 'mlock2', 'mlockall', 'mmap', 'move_pages', 'mprotect',
      'mremap', 'msync', 'munlock', 'munlockall', 'munmap', 'pkey_mprotect', 'remap_file_pages',
      'set_mempolicy', 'set_mempolicy_home_node', 'shmat', 'shmdt',
    ]);
  });

  it('%process is strace\'s TP set', () => {
    assert.deepEqual([...(SYSCALL_CLASSES['%process'] ?? [])].sort(), [
      'clone', 'clone3', 'execve', 'execveat', 'exit', 'exit_group', 'fork', 'kill',
      'pidfd_send_signal', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'tgkill', 'tkill', 'vfork',
      'wait4', 'waitid',
    ]);
  });

  it('every class strace 6.1 knows, from its tables: %clock, %creds, %pure, the stat classes exactly; %file, %desc, %network, %signal, %ipc by members', () => {
    const of = (cls: string) => [...(SYSCALL_CLASSES[cls] ?? [])].sort();
    assert.deepEqual(of('%clock'), ['adjtimex', 'clock_adjtime', 'clock_getres', 'clock_gettime', 'clock_settime', 'gettimeofday', 'settimeofday', 'time']);
    assert.deepEqual(of('%pure'), ['getegid', 'geteuid', 'getgid', 'getpgrp', 'getpid', 'getppid', 'gettid', 'getuid']);
    assert.deepEqual(of('%stat'), ['stat']);
    assert.deepEqual(of('%lstat'), ['lstat']);
    assert.deepEqual(of('%fstat'), ['fstat', 'newfstatat', 'statx']);
    assert.deepEqual(of('%%stat'), ['fstat', 'lstat', 'newfstatat', 'stat', 'statx']);
    assert.deepEqual(of('%%statfs'), ['fstatfs', 'statfs', 'ustat']);
    assert.ok(of('%creds').includes('setresuid') && of('%creds').includes('capset') && of('%creds').includes('prctl'));
    for (const [cls, yes, no] of [
      ['%file', ['open', 'openat', 'execve', 'statx', 'unlinkat'], ['close', 'read']],
      ['%desc', ['read', 'close', 'open', 'openat', 'mmap', 'epoll_wait'], ['access', 'stat']],
      ['%network', ['socket', 'connect', 'sendmsg', 'accept4', 'sendfile'], ['read']],
      ['%signal', ['rt_sigaction', 'kill', 'tgkill', 'sigaltstack', 'signalfd4'], ['clone']],
      ['%ipc', ['shmget', 'shmat', 'semop', 'msgsnd'], ['mq_open']],
    ] as const) {
      for (const n of yes) assert.ok(of(cls).includes(n), `${cls} has ${n}`);
      for (const n of no) assert.ok(!of(cls).includes(n), `${cls} has not ${n}`);
    }
    assert.deepEqual(of('%net'), of('%network'));
    // strace's bare legacy spellings; `stat` stays the syscall, as in strace.
    assert.deepEqual([...parseTraceFilter('trace=file', 'x86_64').names].sort(), of('%file'));
    assert.deepEqual(parseTraceFilter('trace=stat', 'x86_64').names, ['stat']);
  });

  it('%thread holds thread setup/teardown calls', () => {
    const thread = SYSCALL_CLASSES['%thread'] ?? [];
    for (const name of ['clone', 'clone3', 'set_robust_list', 'rseq', 'set_tid_address', 'arch_prctl', 'sigaltstack', 'gettid']) {
      assert.ok(thread.includes(name), name);
    }
    assert.ok(!thread.includes('mmap'));
  });

  it('every class member exists on at least one arch', () => {
    for (const [cls, members] of Object.entries(SYSCALL_CLASSES)) {
      for (const name of members) {
        const known = syscallNumber('x86_64', name) !== undefined || syscallNumber('aarch64', name) !== undefined;
        assert.ok(known, `${cls} ${name}`);
      }
    }
  });

  it('default trace is memory + process + thread', () => {
    assert.deepEqual(DEFAULT_TRACE, ['%memory', '%process', '%thread']);
  });
});

describe('parseTraceFilter', () => {
  it('takes names with or without the trace= prefix', () => {
    for (const expr of ['mmap,munmap', 'trace=mmap,munmap', ' trace=mmap, munmap ', 't=mmap,munmap', 'mmap,,munmap,']) {
      const f = parseTraceFilter(expr, 'x86_64');
      assert.equal(f.all, false, expr);
      assert.deepEqual([...f.numbers].sort((a, b) => a - b), [9, 11], expr);
      assert.deepEqual(f.names, ['mmap', 'munmap'], expr);
      assert.ok(f.matches(9) && f.matches(11) && !f.matches(10) && !f.matches(1000), expr);
    }
  });

  it('expands classes per arch', () => {
    const x = parseTraceFilter('%process', 'x86_64');
    assert.ok(x.names.includes('fork') && x.names.includes('clone3') && x.names.includes('wait4'));
    const a = parseTraceFilter('%process', 'aarch64');
    assert.ok(!a.names.includes('fork') && !a.names.includes('vfork'));
    assert.ok(a.matches(220) && a.matches(435) && a.matches(94));
    assert.equal(a.numbers.size, (SYSCALL_CLASSES['%process'] ?? []).length - 2);
    // strace's legacy spelling without %
    assert.deepEqual(parseTraceFilter('trace=memory', 'x86_64').names, parseTraceFilter('%memory', 'x86_64').names);
    assert.ok(parseTraceFilter('%thread', 'x86_64').names.includes('arch_prctl'));
    assert.ok(!parseTraceFilter('%thread', 'aarch64').names.includes('arch_prctl'));
  });

  it('leading ! negates the whole list', () => {
    const f = parseTraceFilter('trace=!mmap,munmap', 'x86_64');
    assert.equal(f.all, false);
    assert.ok(!f.matches(9) && !f.matches(11));
    assert.ok(f.matches(0) && f.matches(56) && f.matches(435));
    assert.ok(f.matches(1000), 'a negated filter also selects numbers the table does not know');
    assert.ok(!f.names.includes('mmap') && !f.names.includes('munmap') && f.names.includes('read'));
    assert.equal(f.numbers.size, syscallTable('x86_64').names.filter((n) => n !== undefined).length - 2);
    const g = parseTraceFilter('!!mmap', 'x86_64');
    assert.deepEqual(g.names, ['mmap']);
    const h = parseTraceFilter('!%memory', 'aarch64');
    assert.ok(!h.matches(222) && h.matches(221));
  });

  it('all and none', () => {
    for (const expr of ['all', 'trace=all', '!none', 'trace=!none', '!!all']) {
      const f = parseTraceFilter(expr, 'aarch64');
      assert.equal(f.all, true, expr);
      assert.ok(f.matches(0) && f.matches(222) && f.matches(9999), expr);
      assert.equal(f.names.length, 306, expr);
    }
    for (const expr of ['none', 'trace=none', '!all']) {
      const f = parseTraceFilter(expr, 'x86_64');
      assert.equal(f.all, false, expr);
      assert.equal(f.numbers.size, 0, expr);
      assert.ok(!f.matches(9), expr);
    }
    // Selecting every named call is still not "all": unnamed numbers are out.
    assert.equal(parseTraceFilter('/.', 'x86_64').all, false);
  });

  it('numbers, regexes and ?-optional tokens as in strace', () => {
    assert.deepEqual(parseTraceFilter('9,clone', 'x86_64').names, ['mmap', 'clone']);
    assert.deepEqual(parseTraceFilter('trace=/^munmap$|^mremap$', 'x86_64').names, ['munmap', 'mremap']); // ascending by number
    assert.deepEqual(parseTraceFilter('?fork,clone', 'aarch64').names, ['clone']);
    assert.deepEqual(parseTraceFilter('?nosuch,mmap', 'x86_64').names, ['mmap']);
    assert.equal(parseTraceFilter('!?nosuch', 'x86_64').all, true);
  });

  it('default filter is memory + process + thread', () => {
    const f = defaultTraceFilter('x86_64');
    for (const name of ['mmap', 'munmap', 'brk', 'clone', 'clone3', 'execve', 'exit_group', 'rseq', 'set_robust_list', 'arch_prctl']) {
      assert.ok(f.names.includes(name), name);
      assert.ok(f.matches(syscallNumber('x86_64', name) ?? -1), name);
    }
    assert.ok(!f.names.includes('read') && !f.names.includes('openat'));
    assert.equal(f.all, false);
    assert.ok(defaultTraceFilter('aarch64').matches(222));
  });

  it('rejects unknown names and classes with a one-line FilterError', () => {
    assertFilterError(() => parseTraceFilter('mmapp', 'x86_64'), /^unknown syscall "mmapp" in trace filter; names are as in strace, classes: %desc, %file, %memory, %process, %creds, %signal, %ipc, %net, %network, %stat, %lstat, %fstat, %%stat, %statfs, %fstatfs, %%statfs, %pure, %clock, %thread$/);
    assertFilterError(() => parseTraceFilter('trace=mmap,%memroy', 'x86_64'), /unknown syscall class "%memroy".*%memory, %process, .*%thread$/);
    assertFilterError(() => parseTraceFilter('fork', 'aarch64'), /"fork" does not exist on aarch64 \(only x86_64\).*\?fork/);
    assertFilterError(() => parseTraceFilter('!arch_prctl', 'aarch64'), /does not exist on aarch64/);
    assertFilterError(() => parseTraceFilter('', 'x86_64'), /empty trace filter/);
    assertFilterError(() => parseTraceFilter('trace=', 'x86_64'), /empty trace filter/);
    assertFilterError(() => parseTraceFilter('!', 'x86_64'), /empty trace filter/);
    assertFilterError(() => parseTraceFilter(',', 'x86_64'), /empty trace filter/);
    assertFilterError(() => parseTraceFilter('mmap,all', 'x86_64'), /"all" must be the whole trace filter/);
    assertFilterError(() => parseTraceFilter('signal=SIGSEGV', 'x86_64'), /only trace= filters are supported/);
    assertFilterError(() => parseTraceFilter('5000', 'x86_64'), /beyond the x86_64 table \(0-450\)/);
    assertFilterError(() => parseTraceFilter('/(', 'x86_64'), /invalid regular expression/);
    assertFilterError(() => parseTraceFilter('?/(', 'x86_64'), /invalid regular expression/);
    assertFilterError(() => parseTraceFilter('/^nosuch', 'x86_64'), /matches no x86_64 syscall/);
  });
});

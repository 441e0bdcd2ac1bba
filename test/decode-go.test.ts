// Real Go traffic, cgo (ex7) and pure Go (ex7pure): liveprobe's memory and
// thread lines against strace's for the same binary.
//
// Two runs of a Go program do not make the same syscalls: even two strace
// runs differ in how many Ms start (tracing slows syscalls, so sysmon hands
// Ps to new Ms), in where glibc's 128 MiB arena reservations land (and so in
// the sizes it trims), and in when the heap grows. A plain multiset equality
// would fail between two strace runs. So the comparison is exact where the
// program is, and checks form where it is not:
//
//  1. Startup — the main thread's lines up to the runtime's minit on m0 (ld.so,
//     libc init, Go's heap and metadata reservations): single-threaded, so
//     identical line for line, in order — but for the Go heap's 4 MiB commits,
//     whose number depends on where the randomized heap base falls (3.).
//  2. Per-thread lines — the creator's clone/clone3 (with clone3's
//     `=> {parent_tid=[tid]}`), the new thread's rseq and set_robust_list
//     (glibc) and sigaltstack pair (Go), the pthread stack mmap and
//     mprotect and the arena's first mprotect: each exact line occurs once per
//     thread created, in each trace, and both traces have the same such lines.
//  3. Everything else after startup (arena reservations and trims, heap
//     growth, exit_group): each line's form — the call, flag and field names
//     and number formats, numbers masked — is one the other tracer printed
//     for this binary.
// Addresses are placeholders (Go 1.26 randomizes its heap base even with
// ASLR off) and so are tids. The same comparison between strace runs (16 of
// ex7, 10 of ex7pure, every ordered pair: 240 and 90) had no false failure.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { run } from '../lib';
import { DECODED_SYSCALLS } from '../lib/syscalls/decode';
import { fixture } from './helpers/fixtures';
import { type GoTraceSummary, eventLines, runStrace, summarizeGoTrace } from './helpers/strace';
import { collect } from './helpers/trace';

const T = { timeout: 60_000 };
const TRACE = [...DECODED_SYSCALLS, 'gettid'].join(',');
const ENV = { GOMAXPROCS: '2' };
const ARGS = ['-sleep', '100ms'];

async function both(name: 'ex7' | 'ex7pure'): Promise<{ ours: GoTraceSummary; theirs: GoTraceSummary }> {
  const bin = await fixture(name);
  const strace = await runStrace(bin, ARGS, { trace: TRACE, env: ENV, noAslr: true });
  assert.equal(strace.code, 0);
  const session = run(bin, ARGS, { noAslr: true, env: ENV, stdio: 'ignore', trace: TRACE });
  const events = await collect(session);
  assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
  const lines = eventLines(events).filter((l) => l.name === 'gettid' || DECODED_SYSCALLS.includes(l.name));
  return { ours: summarizeGoTrace(lines, session.pid!), theirs: summarizeGoTrace(strace.lines, strace.pid) };
}

function compare(ours: GoTraceSummary, theirs: GoTraceSummary): void {
  assert.deepEqual(ours.startup, theirs.startup, 'startup, line for line');

  for (const [who, s] of [['liveprobe', ours], ['strace', theirs]] as const) {
    for (const [line, count] of s.perThread) {
      assert.equal(count, s.threads, `${who}: once per thread (${s.threads} threads): ${line}`);
    }
  }
  assert.deepEqual([...ours.perThread.keys()].sort(), [...theirs.perThread.keys()].sort(), 'the same per-thread lines');

  for (const form of ours.laterForms) assert.ok(theirs.allForms.has(form), `strace prints this form too: ${form}`);
  for (const form of theirs.laterForms) assert.ok(ours.allForms.has(form), `liveprobe prints this form too: ${form}`);
  for (const line of ours.restarted) assert.match(line, /^[a-z0-9_]+\(.*\) = \? ERESTART(SYS|NOINTR|NOHAND|_RESTARTBLOCK) \(/);
}

describe('Go programs: liveprobe lines against strace', () => {
  test('ex7 (cgo): pthread stacks, clone3 with parent_tid, glibc arenas, Go runtime maps', T, async () => {
    const { ours, theirs } = await both('ex7');
    compare(ours, theirs);
    // What the cgo signature consists of (docs/go-glibc-musl.md, "glibc's pthread_create"), in liveprobe's exact words.
    assert.ok(ours.threads >= 2, `ex7 starts Ms with pthread_create (${ours.threads})`);
    assert.equal(ours.perThread.get('mmap(NULL, 8392704, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0) = <addr>'), ours.threads);
    assert.equal(
      ours.perThread.get(
        'clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, ' +
          'child_tid=<addr>, parent_tid=<addr>, exit_signal=0, stack=<addr>, stack_size=0x7fff80, tls=<addr>} => {parent_tid=[<tid>]}, 88) = <tid>',
      ),
      ours.threads,
    );
    assert.equal(ours.perThread.get('rseq(<addr>, 0x20, 0, 0x53053053) = 0'), ours.threads);
    assert.ok(ours.laterForms.has('mmap(<p>, <d>, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -<d>, <d>) = <p>'), 'glibc arena reservations');
    assert.ok(ours.startup.includes('mmap(NULL, 536870912, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = <addr>'), 'Go page summaries');
  });

  test('ex7pure: Go-native clone with CLONE_SETTLS, no stacks, no arenas', T, async () => {
    const { ours, theirs } = await both('ex7pure');
    compare(ours, theirs);
    assert.ok(ours.threads >= 2, `ex7pure starts Ms with clone (${ours.threads})`);
    assert.equal(
      ours.perThread.get(
        'clone(child_stack=<addr>, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, tls=<addr>) = <tid>',
      ),
      ours.threads,
    );
    assert.ok(![...ours.perThread.keys()].some((l) => l.startsWith('rseq(') || l.startsWith('clone3(')), 'no glibc thread set-up');
    assert.ok(ours.startup.some((l) => /^arch_prctl\(ARCH_SET_FS, 0x[0-9a-f]+\) = 0$/.test(l)), 'the runtime sets its TLS');
  });
});

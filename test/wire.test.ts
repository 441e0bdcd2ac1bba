// The C++ and TypeScript copies of the wire layout and syscall numbers agree.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { native } from '../lib/native';
import { syscallNumber, type Arch } from '../lib/syscalls/table';
import { ARRAY_ENTRY, ARRAY_ENTRY_HEADER, AUDIT_ARCH, FIELD, FLAG, HEADER, HEADER_SIZE, KIND, MAGIC, RECORD_SIZE, VERSION } from '../lib/wire';
import { MEMORY_READS, READ_RULE_FIELDS, READ_RULE_MAX_BYTES, nativeReadRules } from '../lib/syscalls/memory-reads';
import { QUIET_CALL_FIELDS, nativeQuietRules } from '../lib/syscalls/quieting';
import { MAX_ERRNO } from '../lib/syscalls/abi';

test('record and batch layout: native/src/wire.h equals lib/wire.ts', () => {
  const l = native().layout();
  assert.equal(l.magic, MAGIC);
  assert.equal(l.version, VERSION);
  assert.equal(l.headerSize, HEADER_SIZE);
  assert.equal(l.recordSize, RECORD_SIZE);
  assert.deepEqual(l.fields, { ...FIELD });
  assert.deepEqual(l.header, { ...HEADER });
  assert.deepEqual(l.kinds, { ...KIND });
  assert.deepEqual(l.flags, { ...FLAG });
  assert.equal(l.arrayEntryHeader, ARRAY_ENTRY_HEADER);
  assert.deepEqual(l.arrayEntries, { ...ARRAY_ENTRY });
});

test('the syscall numbers the native side knows equal the TypeScript tables', () => {
  const numbers = native().syscallNumbers();
  assert.deepEqual(Object.keys(numbers).sort(), ['aarch64', 'x86_64']);
  for (const [arch, table] of Object.entries(numbers)) {
    const { auditArch, ...byName } = table;
    assert.equal(auditArch, AUDIT_ARCH[arch as Arch]);
    for (const [name, nr] of Object.entries(byName)) {
      assert.equal(nr, syscallNumber(arch as Arch, name), `${arch} ${name}`);
    }
  }
});

test('memory-read rules: the layout native reads, per arch; the addon refuses a malformed list', () => {
  const l = native().layout();
  assert.equal(l.readRuleFields, READ_RULE_FIELDS);
  assert.equal(l.readRuleMaxBytes, READ_RULE_MAX_BYTES);
  const n = READ_RULE_FIELDS;
  const x86 = nativeReadRules('x86_64');
  const arm = nativeReadRules('aarch64');
  assert.equal(x86.length % n, 0);
  assert.equal(arm.length % n, 0);
  // arch_prctl is x86-only: its rules are left out on arm64.
  const archPrctl = MEMORY_READS.filter((r) => r.syscall === 'arch_prctl').length;
  assert.ok(archPrctl > 0);
  assert.equal(x86.length / n - arm.length / n, archPrctl);
  for (let i = 0; i < x86.length; i += n) assert.equal(x86[i], AUDIT_ARCH.x86_64);

  const { NativeSession } = native();
  const attempt = (readRules: unknown) => () =>
    new NativeSession('attach', { pid: process.pid, followForks: false, overflow: 'block', traceAll: true, traceNrs: [], readRules: readRules as number[], quietCalls: [], quietSelfSignals: [] }, () => {});
  const bytesAt = 4;
  const keepAt = 6;
  const thenAt = 13;
  // The first rule copies sigaltstack's 24-byte stack_t; the second is chdir's path, a string.
  assert.deepEqual([x86[bytesAt], x86[5], x86[n + 5], x86[thenAt], x86[thenAt + 1]], [24, 0, 1, -1, 0]);
  const withThen = (rule: number, off: number, bytes: number) =>
    x86.map((v, i) => (i === rule * n + thenAt ? off : i === rule * n + thenAt + 1 ? bytes : v));
  // (The real list, whose prctl rule follows sock_fprog's pointer, is taken by every session the other tests run.)
  assert.ok(MEMORY_READS.some((r) => r.then !== undefined));
  for (const bad of [
    [1, 2, 3],
    [...x86.slice(0, n - 1), 'x'],
    x86.map((v, i) => (i === bytesAt ? READ_RULE_MAX_BYTES + 1 : v)),
    x86.map((v, i) => (i === keepAt ? x86[bytesAt]! + 1 : v)),
    withThen(0, 17, 8), // the pointer would lie past the copy
    withThen(0, 0, READ_RULE_MAX_BYTES + 1),
    withThen(0, 0, 0),
    withThen(1, 0, 8), // a string has no pointer to follow
    'rules',
  ]) {
    assert.throws(attempt(bad), /readRules is the flat list of lib\/syscalls\/memory-reads.ts/);
  }
});

test('quiet rules: preemption tgkill/tkill by their signal argument, per arch; the addon refuses a malformed list', () => {
  assert.equal(native().layout().quietCallFields, QUIET_CALL_FIELDS);
  for (const arch of ['x86_64', 'aarch64'] as const) {
    const { quietCalls, quietSelfSignals } = nativeQuietRules(arch, false);
    // SIGURG is 23 in the generic numbering both arches use.
    assert.deepEqual(quietSelfSignals, [23]);
    assert.deepEqual(quietCalls, [
      AUDIT_ARCH[arch], syscallNumber(arch, 'tgkill'), 2, 23,
      AUDIT_ARCH[arch], syscallNumber(arch, 'tkill'), 1, 23,
    ]);
    assert.deepEqual(nativeQuietRules(arch, true), { quietCalls: [], quietSelfSignals: [] });
  }
  const good = nativeQuietRules('x86_64', false);
  const { NativeSession } = native();
  const attempt = (quietCalls: unknown, quietSelfSignals: unknown) => () =>
    new NativeSession('attach', {
      pid: process.pid, followForks: false, overflow: 'block', traceAll: true, traceNrs: [], readRules: [],
      quietCalls: quietCalls as number[], quietSelfSignals: quietSelfSignals as number[],
    }, () => {});
  // Accepted (never started: unref'd so that it does not hold the test open).
  attempt(good.quietCalls, good.quietSelfSignals)().unref();
  for (const [calls, sigs] of [
    [good.quietCalls.slice(0, 3), good.quietSelfSignals],
    [good.quietCalls.map((v, i) => (i === 2 ? 6 : v)), good.quietSelfSignals], // no seventh argument
    [good.quietCalls, [65]],
    [Array.from({ length: 17 }, () => good.quietCalls.slice(0, QUIET_CALL_FIELDS)).flat(), good.quietSelfSignals], // 16 at most
    [good.quietCalls, ['SIGURG']],
    ['tgkill', good.quietSelfSignals],
  ]) {
    assert.throws(attempt(calls, sigs), /quietCalls and quietSelfSignals are the lists of lib\/syscalls\/quieting.ts/);
  }
});

test("the kernel's MAX_ERRNO: native/src/tracer.h equals lib/syscalls/abi.ts", () => {
  assert.equal(native().layout().maxErrno, MAX_ERRNO);
});

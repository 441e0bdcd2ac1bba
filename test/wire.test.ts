// The C++ and TypeScript copies of the wire layout and syscall numbers agree.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { native } from '../lib/native';
import { syscallNumber, type Arch } from '../lib/syscalls/table';
import { AUDIT_ARCH, FIELD, FLAG, HEADER, HEADER_SIZE, KIND, MAGIC, RECORD_SIZE, VERSION } from '../lib/wire';
import { MEMORY_READS, nativeReadRules } from '../lib/syscalls/memory-reads';

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

test('memory-read rules: 12 numbers each, per arch; the addon refuses a malformed list', () => {
  const x86 = nativeReadRules('x86_64');
  const arm = nativeReadRules('aarch64');
  assert.equal(x86.length % 12, 0);
  assert.equal(arm.length % 12, 0);
  // arch_prctl is x86-only: its rules are left out on arm64.
  const archPrctl = MEMORY_READS.filter((r) => r.syscall === 'arch_prctl').length;
  assert.ok(archPrctl > 0);
  assert.equal(x86.length / 12 - arm.length / 12, archPrctl);
  for (let i = 0; i < x86.length; i += 12) assert.equal(x86[i], AUDIT_ARCH.x86_64);

  const { NativeSession } = native();
  const attempt = (readRules: unknown) => () =>
    new NativeSession('attach', { pid: process.pid, followForks: false, overflow: 'block', traceAll: true, traceNrs: [], readRules: readRules as number[] }, () => {});
  for (const bad of [[1, 2, 3], [...x86.slice(0, 11), 'x'], x86.map((v, i) => (i === 4 ? 100000 : v)), 'rules']) {
    assert.throws(attempt(bad), /readRules is a list of rules, 12 numbers each/);
  }
});

// The C++ and TypeScript copies of the wire layout and syscall numbers agree.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { native } from '../lib/native';
import { syscallNumber, type Arch } from '../lib/syscalls/table';
import { AUDIT_ARCH, FIELD, FLAG, HEADER, HEADER_SIZE, KIND, MAGIC, RECORD_SIZE, VERSION } from '../lib/wire';

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

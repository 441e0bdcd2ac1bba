// lib/syscalls/abi.ts is derived from the flag and errno tables; this checks
// every number it exports against the table entry of the same name, so a
// constant can never drift from what the decoders print.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as abi from '../lib/syscalls/abi';
import { TABLES } from '../lib/syscalls/decode/flags';
import { errnoName } from '../lib/syscalls/errno';

/** Every flag/value table entry by name (a name appears in one table, or with one value in several). */
function tableValues(): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const table of Object.values(TABLES)) {
    for (const [name, value] of table.entries) {
      const seen = out.get(name);
      assert.ok(seen === undefined || seen === value, `${name} has two values in the flag tables`);
      out.set(name, value);
    }
  }
  return out;
}

test('each ABI constant equals its flag-table entry', () => {
  const values = tableValues();
  const checked: string[] = [];
  for (const [name, v] of Object.entries(abi)) {
    if (typeof v !== 'number' && typeof v !== 'bigint') continue;
    if (/^E[A-Z]+$/.test(name)) {
      assert.equal(errnoName(Number(v)), name, `${name} is errno ${v}`);
      checked.push(name);
      continue;
    }
    const entry = values.get(name);
    if (entry === undefined) continue;
    assert.equal(BigInt(v), entry, name);
    checked.push(name);
  }
  // The ones with a table entry, and the errnos: all of them were compared.
  for (const name of ['PROT_NONE', 'PROT_READ', 'PROT_WRITE', 'PROT_EXEC', 'PROT_GROWSDOWN', 'MAP_SHARED', 'MAP_PRIVATE', 'MAP_FIXED',
    'MAP_ANONYMOUS', 'MAP_NORESERVE', 'MAP_STACK', 'MAP_HUGETLB', 'MAP_FIXED_NOREPLACE', 'MREMAP_MAYMOVE', 'MREMAP_FIXED', 'MREMAP_DONTUNMAP',
    'SHM_RDONLY', 'SHM_REMAP', 'SHM_EXEC', 'MADV_DONTFORK', 'MADV_DOFORK', 'CLONE_VM', 'CLONE_FS', 'CLONE_FILES', 'CLONE_SIGHAND',
    'CLONE_VFORK', 'CLONE_THREAD', 'CLONE_SYSVSEM', 'CLONE_SETTLS', 'CLONE_PARENT_SETTID', 'CLONE_CHILD_CLEARTID', 'PR_SET_VMA',
    'PR_SET_VMA_ANON_NAME', 'ENOMEM', 'EACCES', 'EFAULT', 'EPERM', 'ESRCH', 'ENOENT', 'EBUSY']) {
    assert.ok(checked.includes(name), `${name} was compared with its table`);
  }
  // Derived ones.
  assert.equal(abi.PROT_RWX, abi.PROT_READ | abi.PROT_WRITE | abi.PROT_EXEC);
  assert.equal(abi.MAP_TYPE, 0xf);
  assert.equal(abi.CLONE_EXIT_SIGNAL_MASK, 0xffn);
});

test("the error-return test is the kernel's IS_ERR_VALUE: -4095..-1, nothing else", () => {
  assert.deepEqual(
    [-1n, -4095n, -4096n, 0n, 1n, -(1n << 63n), BigInt.asIntN(64, 0xffffffffff600000n)].map(abi.isErrorReturn),
    [true, true, false, false, false, false, false],
  );
  assert.equal(abi.errnoOf(-12n), abi.ENOMEM);
  assert.equal(abi.unsignedReturn(-4096n), 0xfffffffffffff000n);
});

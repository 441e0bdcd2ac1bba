// The address-space model without a tracee: the interval map against a
// page-by-page oracle, verify()'s comparison rules on fixed maps texts, and
// the record dispatcher (threads, fork, vfork, exec) on hand-made batches.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AddressSpace, AddressSpaces, type ModelChange, type Provenance, compareWithMaps, parseMaps } from '../lib/model';
import { decodeRecord, isErrorRecord } from '../lib/events';
import { callOf } from '../lib/syscalls/calls';
import { syscallNumber } from '../lib/syscalls/table';
import { AUDIT_ARCH, BatchView, FIELD, FLAG, HEADER, HEADER_SIZE, KIND, MAGIC, RECORD_SIZE, VERSION } from '../lib/wire';

const PAGE = 4096n;
const T = { timeout: 20_000 };

function prov(seq: number, cause = 'mmap', tid = 100): Provenance {
  return { tid, seq, time: seq / 10, cause };
}

/** xorshift32, so a failing case can be replayed. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

interface OraclePage {
  prot: number;
  name: string;
  /** File page number ('' name: unused). */
  filePage: number;
}

/** One page at a time: slow, obviously right. */
class Oracle {
  pages = new Map<number, OraclePage>();
  map(first: number, count: number, prot: number, name: string, filePage: number): void {
    for (let i = 0; i < count; i++) this.pages.set(first + i, { prot, name, filePage: name ? filePage + i : 0 });
  }
  unmap(first: number, count: number): void {
    for (let i = 0; i < count; i++) this.pages.delete(first + i);
  }
  /** mprotect: stops at the first hole (ENOMEM after changing the prefix). */
  protect(first: number, count: number, prot: number): boolean {
    for (let i = 0; i < count; i++) {
      const p = this.pages.get(first + i);
      if (!p) return false;
      p.prot = prot;
    }
    return true;
  }
  maps(): string {
    const lines: string[] = [];
    for (const n of [...this.pages.keys()].sort((a, b) => a - b)) {
      const p = this.pages.get(n)!;
      const perms = `${p.prot & 1 ? 'r' : '-'}${p.prot & 2 ? 'w' : '-'}${p.prot & 4 ? 'x' : '-'}p`;
      const s = (BigInt(n) * PAGE).toString(16);
      const e = (BigInt(n + 1) * PAGE).toString(16);
      lines.push(`${s}-${e} ${perms} ${(BigInt(p.filePage) * PAGE).toString(16).padStart(8, '0')} 00:00 0 ${p.name}`);
    }
    return lines.join('\n') + '\n';
  }
}

describe('address-space model (unit)', () => {
  test('interval map: 20,000 random mmap/munmap/mprotect/mremap over 4,096 pages equal a page-by-page oracle', T, () => {
    const r = rng(7);
    const space = new AddressSpace(1);
    const oracle = new Oracle();
    const base = 0x10000; // page number
    const AREA = 4096;
    let seq = 0;
    for (let step = 0; step < 20_000; step++) {
      const first = base + r(AREA - 64);
      const count = 1 + r(48);
      const addr = BigInt(first) * PAGE;
      const len = BigInt(count) * PAGE - BigInt(r(4096)); // the model rounds up
      const prot = r(8);
      switch (r(4)) {
        case 0: {
          const file = r(3) === 0;
          const filePage = r(100);
          space.applyMmap(addr, len, prot, file ? 0x12 : 0x22, file ? '/data/file' : undefined, BigInt(filePage) * PAGE, prov(seq++));
          oracle.map(first, count, prot, file ? '/data/file' : '', filePage);
          break;
        }
        case 1:
          space.applyMunmap(addr, len, prov(seq++, 'munmap'));
          oracle.unmap(first, count);
          break;
        case 2: {
          const complete = oracle.protect(first, count, prot);
          space.applyMprotect(addr, len, prot, complete ? 0 : 12, prov(seq++, 'mprotect'));
          break;
        }
        case 3: {
          // A move of whatever is at [first, first+count) to a free-or-not place (MREMAP_FIXED, same size).
          const to = base + r(AREA - 64);
          if (Math.abs(to - first) < count || !oracle.pages.has(first)) break;
          const moved: [number, OraclePage][] = [];
          for (let i = 0; i < count; i++) {
            const p = oracle.pages.get(first + i);
            if (p) moved.push([i, p]);
          }
          oracle.unmap(first, count);
          for (const [i, p] of moved) oracle.pages.set(to + i, p);
          space.applyMremap(addr, len, len, 3, BigInt(to) * PAGE, prov(seq++, 'mremap'));
          break;
        }
      }
      if (step % 500 === 0 || step === 19_999) {
        const res = space.compare(oracle.maps());
        assert.ok(res.equal, `step ${step}: ${res.differences.slice(0, 5).map((d) => JSON.stringify(d, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))).join('\n')}`);
        assert.equal(space.size, BigInt(oracle.pages.size) * PAGE);
      }
    }
    // Regions from one syscall stay one region: at most one per page, and far fewer in practice.
    assert.ok(space.count <= oracle.pages.size);
  });

  test('mprotect growth of one mapping (glibc arena style) keeps it at two regions', T, () => {
    const space = new AddressSpace(1);
    const heap = 0x7f0000000000n;
    space.applyMmap(heap, 64n << 20n, 0, 0x4022, undefined, 0n, prov(1));
    for (let i = 1; i <= 100; i++) space.applyMprotect(heap, BigInt(i) * 33n * PAGE, 3, 0, prov(1 + i, 'mprotect'));
    const regions = space.regions();
    assert.deepEqual(
      regions.map((r) => [r.start, r.end, r.perms, r.origin.seq]),
      [
        [heap, heap + 3300n * PAGE, 'rw-p', 1],
        [heap + 3300n * PAGE, heap + (64n << 20n), '---p', 1],
      ],
    );
  });

  test('brk: the heap grows and shrinks from the break; a failed brk (old break returned) changes nothing', T, () => {
    const space = new AddressSpace(1);
    space.seed('555555554000-555555556000 r--p 00000000 08:01 12 /bin/x\n', prov(0, 'snapshot'), 0x555555560000n);
    space.applyBrk(0x555555560000n, prov(1, 'brk')); // brk(0)
    space.applyBrk(0x555555581234n, prov(2, 'brk')); // grow, unaligned
    space.applyBrk(0x555555581234n, prov(3, 'brk')); // a failure returns the old break
    space.applyBrk(0x5555555a0000n, prov(4, 'brk'));
    assert.deepEqual(
      space.regions().slice(1).map((r) => [r.start, r.end, r.perms, r.name, r.origin.seq]),
      [[0x555555560000n, 0x5555555a0000n, 'rw-p', '[heap]', 2]],
    );
    space.applyBrk(0x555555570000n, prov(5, 'brk'));
    assert.equal(space.find(0x555555570000n), undefined);
    assert.equal(space.find(0x55555556f000n)?.end, 0x555555570000n);
    assert.equal(space.brk, 0x555555570000n);
  });

  test("two threads' calls reported out of kernel order: a late munmap leaves the mapping that reused its range", T, () => {
    // The glibc arena race (docs/ordering-and-races.md, "The arena set-up race"): thread 11 reserves 128 MiB and trims
    // its tail; thread 12's mmap gets that tail; the tracer reports 12's mmap
    // before 11's munmap. Times: entered / returned, ms.
    const space = new AddressSpace(1);
    const MiB = 1n << 20n;
    const base = 0x7f0004000000n;
    space.applyMmap(base, 128n * MiB, 0, 0x4022, undefined, 0n, { tid: 11, seq: 1, time: 1.0, entered: 0.9, cause: 'mmap' });
    space.applyMmap(base + 64n * MiB, 64n * MiB, 0, 0x4022, undefined, 0n, { tid: 12, seq: 2, time: 2.5, entered: 2.0, cause: 'mmap' });
    space.applyMunmap(base + 64n * MiB, 64n * MiB, { tid: 11, seq: 3, time: 2.6, entered: 2.1, cause: 'munmap' });
    assert.deepEqual(space.regions().map((r) => [r.start, r.end, r.origin.tid]), [
      [base, base + 64n * MiB, 11],
      [base + 64n * MiB, base + 128n * MiB, 12],
    ]);
    // A munmap that began after the mmap returned is a real unmap of it.
    space.applyMunmap(base + 64n * MiB, 64n * MiB, { tid: 11, seq: 4, time: 3.1, entered: 3.0, cause: 'munmap' });
    assert.equal(space.find(base + 64n * MiB), undefined);
  });

  test("change events: one per update, with the syscall's provenance", T, () => {
    const space = new AddressSpace(1);
    const seen: ModelChange[] = [];
    space.on('change', (c) => seen.push(c));
    space.applyMmap(0x1000000n, 3n * PAGE, 3, 0x22, undefined, 0n, prov(5, 'mmap', 42));
    space.applyMremap(0x1000000n, 3n * PAGE, 5n * PAGE, 1, 0x2000000n, prov(6, 'mremap', 43));
    assert.deepEqual(seen, [
      { cause: 'mmap', seq: 5, tid: 42, time: 0.5, start: 0x1000000n, end: 0x1003000n },
      { cause: 'mremap', seq: 6, tid: 43, time: 0.6, start: 0x2000000n, end: 0x2005000n, from: { start: 0x1000000n, end: 0x1003000n } },
    ]);
    // Moved pages keep their origin; the growth is the mremap's.
    assert.deepEqual(space.regions().map((r) => [r.start, r.end, r.origin.seq]), [
      [0x2000000n, 0x2003000n, 5],
      [0x2003000n, 0x2005000n, 6],
    ]);
  });

  describe('verify rules', () => {
    const model = [
      '00400000-00402000 r-xp 00000000 08:01 7 /bin/prog',
      '00402000-00403000 rw-p 00002000 08:01 7 /bin/prog',
      '7f0000000000-7f0000004000 rw-p 00000000 00:00 0 ',
      '7ffc00100000-7ffc00121000 rw-p 00000000 00:00 0 [stack]',
      '7ffc001f0000-7ffc001f2000 r-xp 00000000 00:00 0 [vdso]',
      'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]',
    ].join('\n');
    const space = new AddressSpace(1);
    space.seed(model, prov(0, 'snapshot'));

    test('equal to itself; VMAs the kernel split (names, flags) compare as one', () => {
      assert.ok(space.compare(model).equal);
      const split = model
        .replace('7f0000000000-7f0000004000 rw-p 00000000 00:00 0 ', '7f0000000000-7f0000001000 rw-p 00000000 00:00 0 [anon:Go: heap]\n7f0000001000-7f0000004000 rw-p 00000000 00:00 0 ')
        .replace('00400000-00402000 r-xp 00000000 08:01 7 /bin/prog', '00400000-00401000 r-xp 00000000 08:01 7 /bin/prog\n00401000-00402000 r-xp 00001000 08:01 7 /bin/prog');
      assert.deepEqual(space.compare(split).differences, []);
      assert.equal(space.size, 0x2000n + 0x1000n + 0x4000n + 0x21000n + 0x2000n, '[vsyscall] is not counted');
    });

    test('[vsyscall] is ignored; the [stack] may have grown down, and that is reported as allowed', () => {
      const grown = model.replace('7ffc00100000-7ffc00121000 rw-p', '7ffc000f0000-7ffc00121000 rw-p').replace(/\n.*\[vsyscall\]/, '');
      const r = space.compare(grown);
      assert.equal(r.equal, true);
      assert.deepEqual(r.allowed.map((a) => [a.start, a.end]), [[0x7ffc000f0000n, 0x7ffc00100000n]]);
    });

    test('anything else is a difference, with its exact range: permissions, offsets, coverage, a stack that moved its top', () => {
      const wrong = model
        .replace('00402000-00403000 rw-p 00002000', '00402000-00403000 rw-p 00003000')
        .replace('7f0000000000-7f0000004000 rw-p', '7f0000000000-7f0000002000 rw-p 00000000 00:00 0 \n7f0000002000-7f0000004000 r--p')
        .replace('7ffc00100000-7ffc00121000', '7ffc000f0000-7ffc00122000');
      const r = space.compare(wrong.replace('7ffc00', '7f1000000000-7f1000001000 ---p 00000000 00:00 0 \n7ffc00'));
      assert.equal(r.equal, false);
      assert.deepEqual(
        r.differences.map((d) => [d.start.toString(16), d.end.toString(16), d.kernel, d.model]),
        [
          ['402000', '403000', 'rw-p /bin/prog @0x3000', 'rw-p /bin/prog @0x2000'],
          ['7f0000002000', '7f0000004000', 'r--p [anon]', 'rw-p [anon]'],
          ['7f1000000000', '7f1000001000', '---p [anon]', null],
          ['7ffc000f0000', '7ffc00100000', 'rw-p [stack]', null],
          ['7ffc00121000', '7ffc00122000', 'rw-p [stack]', null],
        ],
      );
    });

    test('maps text round-trips through the model', () => {
      assert.deepEqual(
        parseMaps(space.toMapsText({ classColumn: false })).map((e) => [e.start, e.end, e.offset, e.dev, e.inode, e.name]),
        parseMaps(model).map((e) => [e.start, e.end, e.offset, e.dev, e.inode, e.name]),
      );
      assert.match(space.toMapsText().split('\n')[0]!, /^00400000-00402000 r-xp 00000000 08:01 7 - +\/bin\/prog$/);
      assert.ok(compareWithMaps(space.regions(), parseMaps(model), model).equal);
    });
  });

  describe('record dispatch', () => {
    // A hand-made batch, laid out as lib/wire.ts describes.
    interface Rec {
      kind: number;
      pid: number;
      tid: number;
      nr?: string;
      args?: bigint[];
      ret?: bigint;
      a?: number;
      b?: number;
      data?: string;
    }
    let seq = 0;
    function batch(recs: Rec[], lost = 0n): BatchView {
      const datas = recs.map((r) => Buffer.from(r.data ?? '', 'utf8'));
      const dataBytes = datas.reduce((n, d) => n + d.length, 0);
      const buf = new ArrayBuffer(HEADER_SIZE + recs.length * RECORD_SIZE + dataBytes);
      const v = new DataView(buf);
      v.setUint32(0, MAGIC, true);
      v.setUint16(HEADER.version, VERSION, true);
      v.setUint32(HEADER.count, recs.length, true);
      v.setUint32(HEADER.dataBytes, dataBytes, true);
      v.setBigUint64(HEADER.lost, lost, true);
      let dataOff = 0;
      recs.forEach((r, i) => {
        const o = HEADER_SIZE + i * RECORD_SIZE;
        v.setBigUint64(o + FIELD.seq, BigInt(seq++), true);
        v.setBigUint64(o + FIELD.time_ns, 1_000_000n * BigInt(seq), true);
        v.setUint32(o + FIELD.pid, r.pid, true);
        v.setUint32(o + FIELD.tid, r.tid, true);
        v.setUint16(o + FIELD.kind, r.kind, true);
        v.setUint16(o + FIELD.flags, r.ret !== undefined ? FLAG.hasReturn : 0, true);
        v.setInt32(o + FIELD.nr, r.nr ? syscallNumber('x86_64', r.nr)! : 0, true);
        v.setUint32(o + FIELD.arch, AUDIT_ARCH.x86_64, true);
        (r.args ?? []).forEach((x, k) => v.setBigUint64(o + FIELD.args + 8 * k, x, true));
        v.setBigInt64(o + FIELD.ret, r.ret ?? 0n, true);
        v.setUint32(o + FIELD.a, r.a ?? 0, true);
        v.setUint32(o + FIELD.b, r.b ?? 0, true);
        v.setUint32(o + FIELD.data_off, dataOff, true);
        v.setUint32(o + FIELD.data_len, datas[i]!.length, true);
        new Uint8Array(buf, HEADER_SIZE + recs.length * RECORD_SIZE + dataOff).set(datas[i]!);
        dataOff += datas[i]!.length;
      });
      return new BatchView(buf);
    }
    // Through the wire format and decodeRecord, as the session feeds the model.
    function feed(spaces: AddressSpaces, recs: Rec[], lost = 0n): void {
      const b = batch(recs, lost);
      if (lost > 0n) spaces.lost(lost, b.u64n(0, FIELD.seq));
      for (let i = 0; i < b.count; i++) {
        const ev = decodeRecord(b, i, 0n);
        if (!isErrorRecord(ev)) spaces.apply(ev, ev.type === 'syscall' ? callOf(ev) : undefined);
      }
    }
    const SNAP = '00400000-00401000 r-xp 00000000 08:01 7 /bin/prog\n';
    const mmap = (pid: number, tid: number, at: bigint): Rec => ({
      kind: KIND.syscall, pid, tid, nr: 'mmap', args: [0n, PAGE, 3n, 0x22n, 0xffffffffffffffffn, 0n], ret: at,
    });

    test('threads share their process model; fork copies; vfork shares until exec; exit keeps the last state', () => {
      const spaces = new AddressSpaces();
      feed(spaces, [
        { kind: KIND.exec, pid: 10, tid: 10, data: '/bin/prog' },
        { kind: KIND.snapshot, pid: 10, tid: 10, data: SNAP },
        { kind: KIND.threadStart, pid: 10, tid: 11, a: 10, b: 1, args: [1n] }, // a thread
        mmap(10, 11, 0x10000000n),
        { kind: KIND.threadStart, pid: 20, tid: 20, a: 11, b: 2, args: [1n] }, // fork from the thread
        mmap(20, 20, 0x20000000n),
        { kind: KIND.threadStart, pid: 30, tid: 30, a: 10, b: 3, args: [1n] }, // vfork
        mmap(30, 30, 0x30000000n), // (only exec/_exit are legal there; shows the sharing)
      ]);
      const p = spaces.get(10)!;
      assert.equal(p.find(0x10000000n)?.origin.tid, 11, "the thread's mmap is in its process's model");
      const child = spaces.get(20)!;
      assert.notEqual(child, p);
      assert.ok(child.find(0x10000000n) && child.find(0x20000000n), 'the fork child got a copy, then its own mmap');
      assert.equal(p.find(0x20000000n), undefined);
      assert.equal(spaces.get(30), p, 'the vfork child shares');
      assert.ok(p.find(0x30000000n));
      feed(spaces, [
        { kind: KIND.exec, pid: 30, tid: 30, data: '/bin/other' },
        { kind: KIND.snapshot, pid: 30, tid: 30, data: '00500000-00501000 r-xp 00000000 08:01 9 /bin/other\n' },
        { kind: KIND.exit, pid: 20, tid: 20 },
      ]);
      assert.notEqual(spaces.get(30), p, 'exec leaves the shared model');
      assert.equal(spaces.get(30)!.regions()[0]!.name, '/bin/other');
      assert.ok(p.find(0x30000000n), "the parent's model is untouched by the child's exec");
      assert.equal(spaces.get(20)!.exited, true);
      assert.ok(spaces.get(20)!.find(0x20000000n), 'an exited process keeps its last state');
    });

    test('a new process made by clone(CLONE_VM) shares once the parent\'s clone shows the flag', () => {
      const spaces = new AddressSpaces();
      feed(spaces, [
        { kind: KIND.snapshot, pid: 10, tid: 10, data: SNAP },
        { kind: KIND.threadStart, pid: 40, tid: 40, a: 10, b: 1, args: [1n] },
        { kind: KIND.syscall, pid: 10, tid: 10, nr: 'clone', args: [0x100n | 17n], ret: 40n },
      ]);
      assert.equal(spaces.get(40), spaces.get(10));
    });

    test('a record the model cannot apply is kept as a fault, and verify() is then unequal', () => {
      const spaces = new AddressSpaces();
      feed(spaces, [
        { kind: KIND.snapshot, pid: 10, tid: 10, data: SNAP },
        { kind: KIND.snapshot, pid: 10, tid: 10, data: 'garbage\n' },
      ]);
      const m = spaces.get(10)!;
      assert.equal(m.faults.length, 1);
      assert.match(m.faults[0]!, /cannot parse/);
      assert.equal(m.compare(SNAP).equal, false);
    });

    test("records dropped in overflow: 'drop' mode make every model unequal", () => {
      const spaces = new AddressSpaces();
      feed(spaces, [{ kind: KIND.snapshot, pid: 10, tid: 10, data: SNAP }]);
      assert.equal(spaces.get(10)!.compare(SNAP).equal, true);
      feed(spaces, [mmap(10, 10, 0x10000000n)], 3n);
      const r = spaces.get(10)!.compare(SNAP + '10000000-10001000 rw-p 00000000 00:00 0 \n');
      assert.deepEqual([r.equal, r.differences, r.faults?.length], [false, [], 1]);
      assert.match(r.faults![0]!, /^3 records lost before seq \d+ \(overflow 'drop', or the perf engine's full ring buffer\)$/);
    });
  });
});

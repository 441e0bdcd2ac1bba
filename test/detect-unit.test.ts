// The detectors on hand-made event orders that a real run produces only now
// and then: two threads' stops reported in an order other than the kernel's.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Finding } from '../lib/detect/finding';
import { formatEvent } from '../lib/cli/format-text';
import { type Call, MiB, PID, analysis, call, heapWithLoss, newHeap } from './helpers/hand-made';

// The one path (lib/analysis.ts): the model, seeded by an (empty) snapshot
// as at an exec, then the detectors, which ask it.
function run(order: [number, Call | null][]): Finding[] {
  const p = analysis();
  let seq = 1;
  for (const [tid, c] of order) if (c) p.process(call(seq++, tid, c[0], c[1], c[2]));
  return p.findings.filter((f) => f.kind === 'glibc-arena');
}

describe('glibc arena detection under reordered stops', () => {
  // Thread A's reservation happens to be 64 MiB-aligned, so it keeps the
  // lower half and trims the upper one; thread B's reservation gets that
  // freed upper half as its own aligned heap. B's whole set-up is reported
  // before A's trim, so until then A's reservation seems to hold B's heap.
  const X = 0x7f0000000000n;
  const a = newHeap(101, X);
  const b = newHeap(102, X + 64n * MiB);

  test('in kernel order: two heaps, each from its own thread', () => {
    const found = run([[101, a.reserve], [101, a.head], [101, a.tail], [101, a.commit], [102, b.reserve], [102, b.head], [102, b.tail], [102, b.commit]]);
    assert.deepEqual(found.map((f) => [f.tid, f.details.base]), [[101, a.commit[1][0]], [102, b.commit[1][0]]]);
  });

  test("another thread's trim reported late: both heaps still found, with their own evidence", () => {
    const found = run([[101, a.reserve], [102, b.reserve], [102, b.head], [102, b.tail], [102, b.commit], [101, a.head], [101, a.tail], [101, a.commit]]);
    assert.deepEqual(found.map((f) => [f.tid, f.details.base]), [[102, b.commit[1][0]], [101, a.commit[1][0]]]);
    // B's finding cites B's reservation (seq 2), not A's (seq 1).
    assert.equal(found[0]!.evidence[0], 2);
    assert.equal(found[1]!.evidence[0], 1);
  });
});

describe('the same race through the model, with the times a real trace has', () => {
  // Thread A (101) entered its tail trim before thread B's (102) mmap
  // returned into that tail; the tracer reports A's munmap last. The model's
  // out-of-order ledger must keep B's heap, and both findings stand.
  const X = 0x7f0000000000n;
  test("a trim that entered before the other thread's mmap returned leaves that thread's heap in the model", () => {
    const p = analysis();
    const at = (seq: number, tid: number, name: string, raw: bigint[], ret: bigint, entered: number, returned: number) => {
      const ev = call(seq, tid, name, raw, ret);
      ev.entryTime = entered;
      ev.time = returned;
      return ev;
    };
    const a = newHeap(101, X);
    const b = newHeap(102, X + 64n * MiB);
    const events = [
      at(1, 101, ...a.reserve, 1, 2),
      at(2, 102, ...b.reserve, 4, 6), // returned into A's tail, which A's munmap (entered at 3) freed
      at(3, 102, ...b.tail!, 7, 8),
      at(4, 102, ...b.commit, 9, 10),
      at(5, 101, ...a.tail!, 3, 11), // reported last
      at(6, 101, ...a.commit, 12, 13),
    ];
    for (const ev of events) p.process(ev);
    const found = p.findings.filter((f) => f.kind === 'glibc-arena');
    assert.deepEqual(found.map((f) => [f.tid, f.details.base, f.evidence]), [
      [102, X + 64n * MiB, [2, 3, 4]],
      [101, X, [1, 5, 6]],
    ]);
    const model = p.models.get(PID)!;
    assert.deepEqual(
      model.regions().map((r) => [r.start, r.end, r.perms, r.origin.seq, r.class]),
      [
        [X, X + 132n * 1024n, 'rw-p', 1, 'glibc-arena-heap'],
        [X + 132n * 1024n, X + 64n * MiB, '---p', 1, 'glibc-arena-heap'],
        [X + 64n * MiB, X + 64n * MiB + 132n * 1024n, 'rw-p', 2, 'glibc-arena-heap'],
        [X + 64n * MiB + 132n * 1024n, X + 128n * MiB, '---p', 2, 'glibc-arena-heap'],
      ],
    );
  });
});

describe('a finding whose proof spans lost records says so (the perf engine, docs/perf-engine.md "Loss")', () => {
  test('a loss inside the proof: lostInProof counts the records, and the text line says it', () => {
    const { findings: [f], steps } = heapWithLoss(2, 3);
    assert.ok(f);
    assert.deepEqual(f.evidence, Array.from({ length: steps }, (_, i) => i + 1));
    assert.equal(f.lostInProof, 3);
    assert.ok(formatEvent(f).endsWith(` [evidence: ${f.evidence.join(', ')}] (3 records lost during its proof)`), formatEvent(f));
  });

  test('a loss before the proof began, or after it ended: not marked', () => {
    const { steps } = heapWithLoss(1, 0);
    // Before the first step (seq 1), and before the call after the last one.
    for (const at of [1, steps + 1]) {
      const { findings: [f] } = heapWithLoss(at, 5);
      assert.ok(f);
      assert.equal(f.seq, steps);
      assert.equal(f.lostInProof, undefined, `loss before seq ${at}`);
      assert.doesNotMatch(formatEvent(f), /lost/);
    }
  });
});

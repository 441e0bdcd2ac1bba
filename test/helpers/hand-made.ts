// Hand-made events for what a real run produces only now and then (stops
// reported out of kernel order, records the perf engine lost), fed through
// the one path (lib/analysis.ts) as a real session feeds it.
import assert from 'node:assert/strict';
import { Analysis } from '../../lib/analysis';
import type { Finding } from '../../lib/detect/finding';
import { SyscallRecord } from '../../lib/events';
import { syscallNumber } from '../../lib/syscalls/table';

export const MiB = 1n << 20n;
export const PID = 500;
const PROT_NONE = 0n;
const PROT_RW = 3n;
const PRIVATE_ANON_NORESERVE = 0x22n | 0x4000n;

export type Call = [name: string, raw: bigint[], ret: bigint];

export function call(seq: number, tid: number, name: string, raw: bigint[], ret: bigint): SyscallRecord {
  const nr = syscallNumber('x86_64', name);
  assert.ok(nr !== undefined, name);
  while (raw.length < 6) raw.push(0n);
  return new SyscallRecord({
    type: 'syscall', seq, time: seq, pid: PID, tid, name, nr, arch: 'x86_64', raw, ret, unfinished: false, entryTime: seq - 0.5,
  });
}

/** glibc new_heap in one thread: 128 MiB PROT_NONE at `at`, head and tail trimmed, the aligned middle made RW. */
export function newHeap(tid: number, at: bigint): { reserve: Call; head: Call | null; tail: Call | null; commit: Call } {
  const aligned = (at + 64n * MiB - 1n) & ~(64n * MiB - 1n);
  const end = at + 128n * MiB;
  return {
    reserve: ['mmap', [0n, 128n * MiB, PROT_NONE, PRIVATE_ANON_NORESERVE, BigInt.asUintN(64, -1n), 0n], at],
    head: aligned > at ? ['munmap', [at, aligned - at], 0n] : null,
    tail: end > aligned + 64n * MiB ? ['munmap', [aligned + 64n * MiB, end - aligned - 64n * MiB], 0n] : null,
    commit: ['mprotect', [aligned, 132n * 1024n, PROT_RW], 0n],
  };
}

/** A fresh one path, its model seeded by an (empty) snapshot as at an exec. */
export function analysis(): Analysis {
  const p = new Analysis(() => ({ arenaMax: null, arenaMaxFrom: null, cpus: 2 }));
  p.process({ type: 'snapshot', seq: 0, time: 0, pid: PID, tid: PID, maps: '' });
  return p;
}

/**
 * One arena heap set up by thread 101 as seqs 1..n, with `lost` records
 * dropped before seq lossBefore (as a perf-engine batch reports them), then
 * an unrelated call; the glibc-arena findings.
 */
export function heapWithLoss(lossBefore: number, lost: number): { findings: Finding[]; steps: number } {
  const heap = newHeap(101, 0x7f0000000000n);
  const steps = [heap.reserve, heap.head, heap.tail, heap.commit].filter((c): c is Call => c !== null);
  const p = analysis();
  let seq = 1;
  for (const c of steps) {
    if (seq === lossBefore) p.lost(BigInt(lost), seq);
    p.process(call(seq++, 101, ...c));
  }
  if (seq === lossBefore) p.lost(BigInt(lost), seq);
  p.process(call(seq, 102, 'getpid', [], BigInt(PID)));
  return { findings: p.findings.filter((f) => f.kind === 'glibc-arena'), steps: steps.length };
}

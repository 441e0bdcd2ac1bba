// One look at a process without tracing it: /proc/PID/maps seeds a model,
// smaps gives RSS, each thread's stack pointer comes from
// /proc/PID/task/TID/syscall (no ptrace stop: the kernel reads it from a
// blocked task, and says "running" for one on a CPU), and the explanation
// classifies every region by shape and name (lib/explain, lib/detect/shape.ts).
import type { BinaryFacts } from '../explain/binary-facts';
import { classifyRegion } from '../explain/classify';
import { type Explanation, explain } from '../explain/explain';
import { parseSmaps } from '../explain/smaps';
import { AddressSpace } from '../model';
import { readStartBrk } from '../model/proc';
import { readProc, readProcLink, taskSyscalls } from '../proc';
import { HEAP_WINDOW } from '../detect/signatures';

/** One glibc malloc arena heap (a 64 MiB window) and its resident bytes. */
export interface ArenaSample {
  base: bigint;
  rssBytes: bigint;
}

export interface ProcessSample {
  pid: number;
  /** ms since the watch started. */
  time: number;
  exe: string | undefined;
  explanation: Explanation;
  arenas: ArenaSample[];
  /** Resident bytes of the Go heap arenas (class go-heap-arena). */
  goHeapRssBytes: bigint;
}

export interface SampleError {
  pid: number;
  time: number;
  /** One line: why this process could not be sampled. */
  error: string;
  /** The process is gone (exited between two samples). */
  gone: boolean;
}

/** Each thread's stack pointer where the kernel can tell it (blocked threads). */
export function threadStackPointers(pid: number): { tid: number; sp: bigint }[] {
  return [...taskSyscalls(pid)].map(([tid, { sp }]) => ({ tid, sp }));
}

/** binary: the executable's facts when the caller keeps them (undefined: read them now). */
export function sampleProcess(pid: number, time: number, binary?: BinaryFacts | null): ProcessSample | SampleError {
  const maps = readProc(`/proc/${pid}/maps`);
  if (maps === undefined) {
    const gone = readProc(`/proc/${pid}/stat`) === undefined;
    return { pid, time, gone, error: gone ? `process ${pid} is gone` : `cannot read /proc/${pid}/maps: not permitted (run as root or with CAP_SYS_PTRACE)` };
  }
  // An empty maps is a kernel thread or a zombie: nothing to explain.
  if (maps === '') return { pid, time, gone: false, error: `process ${pid} has no address space (a kernel thread or a zombie)` };
  const smaps = readProc(`/proc/${pid}/smaps`);
  if (smaps === undefined) return { pid, time, gone: false, error: `cannot read /proc/${pid}/smaps: not permitted (run as root or with CAP_SYS_PTRACE)` };
  const model = new AddressSpace(pid);
  model.seed(maps, { tid: pid, seq: 0, time, cause: 'snapshot' }, readStartBrk(pid));
  const exe = readProcLink(`/proc/${pid}/exe`);
  const explanation = explain({ pid, model, findings: [], exe, threadRegs: threadStackPointers(pid), smaps, binary });

  // Per-arena and Go heap RSS, from the same smaps.
  const regions = model.regions();
  const vmas = parseSmaps(smaps);
  const rssIn = (start: bigint, end: bigint): bigint => {
    let kb = 0n;
    for (const v of vmas) {
      if (v.end <= start || v.start >= end || v.end === v.start) continue;
      const lo = v.start > start ? v.start : start;
      const hi = v.end < end ? v.end : end;
      kb += (BigInt(v.rssKb) * (hi - lo)) / (v.end - v.start);
    }
    return kb * 1024n;
  };
  const windows = new Set<bigint>();
  let goHeapRssBytes = 0n;
  for (const r of regions) {
    const c = classifyRegion(r, regions).class;
    if (c === 'glibc-arena-heap') windows.add(r.start - (r.start % HEAP_WINDOW));
    else if (c === 'go-heap-arena') goHeapRssBytes += rssIn(r.start, r.end);
  }
  const arenas = [...windows].sort((a, b) => (a < b ? -1 : 1)).map((base) => ({ base, rssBytes: rssIn(base, base + HEAP_WINDOW) }));
  return { pid, time, exe, explanation, arenas, goHeapRssBytes };
}

export function isSampleError(s: ProcessSample | SampleError): s is SampleError {
  return 'error' in s;
}

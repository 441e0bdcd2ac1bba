// What the benches share about the tracers they compare: where liveprobe's
// CLI is, the floors (bench/*-floor.c, built beside the compiled bench), the
// perf engine's events as bench/perf-floor.c takes them, whether a process is
// ptrace'd, the records a run lost, and the median the tables print.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PERF_EVENT_FIELDS, PERF_FLAG_STACK_SAMPLE, PERF_ROLE, perfEventList } from '../lib/perf/events';
import { findTracefs, readTracepoint } from '../lib/perf/tracefs';
import { defaultTraceFilter, hostArch, stopSetFor } from '../lib/syscalls';
import { type Arch, syscallName } from '../lib/syscalls/table';
import { repoRoot } from '../test/helpers/fixtures';

/** tsc's CLI, the one the tests run (bench/startup.ts measures the bundled bin). */
export const cli = (): string => path.join(repoRoot(), 'dist', 'lib', 'cli', 'main.js');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Records a liveprobe run said it lost, from its closing line in the trace
 * file (lib/cli/main.ts writes `liveprobe: N records lost (…)`; the forced
 * loss through the CLI in test/perf-run.test.ts checks that line and this
 * reading of it); 0 without one.
 */
export function lostIn(trace: string): number {
  const m = /^liveprobe: (\d+) records? lost /m.exec(fs.readFileSync(trace, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Every thread of pid has a tracer (ptrace-based tracers are in place). */
export function allTraced(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).every((tid) =>
      /^TracerPid:\s*[1-9]/m.test(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')),
    );
  } catch {
    return false;
  }
}

/** bench/<name>.c, built next to the compiled bench when its source is newer. */
export function floorTracer(name: 'ptrace-floor' | 'seccomp-floor' | 'perf-floor'): string {
  const src = path.join(repoRoot(), 'bench', `${name}.c`);
  const bin = path.join(repoRoot(), 'dist', 'bench', name);
  if (!fs.existsSync(bin) || fs.statSync(bin).mtimeMs < fs.statSync(src).mtimeMs) {
    execFileSync('cc', ['-O2', '-Wall', '-o', bin, src], { stdio: 'inherit' });
  }
  return bin;
}

/**
 * The layouts bench/perf-floor.c is given, to show where the perf engine's
 * floor goes (docs/perf-engine.md, "What the floor is made of"):
 * - `engine`: the engine's own events (lib/perf/events.ts);
 * - `no-raw-syscalls`: the same without the raw_syscalls pair (clone3's
 *   entry, the task and exit events stay), so what the per-thread events
 *   cost by their presence (context switches, the slow syscall path);
 * - `per-call`: the raw_syscalls pair replaced by a `syscalls:sys_enter_X`
 *   and `sys_exit_X` for each call of the set, the layout the engine does not
 *   use (a target's other calls then cost a bitmap test, not a record).
 */
export type PerfFloorLayout = 'engine' | 'no-raw-syscalls' | 'per-call';

/**
 * The events for liveprobe's default set in `layout`, as bench/perf-floor.c
 * takes them: ID, ":s" for a stack sample, "=FILTER" for a tracepoint filter.
 */
export function perfFloorEvents(layout: PerfFloorLayout = 'engine'): string[] {
  const arch = hostArch();
  const tracefs = findTracefs();
  if (typeof tracefs !== 'string') throw new Error('bench: tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)');
  const nrs = stopSetFor(defaultTraceFilter(arch), arch).numbers;
  const { flat, filters } = perfEventList(tracefs, arch, nrs);
  const out: string[] = [];
  for (let i = 0, e = 0; i < flat.length; i += PERF_EVENT_FIELDS, e++) {
    const role = flat[i + 1];
    if (role === PERF_ROLE.rawEnter || role === PERF_ROLE.rawExit) {
      if (layout === 'no-raw-syscalls' || (layout === 'per-call' && role === PERF_ROLE.rawExit)) continue;
      if (layout === 'per-call') {
        out.push(...perCallIds(tracefs, arch, nrs));
        continue;
      }
    }
    const stack = flat[i + PERF_EVENT_FIELDS - 1]! & PERF_FLAG_STACK_SAMPLE ? ':s' : '';
    out.push(`${flat[i]}${stack}${filters[e] ? `=${filters[e]}` : ''}`);
  }
  return out;
}

/** syscalls:sys_enter_X and sys_exit_X for each call with both (clone3's entry is the engine's own event already). */
function perCallIds(tracefs: string, arch: Arch, nrs: readonly number[]): string[] {
  const ids: string[] = [];
  for (const nr of nrs) {
    const name = syscallName(arch, nr);
    const enter = readTracepoint(tracefs, 'syscalls', `sys_enter_${name}`);
    const exit = readTracepoint(tracefs, 'syscalls', `sys_exit_${name}`);
    if (!enter || !exit) continue;
    if (name !== 'clone3') ids.push(String(enter.id));
    ids.push(String(exit.id));
  }
  return ids;
}

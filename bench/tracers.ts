// What the benches share about the tracers they compare: where liveprobe's
// CLI is, the floors (bench/*-floor.c, built beside the compiled bench), the
// perf engine's events as bench/perf-floor.c takes them, whether a process is
// ptrace'd, and the median the tables print.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PERF_EVENT_FIELDS, PERF_FLAG_STACK_SAMPLE, perfEventList } from '../lib/perf/events';
import { findTracefs } from '../lib/perf/tracefs';
import { defaultTraceFilter, hostArch, stopSetFor } from '../lib/syscalls';
import { repoRoot } from '../test/helpers/fixtures';

/** tsc's CLI, the one the tests run (bench/startup.ts measures the bundled bin). */
export const cli = (): string => path.join(repoRoot(), 'dist', 'lib', 'cli', 'main.js');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
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
 * The perf engine's events for liveprobe's default set, as bench/perf-floor.c
 * takes them: ID, ":s" for a stack sample, "=FILTER" for a tracepoint filter
 * (lib/perf/events.ts).
 */
export function perfFloorEvents(): string[] {
  const arch = hostArch();
  const tracefs = findTracefs();
  if (typeof tracefs !== 'string') throw new Error('bench: tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)');
  const { flat, filters } = perfEventList(tracefs, arch, stopSetFor(defaultTraceFilter(arch), arch).numbers);
  const out: string[] = [];
  for (let i = 0, e = 0; i < flat.length; i += PERF_EVENT_FIELDS, e++) {
    const stack = flat[i + PERF_EVENT_FIELDS - 1]! & PERF_FLAG_STACK_SAMPLE ? ':s' : '';
    out.push(`${flat[i]}${stack}${filters[e] ? `=${filters[e]}` : ''}`);
  }
  return out;
}

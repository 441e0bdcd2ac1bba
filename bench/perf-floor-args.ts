// The perf engine's events as bench/perf-floor.c takes them: ID, ":s" for a
// stack sample, "=FILTER" for a tracepoint filter (lib/perf/events.ts).
import { PERF_EVENT_FIELDS, PERF_FLAG_STACK_SAMPLE } from '../lib/perf/events';

export function floorArgs(flat: readonly number[], filters: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0, e = 0; i < flat.length; i += PERF_EVENT_FIELDS, e++) {
    const stack = flat[i + PERF_EVENT_FIELDS - 1]! & PERF_FLAG_STACK_SAMPLE ? ':s' : '';
    out.push(`${flat[i]}${stack}${filters[e] ? `=${filters[e]}` : ''}`);
  }
  return out;
}

// Which tracepoints the perf engine opens for a trace set, and the flat list
// native/src/perf_events.h PerfEventSpec reads (kFields numbers each:
// id, role, syscall nr, six raw-field offsets, flags).
import { type Arch, syscallName } from '../syscalls/table';
import { type Tracepoint, readTracepoint } from './tracefs';

export const PERF_ROLE = { sysEnter: 1, sysExit: 2, taskNew: 3, processExit: 4 } as const;
export const PERF_EVENT_FIELDS = 10;
/** Sample the user stack and sp/ip with the event (clone3: its struct clone_args is on the caller's stack). */
export const PERF_FLAG_STACK_SAMPLE = 1;

/** Calls that never return: their exit tracepoint never fires, so it is not opened. */
const NO_RETURN = new Set(['exit', 'exit_group']);

export interface PerfEventList {
  flat: number[];
  /** Syscalls of the set this kernel has no tracepoint for (they cannot be traced by this engine). */
  missing: string[];
  /** A tracepoint the engine needs is missing or lacks a field: this kernel is too old or different. */
  unsupported?: string;
}

function offsets(tp: Tracepoint, names: readonly string[]): number[] {
  const out = names.map((n) => tp.fields.get(n)?.offset ?? -1);
  while (out.length < 6) out.push(-1);
  return out;
}

/** The events for syscall numbers `nrs` plus the task and exit tracepoints. */
export function perfEventList(root: string, arch: Arch, nrs: readonly number[]): PerfEventList {
  const flat: number[] = [];
  const missing: string[] = [];
  for (const nr of nrs) {
    const name = syscallName(arch, nr);
    const enter = readTracepoint(root, 'syscalls', `sys_enter_${name}`);
    const exit = NO_RETURN.has(name) ? undefined : readTracepoint(root, 'syscalls', `sys_exit_${name}`);
    if (!enter || (!exit && !NO_RETURN.has(name))) {
      missing.push(name);
      continue;
    }
    // The arguments are the fields after __syscall_nr, in order (kernel/trace/trace_syscalls.c).
    const args = enter.order.slice(enter.order.indexOf('__syscall_nr') + 1).slice(0, 6);
    flat.push(enter.id, PERF_ROLE.sysEnter, nr, ...offsets(enter, args), name === 'clone3' ? PERF_FLAG_STACK_SAMPLE : 0);
    if (exit) flat.push(exit.id, PERF_ROLE.sysExit, nr, ...offsets(exit, ['ret']), 0);
  }
  const newtask = readTracepoint(root, 'task', 'task_newtask');
  const procExit = readTracepoint(root, 'sched', 'sched_process_exit');
  if (!newtask?.fields.has('pid') || !newtask.fields.has('clone_flags')) {
    return { flat, missing, unsupported: 'task:task_newtask with pid and clone_flags' };
  }
  // group_dead says which thread's exit ends the process.
  if (!procExit?.fields.has('pid') || !procExit.fields.has('group_dead')) {
    return { flat, missing, unsupported: 'sched:sched_process_exit with a group_dead field (this kernel has none)' };
  }
  flat.push(newtask.id, PERF_ROLE.taskNew, -1, ...offsets(newtask, ['pid', 'clone_flags']), 0);
  flat.push(procExit.id, PERF_ROLE.processExit, -1, ...offsets(procExit, ['pid', 'group_dead']), 0);
  return { flat, missing };
}

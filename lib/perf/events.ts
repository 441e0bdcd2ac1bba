// Which tracepoints the perf engine opens for a trace set, and the flat list
// native/src/perf_events.h PerfEventSpec reads (kFields numbers each:
// id, role, syscall nr, six raw-field offsets, flags), with each event's filter.
import { type Arch, syscallNumber } from '../syscalls/table';
import { type Tracepoint, readTracepoint } from './tracefs';

export const PERF_ROLE = { sysEnter: 1, sysExit: 2, taskNew: 3, processExit: 4, rawEnter: 5, rawExit: 6 } as const;
export const PERF_EVENT_FIELDS = 10;
/** Sample the user stack and sp/ip with the event (clone3: its struct clone_args is on the caller's stack). */
export const PERF_FLAG_STACK_SAMPLE = 1;

export interface PerfEventList {
  flat: number[];
  /** Per event, the tracepoint filter the engine sets once at open ('' for none). */
  filters: string[];
  /** A tracepoint the engine needs is missing or lacks a field: this kernel is too old or different. */
  unsupported?: string;
  /** The trace set's filter is longer than the kernel takes: ptrace, and this says why. */
  tooLong?: string;
}

/**
 * The longest filter PERF_EVENT_IOC_SET_FILTER takes: the kernel copies it
 * with strndup_user(arg, PAGE_SIZE) (kernel/events/core.c
 * perf_event_set_filter), so a page less its NUL.
 */
export const PERF_FILTER_MAX = 4095;

/** `id == 9 || (id >= 10 && id <= 12)`: runs of three or more numbers as a range, so a long set stays short. */
export function syscallFilter(nrs: readonly number[]): string {
  const sorted = [...new Set(nrs)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    if (j - i >= 2) parts.push(`(id >= ${sorted[i]} && id <= ${sorted[j]})`);
    else for (let k = i; k <= j; k++) parts.push(`id == ${sorted[k]}`);
    i = j + 1;
  }
  return parts.join(' || ');
}

function offsets(tp: Tracepoint, names: readonly string[]): number[] {
  const out = names.map((n) => tp.fields.get(n)?.offset ?? -1);
  while (out.length < 6) out.push(-1);
  return out;
}

/**
 * The events for syscall numbers `nrs` plus the task and exit tracepoints.
 * The syscalls come from raw_syscalls:sys_enter and sys_exit with a filter on
 * the syscall number: four distinct tracepoints whatever the set, because the
 * kernel unregisters each distinct one with its own RCU wait under one mutex
 * when the events are closed (seconds with one tracepoint per syscall, and the
 * next attach waits for them: docs/perf-engine.md, "Teardown"). clone3's
 * entry has its own tracepoint, the one event that samples the user stack.
 */
export function perfEventList(root: string, arch: Arch, nrs: readonly number[]): PerfEventList {
  const flat: number[] = [];
  const filters: string[] = [];
  const rawEnter = readTracepoint(root, 'raw_syscalls', 'sys_enter');
  const rawExit = readTracepoint(root, 'raw_syscalls', 'sys_exit');
  if (!rawEnter?.fields.has('id') || !rawEnter.fields.has('args') || !rawExit?.fields.has('id') || !rawExit.fields.has('ret')) {
    return { flat, filters, unsupported: 'raw_syscalls:sys_enter and sys_exit with id, args and ret' };
  }
  const clone3 = syscallNumber(arch, 'clone3');
  const clone3Enter = clone3 !== undefined && nrs.includes(clone3) ? readTracepoint(root, 'syscalls', 'sys_enter_clone3') : undefined;
  const byId = syscallFilter;
  const entered = nrs.filter((nr) => !(clone3Enter && nr === clone3));
  flat.push(rawEnter.id, PERF_ROLE.rawEnter, -1, ...offsets(rawEnter, ['id', 'args']), 0);
  filters.push(byId(entered));
  flat.push(rawExit.id, PERF_ROLE.rawExit, -1, ...offsets(rawExit, ['id', 'ret']), 0);
  filters.push(byId(nrs));
  if (clone3Enter && clone3 !== undefined) {
    const args = clone3Enter.order.slice(clone3Enter.order.indexOf('__syscall_nr') + 1).slice(0, 6);
    flat.push(clone3Enter.id, PERF_ROLE.sysEnter, clone3, ...offsets(clone3Enter, args), PERF_FLAG_STACK_SAMPLE);
    filters.push('');
  }
  const newtask = readTracepoint(root, 'task', 'task_newtask');
  const procExit = readTracepoint(root, 'sched', 'sched_process_exit');
  if (!newtask?.fields.has('pid') || !newtask.fields.has('clone_flags')) {
    return { flat, filters, unsupported: 'task:task_newtask with pid and clone_flags' };
  }
  // group_dead says which thread's exit ends the process.
  if (!procExit?.fields.has('pid') || !procExit.fields.has('group_dead')) {
    return { flat, filters, unsupported: 'sched:sched_process_exit with a group_dead field (this kernel has none)' };
  }
  const long = filters.find((f) => f.length > PERF_FILTER_MAX);
  if (long !== undefined) {
    return { flat, filters, tooLong: `the trace set's tracepoint filter is ${long.length} characters, more than the kernel's ${PERF_FILTER_MAX}; trace fewer calls` };
  }
  flat.push(newtask.id, PERF_ROLE.taskNew, -1, ...offsets(newtask, ['pid', 'clone_flags']), 0);
  filters.push('');
  flat.push(procExit.id, PERF_ROLE.processExit, -1, ...offsets(procExit, ['pid', 'group_dead']), 0);
  filters.push('');
  return { flat, filters };
}

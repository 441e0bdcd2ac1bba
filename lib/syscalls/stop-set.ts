// What the native tracer stops on: the user's trace filter plus what the
// address-space model and the detectors can never do without. In `run` this
// set becomes the seccomp filter; in `attach` every syscall stops anyway and
// the set only limits what is recorded.
import type { TraceFilter } from './filter';
import { type Arch, syscallNumber } from './table';

/** Every syscall that changes the address space (strace's MEMORY_MAPPING_CHANGE) and the thread/process lifecycle. */
export const ALWAYS_TRACED: readonly string[] = [
  'mmap', 'munmap', 'mprotect', 'pkey_mprotect', 'mremap', 'brk', 'shmat', 'shmdt', 'remap_file_pages', 'madvise',
  'clone', 'clone3', 'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group',
  'rseq', 'set_robust_list', 'prctl',
];

export interface StopSet {
  /** Stop on every syscall (no seccomp filter). */
  all: boolean;
  numbers: number[];
}

export function stopSetFor(filter: TraceFilter, arch: Arch): StopSet {
  if (filter.all || filter.matches(100_000)) {
    // A negated filter selects numbers beyond any table: not expressible as a list.
    return { all: true, numbers: [] };
  }
  const numbers = new Set(filter.numbers);
  for (const name of ALWAYS_TRACED) {
    const nr = syscallNumber(arch, name);
    if (nr !== undefined) numbers.add(nr);
  }
  return { all: false, numbers: [...numbers].sort((a, b) => a - b) };
}

// Public surface of the syscall tables and trace filter.

export { ARCHES, type Arch, type SyscallTable, hostArch, syscallName, syscallNumber, syscallTable } from './table';
export { DEFAULT_TRACE, SYSCALL_CLASSES, isSyscallClass } from './classes';
export { FilterError, type TraceFilter, defaultTraceFilter, parseTraceFilter } from './filter';
export { ALWAYS_TRACED, type StopSet, stopSetFor } from './stop-set';

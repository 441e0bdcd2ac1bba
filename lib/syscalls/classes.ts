// Named syscall classes usable as `%name` in a trace filter. Classes are
// arch-independent name lists; a name missing from an arch's table (fork on
// aarch64, arch_prctl outside x86_64) is simply not selected there, as in
// strace where each personality's table decides membership.

/**
 * strace 6.1's TRACE_MEMORY (TM) set, as measured from its syscallent tables.
 * io_setup/io_destroy/io_uring_register are in it because they map or pin
 * memory in the caller's address space (aio rings, io_uring buffers).
 */
const MEMORY = [
  'brk', 'get_mempolicy', 'io_destroy', 'io_setup', 'io_uring_register', 'madvise', 'mbind',
  'migrate_pages', 'mincore', 'mlock', 'mlock2', 'mlockall', 'mmap', 'move_pages', 'mprotect',
  'mremap', 'msync', 'munlock', 'munlockall', 'munmap', 'pkey_mprotect', 'remap_file_pages',
  'set_mempolicy', 'set_mempolicy_home_node', 'shmat', 'shmdt',
] as const;

/** strace 6.1's TRACE_PROCESS (TP) set: process lifecycle and signalling others. */
const PROCESS = [
  'clone', 'clone3', 'execve', 'execveat', 'exit', 'exit_group', 'fork', 'kill',
  'pidfd_send_signal', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'tgkill', 'tkill', 'vfork',
  'wait4', 'waitid',
] as const;

/**
 * liveprobe's own class (strace has none): what a runtime such as Go does to
 * create, set up and retire an OS thread, so thread birth and death can be
 * attributed without tracing everything.
 */
const THREAD = [
  'arch_prctl', 'clone', 'clone3', 'exit', 'exit_group', 'fork', 'gettid', 'prctl', 'rseq',
  'set_robust_list', 'set_tid_address', 'sigaltstack', 'vfork',
] as const;

export const SYSCALL_CLASSES: Readonly<Record<string, readonly string[]>> = {
  '%memory': MEMORY,
  '%process': PROCESS,
  '%thread': THREAD,
};

/** What liveprobe traces when no `-e trace=` is given. */
export const DEFAULT_TRACE: readonly string[] = ['%memory', '%process', '%thread'];

export function isSyscallClass(token: string): boolean {
  return Object.prototype.hasOwnProperty.call(SYSCALL_CLASSES, token);
}

// The architectures liveprobe decodes and the shape of a syscall table; the
// tables themselves are generated (tools/gen-syscall-tables.mjs) and import
// only this, so lib/syscalls/table.ts can import them without a circle.

export type Arch = 'x86_64' | 'aarch64';

export interface SyscallTable {
  readonly arch: Arch;
  /** names[nr] is the kernel's name for syscall nr, or undefined if unassigned. */
  readonly names: readonly (string | undefined)[];
}

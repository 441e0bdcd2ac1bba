// Syscall number <-> name lookup per architecture. The numbers themselves live
// only in the generated table-*.ts files (tools/gen-syscall-tables.mjs); this
// module adds lookups on top and never repeats a number.

import type { Arch, SyscallTable } from './arch';
import { AARCH64 } from './table-aarch64';
import { X86_64 } from './table-x86_64';

export type { Arch, SyscallTable } from './arch';

export const ARCHES: readonly Arch[] = ['x86_64', 'aarch64'];

const TABLES: Readonly<Record<Arch, SyscallTable>> = { x86_64: X86_64, aarch64: AARCH64 };

export function syscallTable(arch: Arch): SyscallTable {
  return TABLES[arch];
}

/**
 * Name of syscall `nr`, or strace's spelling for a number the table does not
 * know (`syscall_0x1c8`), so output for new kernels stays readable and
 * greppable next to strace's. Negative numbers (e.g. -1 from a syscall a
 * seccomp filter or ptrace skipped) are shown as the kernel's unsigned long,
 * as strace does.
 */
export function syscallName(arch: Arch, nr: number): string {
  if (!Number.isSafeInteger(nr)) throw new RangeError(`syscall number must be an integer, got ${nr}`);
  const name = nr >= 0 ? TABLES[arch].names[nr] : undefined;
  if (name !== undefined) return name;
  return `syscall_0x${BigInt.asUintN(64, BigInt(nr)).toString(16)}`;
}

// Built on first use: most runs only ever look at the host arch.
const reverse = new Map<Arch, ReadonlyMap<string, number>>();

function numbersByName(arch: Arch): ReadonlyMap<string, number> {
  let map = reverse.get(arch);
  if (map === undefined) {
    const built = new Map<string, number>();
    TABLES[arch].names.forEach((name, nr) => {
      if (name !== undefined) built.set(name, nr);
    });
    reverse.set(arch, built);
    map = built;
  }
  return map;
}

/** Number of the syscall called `name` on `arch`, or undefined if it has none. */
export function syscallNumber(arch: Arch, name: string): number | undefined {
  return numbersByName(arch).get(name);
}

/** The architecture this Node process runs on; ptrace only traces same-arch tracees. */
export function hostArch(): Arch {
  switch (process.arch) {
    case 'x64':
      return 'x86_64';
    case 'arm64':
      return 'aarch64';
    default:
      throw new Error(`liveprobe traces x86_64 and aarch64 only; this Node runs on ${process.arch}`);
  }
}

// The class of every region (docs/go-glibc-musl.md, "Classes"): what the detectors
// proved, else what the kernel's name says, else what the shape says.
import type { Region, RegionClass } from '../model';
import { classifyByShape } from '../detect/shape';
import { PROT_WRITE } from '../syscalls/abi';

export interface RegionClassification {
  class: RegionClass;
  basis: 'proof' | 'shape' | 'name';
}

const KERNEL_NAMES = new Set(['[vdso]', '[vvar]', '[vvar_vclock]', '[vsyscall]', '[uprobes]']);

export function classifyRegion(r: Region, all: readonly Region[]): RegionClassification {
  if (r.class !== null) return { class: r.class, basis: r.origin.cause === 'snapshot' ? 'shape' : 'proof' };
  if (r.name === '[heap]') return { class: 'main-heap', basis: 'name' };
  if (r.name === '[stack]') return { class: 'main-stack', basis: 'name' };
  if (KERNEL_NAMES.has(r.name)) return { class: 'vdso-vvar', basis: 'name' };
  if (r.kind === 'file') return { class: 'file-segment', basis: 'name' };
  if (r.kind === 'anon' && r.name === '' && (r.prot & PROT_WRITE) !== 0) {
    // The .bss tail of an ELF image: anonymous RW right after the file's data segment.
    const before = all[all.indexOf(r) - 1];
    if (before && before.end === r.start && before.kind === 'file' && (before.prot & PROT_WRITE) !== 0) {
      return { class: 'file-bss', basis: 'name' };
    }
  }
  if (r.origin.cause === 'snapshot') {
    const shape = classifyByShape(r, all);
    if (shape) return { class: shape, basis: 'shape' };
  }
  return { class: 'anonymous', basis: 'name' };
}

// Compares the model with /proc/PID/maps, page by page: same pages mapped,
// same permissions, same backing (file and offset, SysV segment, or
// anonymous). Both sides are first reduced to a canonical form by merging
// neighbours that cover the same kind of memory, because the kernel keeps
// VMAs apart for reasons a tracer cannot see (different anon_vma after
// faults, VM_NORESERVE/accounting flags, madvise and mlock splits, names)
// and the model keeps apart regions made by different syscalls.
import { type MapsEntry, type Region, isGate, kindOfName, permsOf } from './region';

/** A range where the kernel and the model disagree. */
export interface Difference {
  start: bigint;
  end: bigint;
  /** What /proc/PID/maps shows there ('rw-p [anon]', 'r--p /lib/x.so @0x1000'), or null: unmapped. */
  kernel: string | null;
  /** What the model has there, same notation, or null: unmapped. */
  model: string | null;
}

/** A difference that verify() accepted, and why. */
export interface Allowance {
  start: bigint;
  end: bigint;
  reason: string;
}

export interface VerifyResult {
  /** No difference outside the declared allowances. */
  equal: boolean;
  differences: Difference[];
  allowed: Allowance[];
  /** Bytes mapped, as the model and the kernel count VmSize (the gate page excluded). */
  modelBytes: bigint;
  kernelBytes: bigint;
  /** The /proc/PID/maps text compared against. */
  maps: string;
  /** Records the model failed to apply (AddressSpace.faults); any makes the result unequal. */
  faults?: string[];
}

/** One canonical run of pages. */
interface Span {
  start: bigint;
  end: bigint;
  perms: string;
  /** 'anon', 'shared-anon', a path, a SysV name, '[stack]', '[vdso]', …: the backing. */
  backing: string;
  /** Whether offsets are meaningful (file-backed memory, SysV segments). */
  hasOffset: boolean;
  offset: bigint;
}

/**
 * What backs a mapping, from its maps name. The name of anonymous memory is
 * cosmetic: '[heap]' depends on where brk is now, '[anon:x]' on prctl names
 * (Go ≥ 1.25 names its mappings). Shared anonymous memory is a shmem file the
 * kernel names '/dev/zero (deleted)', or '[anon_shmem:x]' once named.
 */
function backingOf(name: string): { backing: string; hasOffset: boolean } {
  const kind = kindOfName(name);
  if (kind === 'anon') {
    return name.startsWith('[anon_shmem:') ? { backing: 'shared-anon', hasOffset: true } : { backing: 'anon', hasOffset: false };
  }
  if (name === '/dev/zero (deleted)') return { backing: 'shared-anon', hasOffset: true };
  if (kind === 'file' || kind === 'shm') return { backing: name, hasOffset: true };
  return { backing: name, hasOffset: false }; // [stack], [vdso], [vvar]: by name
}

function toSpan(start: bigint, end: bigint, prot: number, shared: boolean, offset: bigint, name: string): Span {
  const { backing, hasOffset } = backingOf(name);
  return { start, end, perms: permsOf(prot, shared), backing, hasOffset, offset: hasOffset ? offset : 0n };
}

function canonical(spans: Span[]): Span[] {
  const out: Span[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (
      last &&
      last.end === s.start &&
      last.perms === s.perms &&
      last.backing === s.backing &&
      (!s.hasOffset || s.offset === last.offset + (last.end - last.start))
    ) {
      last.end = s.end;
    } else {
      out.push({ ...s });
    }
  }
  return out;
}

function describe(s: Span, at: bigint): string {
  const what = s.backing === 'anon' ? '[anon]' : s.backing;
  return s.hasOffset ? `${s.perms} ${what} @0x${(s.offset + (at - s.start)).toString(16)}` : `${s.perms} ${what}`;
}

function sameAt(k: Span, m: Span, at: bigint): boolean {
  return (
    k.perms === m.perms &&
    k.backing === m.backing &&
    (!k.hasOffset || k.offset + (at - k.start) === m.offset + (at - m.start))
  );
}

/** The comparison itself; pure, so it can be tested on fixed texts. */
export function compareWithMaps(model: readonly Region[], kernelEntries: readonly MapsEntry[], mapsText: string): VerifyResult {
  const allowed: Allowance[] = [];
  // Allowance 1 — [vsyscall]: the legacy gate page is listed by the kernel but
  // is no VMA of the process (not in VmSize, same in every process, absent
  // with vsyscall=none). Left out on both sides.
  const kernel = canonical(
    kernelEntries
      .filter((e) => !isGate(e.name))
      .map((e) => toSpan(e.start, e.end, e.prot, e.shared, e.offset, e.name))
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)),
  );
  const mine = canonical(
    model.filter((r) => !isGate(r.name)).map((r) => toSpan(r.start, r.end, r.prot, r.shared, r.offset, r.name)),
  );
  let kernelBytes = 0n;
  for (const s of kernel) kernelBytes += s.end - s.start;
  let modelBytes = 0n;
  for (const s of mine) modelBytes += s.end - s.start;

  // Allowance 2 — the main [stack] grows down on page faults, which no
  // syscall reports. Accepted only as such: same top, same permissions, the
  // kernel's bottom lower than the model's. The grown pages are listed in
  // `allowed`, and the model is not changed by looking.
  const ks = kernel.find((s) => s.backing === '[stack]');
  const ms = mine.find((s) => s.backing === '[stack]');
  if (ks && ms && ks.end === ms.end && ks.perms === ms.perms && ks.start < ms.start) {
    const prevEnd = mine[mine.indexOf(ms) - 1]?.end ?? 0n;
    if (prevEnd <= ks.start) {
      allowed.push({ start: ks.start, end: ms.start, reason: 'main stack grown by page faults (no syscall reports it)' });
      ms.start = ks.start;
    }
  }
  // [vvar]/[vvar_vclock]/[vdso] need no allowance: the kernel makes them at
  // exec, the exec snapshot seeds them, and they move only by mremap, which
  // the model applies. They are compared like any other region.

  const differences: Difference[] = [];
  const push = (start: bigint, end: bigint, kernelText: string | null, modelText: string | null, contiguousOk: boolean) => {
    const last = differences[differences.length - 1];
    if (contiguousOk && last && last.end === start && last.kernel === kernelText && last.model === modelText) last.end = end;
    else differences.push({ start, end, kernel: kernelText, model: modelText });
  };
  let i = 0;
  let j = 0;
  let pos = -1n;
  while (i < kernel.length || j < mine.length) {
    const k = kernel[i];
    const m = mine[j];
    if (pos < 0n) pos = k && m ? (k.start < m.start ? k.start : m.start) : (k ?? m)!.start;
    const kIn = k && k.start <= pos ? k : undefined;
    const mIn = m && m.start <= pos ? m : undefined;
    let next = -1n;
    const consider = (v: bigint | undefined) => {
      if (v !== undefined && v > pos && (next < 0n || v < next)) next = v;
    };
    consider(kIn ? kIn.end : k?.start);
    consider(mIn ? mIn.end : m?.start);
    if (kIn || mIn) {
      const same = kIn && mIn && sameAt(kIn, mIn, pos);
      if (!same) {
        // Offsets advance with the address: only identical descriptions of
        // the start of a piece can extend the previous difference.
        push(pos, next, kIn ? describe(kIn, pos) : null, mIn ? describe(mIn, pos) : null, !kIn?.hasOffset && !mIn?.hasOffset);
      }
    }
    pos = next;
    if (kIn && kIn.end === pos) i++;
    if (mIn && mIn.end === pos) j++;
  }
  return { equal: differences.length === 0, differences, allowed, modelBytes, kernelBytes, maps: mapsText };
}

export function formatDifference(d: Difference): string {
  return `${d.start.toString(16)}-${d.end.toString(16)}: kernel ${d.kernel ?? 'unmapped'}, model ${d.model ?? 'unmapped'}`;
}

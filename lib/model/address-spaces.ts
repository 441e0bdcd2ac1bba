// Feeds the address-space models of one session from the tracer's raw
// records, as each batch arrives (before, and whether or not, anybody
// consumes the events): the model is live even when the consumer is slow.
// Reads the packed records in place; builds no event objects.
import type { Arch } from '../syscalls/table';
import { syscallNumber } from '../syscalls/table';
import { AUDIT_ARCH, type BatchView, FIELD, FLAG, KIND, START_EVENT } from '../wire';
import { AddressSpace } from './address-space';
import {
  CLONE_THREAD,
  CLONE_VM,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_TYPE,
  MAX_ERRNO,
  PR_SET_VMA,
  PR_SET_VMA_ANON_NAME,
  PROT_WRITE,
} from './linux-constants';
import { fdOpenForWriting, readShmSegments, readStartBrk } from './proc';
import type { Provenance } from './region';

// Codes of a thread-start record's `b` field, by name (wire.ts START_EVENT).
const START = Object.fromEntries(Object.entries(START_EVENT).map(([code, how]) => [how, Number(code)])) as Record<
  (typeof START_EVENT)[keyof typeof START_EVENT],
  number
>;

type Applier = (set: AddressSpaces, space: AddressSpace, b: BatchView, i: number, ret: bigint) => void;

const utf8 = new TextDecoder('utf-8', { fatal: false });

function arg(b: BatchView, i: number, k: number): bigint {
  return b.u64(i, FIELD.args + 8 * k);
}

/** The low 32 bits of a register, as the kernel reads an int argument. */
function int(b: BatchView, i: number, k: number): number {
  return Number(arg(b, i, k) & 0xffffffffn) | 0;
}

function failed(ret: bigint): boolean {
  return ret < 0n && ret >= -MAX_ERRNO;
}

function errnoOf(ret: bigint): number {
  return failed(ret) ? Number(-ret) : 0;
}

/** Returned addresses are unsigned. */
function addr(ret: bigint): bigint {
  return BigInt.asUintN(64, ret);
}

// One applier per syscall, by name; the numbers come from the syscall tables.
// Argument order is the same on x86_64 and aarch64 for all of these.
const APPLIERS: Record<string, Applier> = {
  mmap: (set, s, b, i, ret) => {
    if (failed(ret)) return;
    const data = b.data(i, 1);
    const path = data.length ? utf8.decode(data) : undefined;
    const prot = int(b, i, 2);
    const flags = int(b, i, 3);
    // A shared file mapping made without PROT_WRITE may or may not be made
    // writable later: that depends on the fd's mode, which the record does
    // not carry. Ask /proc while the fd likely still exists.
    let fdWritable: boolean | undefined;
    if (path !== undefined && (flags & MAP_TYPE) !== MAP_PRIVATE && !(flags & MAP_ANONYMOUS) && !(prot & PROT_WRITE)) {
      fdWritable = fdOpenForWriting(b.u32(i, FIELD.pid), int(b, i, 4), path);
    }
    s.applyMmap(addr(ret), arg(b, i, 1), prot, flags, path, arg(b, i, 5), set.provenance(b, i, 'mmap'), fdWritable);
  },
  munmap: (set, s, b, i, ret) => {
    if (failed(ret)) return;
    s.applyMunmap(arg(b, i, 0), arg(b, i, 1), set.provenance(b, i, 'munmap'));
  },
  mprotect: (set, s, b, i, ret) => {
    s.applyMprotect(arg(b, i, 0), arg(b, i, 1), int(b, i, 2), errnoOf(ret), set.provenance(b, i, 'mprotect'));
  },
  pkey_mprotect: (set, s, b, i, ret) => {
    s.applyMprotect(arg(b, i, 0), arg(b, i, 1), int(b, i, 2), errnoOf(ret), set.provenance(b, i, 'pkey_mprotect'));
  },
  mremap: (set, s, b, i, ret) => {
    if (failed(ret)) {
      s.applyFailedMremap(arg(b, i, 0), arg(b, i, 1), arg(b, i, 2), int(b, i, 3), arg(b, i, 4), errnoOf(ret), set.provenance(b, i, 'mremap'));
      return;
    }
    s.applyMremap(arg(b, i, 0), arg(b, i, 1), arg(b, i, 2), int(b, i, 3), addr(ret), set.provenance(b, i, 'mremap'));
  },
  brk: (set, s, b, i, ret) => {
    s.applyBrk(addr(ret), set.provenance(b, i, 'brk'));
  },
  shmat: (set, s, b, i, ret) => {
    if (failed(ret)) return;
    const shmid = int(b, i, 0);
    s.applyShmat(addr(ret), shmid, int(b, i, 2), readShmSegments().get(shmid), set.provenance(b, i, 'shmat'));
  },
  shmdt: (set, s, b, i, ret) => {
    if (failed(ret)) return;
    s.applyShmdt(arg(b, i, 0), set.provenance(b, i, 'shmdt'));
  },
  remap_file_pages: (set, s, b, i, ret) => {
    if (failed(ret)) return;
    s.applyRemapFilePages(arg(b, i, 0), arg(b, i, 1), arg(b, i, 3), set.provenance(b, i, 'remap_file_pages'));
  },
  madvise: (set, s, b, i, ret) => {
    s.applyMadvise(arg(b, i, 0), arg(b, i, 1), int(b, i, 2), errnoOf(ret), set.provenance(b, i, 'madvise'));
  },
  prctl: (set, s, b, i, ret) => {
    if (failed(ret) || int(b, i, 0) !== PR_SET_VMA || arg(b, i, 1) !== BigInt(PR_SET_VMA_ANON_NAME)) return;
    // The name is tracee memory; the tracer does not read it yet, so only a
    // record that carries it (data) renames; otherwise names stay as they
    // were. Names are cosmetic for verify() (anonymous memory is compared by
    // pages and permissions).
    const data = b.data(i, 1);
    if (arg(b, i, 4) !== 0n && data.length === 0) return;
    const name = data.length ? utf8.decode(data).replace(/\0.*$/s, '') : null;
    s.applyAnonName(arg(b, i, 2), arg(b, i, 3), name, set.provenance(b, i, 'prctl'));
  },
  clone: (set, _s, b, i, ret) => {
    if (ret > 0n) set.cloneFlags(b.u32(i, FIELD.pid), Number(ret), arg(b, i, 0));
  },
  clone3: (set, _s, b, i, ret) => {
    const data = b.data(i, 1);
    if (ret > 0n && data.length >= 8) {
      set.cloneFlags(b.u32(i, FIELD.pid), Number(ret), new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true));
    }
  },
};

function archOf(audit: number): Arch {
  return audit === AUDIT_ARCH.aarch64 ? 'aarch64' : 'x86_64';
}

/** Every address space of a session, by pid. */
export class AddressSpaces {
  readonly #byPid = new Map<number, AddressSpace>();
  /** tgid of every known thread, to find a clone's parent process. */
  readonly #pidOfTid = new Map<number, number>();
  /** Children given a copy at thread-start, before their parent's clone flags were known. */
  readonly #copied = new Set<number>();
  readonly #appliers = new Map<Arch, Map<number, Applier>>();
  readonly #baseNs: bigint;

  constructor(baseNs: bigint) {
    this.#baseNs = baseNs;
  }

  /** The address space of process pid (shared with its parent while a vfork child). */
  get(pid: number): AddressSpace | undefined {
    return this.#byPid.get(pid);
  }

  /** Live view, by pid. */
  get byPid(): ReadonlyMap<number, AddressSpace> {
    return this.#byPid;
  }

  /** Provenance of record i. */
  provenance(b: BatchView, i: number, cause: string): Provenance {
    const p: { tid: number; seq: number; time: number; cause: string; entered?: number } = {
      tid: b.u32(i, FIELD.tid),
      seq: b.u64n(i, FIELD.seq),
      time: (b.u64n(i, FIELD.time_ns) - Number(this.#baseNs)) / 1e6,
      cause,
    };
    const entry = b.u64n(i, FIELD.entry_ns);
    if (b.u16(i, FIELD.kind) === KIND.syscall && !(b.u16(i, FIELD.flags) & FLAG.noEntry) && entry !== 0) {
      p.entered = (entry - Number(this.#baseNs)) / 1e6;
    }
    return p;
  }

  /**
   * Applies record i of a batch. Cheap for records the model ignores. Never
   * throws: a record the model cannot apply must not stop the tracer; the
   * error is kept on the process's model (AddressSpace.faults) and makes
   * verify() unequal.
   */
  apply(b: BatchView, i: number): void {
    if (i === 0 && b.lost > 0n) {
      // overflow: 'drop' lost records before this batch: any of them may
      // have changed a mapping, so no model can be trusted from here on.
      for (const space of new Set(this.#byPid.values())) {
        if (space.faults.length < 100) space.faults.push(`${b.lost} records dropped before seq ${b.u64(0, FIELD.seq)} (overflow: 'drop')`);
      }
    }
    try {
      this.#apply(b, i);
    } catch (err) {
      const space = this.#byPid.get(b.u32(i, FIELD.pid));
      const msg = `record seq ${b.u64(i, FIELD.seq)}: ${err instanceof Error ? err.message : String(err)}`;
      if (space && space.faults.length < 100) space.faults.push(msg);
    }
  }

  #apply(b: BatchView, i: number): void {
    switch (b.u16(i, FIELD.kind)) {
      case KIND.syscall:
        return this.#syscall(b, i);
      case KIND.snapshot:
        return this.#snapshot(b, i);
      case KIND.exec:
        return this.#exec(b, i);
      case KIND.threadStart:
        return this.#threadStart(b, i);
      case KIND.threadExit:
        this.#pidOfTid.delete(b.u32(i, FIELD.tid));
        return;
      case KIND.exit:
        return this.#exit(b, i);
      default:
        return;
    }
  }

  #syscall(b: BatchView, i: number): void {
    const flags = b.u16(i, FIELD.flags);
    // No return value (the task died inside, or the exit stop was lost): what
    // the kernel did is unknown. No entry (the first stop after attach was an
    // exit): the arguments were never read, and the call finished before the
    // snapshot, which already shows its effect.
    if (!(flags & FLAG.hasReturn) || flags & FLAG.noEntry) return;
    const arch = archOf(b.u32(i, FIELD.arch));
    const applier = this.#appliersFor(arch).get(b.i32(i, FIELD.nr));
    if (!applier) return;
    const space = this.#byPid.get(b.u32(i, FIELD.pid));
    if (!space) return;
    applier(this, space, b, i, b.i64(i, FIELD.ret));
  }

  #appliersFor(arch: Arch): Map<number, Applier> {
    let m = this.#appliers.get(arch);
    if (!m) {
      m = new Map();
      for (const [name, fn] of Object.entries(APPLIERS)) {
        const nr = syscallNumber(arch, name);
        if (nr !== undefined) m.set(nr, fn);
      }
      this.#appliers.set(arch, m);
    }
    return m;
  }

  #snapshot(b: BatchView, i: number): void {
    const pid = b.u32(i, FIELD.pid);
    let space = this.#byPid.get(pid);
    if (!space || space.pid !== pid) {
      space = new AddressSpace(pid);
      this.#byPid.set(pid, space);
    }
    this.#pidOfTid.set(pid, pid);
    space.seed(utf8.decode(b.data(i, 1)), this.provenance(b, i, 'snapshot'), readStartBrk(pid));
  }

  // exec gives the process a new, empty mm; the snapshot record follows.
  #exec(b: BatchView, i: number): void {
    const pid = b.u32(i, FIELD.pid);
    const tid = b.u32(i, FIELD.tid);
    const space = this.#byPid.get(pid);
    this.#copied.delete(pid);
    this.#pidOfTid.set(tid, pid);
    if (space && space.pid === pid) {
      // Same object across exec: listeners on session.model keep working.
      space.reset(this.provenance(b, i, 'exec'));
    } else {
      // A vfork child leaves its parent's address space.
      this.#byPid.set(pid, new AddressSpace(pid));
    }
  }

  #threadStart(b: BatchView, i: number): void {
    const pid = b.u32(i, FIELD.pid);
    const tid = b.u32(i, FIELD.tid);
    const how = b.u32(i, FIELD.b);
    const followed = b.u64(i, FIELD.args) !== 0n;
    if (how === START.attach || tid !== pid) {
      // A thread: it shares its process's address space.
      this.#pidOfTid.set(tid, pid);
      return;
    }
    if (!followed) return; // a child process nobody traces: no records will come for it
    this.#pidOfTid.set(tid, pid);
    const parentTid = b.u32(i, FIELD.a);
    const parent = this.#byPid.get(this.#pidOfTid.get(parentTid) ?? parentTid);
    if (!parent) return;
    if (how === START.vfork) {
      // vfork (and posix_spawn's CLONE_VM|CLONE_VFORK): the child runs in the
      // parent's mm until it execs or exits. (CLONE_VFORK without CLONE_VM
      // would need a copy; nothing uses it.)
      this.#byPid.set(pid, parent);
    } else {
      // fork, or clone of a new process: a copy, unless the parent's clone
      // record (it comes at the parent's return) shows CLONE_VM; see cloneFlags.
      this.#byPid.set(pid, parent.forkCopy(pid, this.provenance(b, i, how === START.fork ? 'fork' : 'clone')));
      this.#copied.add(pid);
    }
  }

  /** The parent's clone/clone3 returned child: a new process made with CLONE_VM shares the parent's mm. */
  cloneFlags(parentPid: number, child: number, flags: bigint): void {
    const f = Number(flags & 0xffffffffn);
    if (f & CLONE_THREAD || !(f & CLONE_VM) || !this.#copied.has(child)) return;
    const parent = this.#byPid.get(parentPid);
    if (parent) this.#byPid.set(child, parent);
    this.#copied.delete(child);
  }

  #exit(b: BatchView, i: number): void {
    const pid = b.u32(i, FIELD.pid);
    const space = this.#byPid.get(pid);
    this.#copied.delete(pid);
    this.#pidOfTid.delete(pid);
    if (!space) return;
    // A process's own model stays (its last state, for --maps and reports);
    // a vfork child that never exec'd only borrowed its parent's.
    if (space.pid === pid) space.exited = true;
    else this.#byPid.delete(pid);
  }
}

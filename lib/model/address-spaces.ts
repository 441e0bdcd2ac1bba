// Every address space of a session, by pid, fed one event at a time in
// record order by lib/analysis.ts (before the detectors, and whether or not
// anybody consumes the events: the model is live even when the consumer is
// slow). Memory calls arrive as their numeric view (lib/syscalls/calls.ts).
import type { TraceEvent } from '../events';
import { CLONE_THREAD, CLONE_VM, MAP_ANONYMOUS, MAP_PRIVATE, MAP_TYPE, PROT_WRITE, PR_SET_VMA, PR_SET_VMA_ANON_NAME } from '../syscalls/abi';
import type { Call } from '../syscalls/calls';
import { AddressSpace } from './address-space';
import { fdOpenForWriting, readShmSegments, readStartBrk } from './proc';
import type { Provenance } from './region';
import type { Difference } from './verify';

type Applier<C extends Call = Call> = (set: AddressSpaces, space: AddressSpace, c: C, cause: Provenance, pid: number) => void;
/** The view of the call named K (MprotectCall serves two names). */
type CallNamed<K extends Call['call']> = Call extends infer C ? (C extends { call: infer N } ? (K extends N ? C : never) : never) : never;
type Appliers = { [K in Call['call']]?: Applier<CallNamed<K>> };

const utf8 = new TextDecoder('utf-8', { fatal: false });

// One applier per call. Only successful calls change mappings, except where
// the kernel changes some before it fails (said in AddressSpace).
const APPLIERS: Appliers = {
  mmap: (_set, s, c, cause, pid) => {
    if (c.errno) return;
    // A shared file mapping made without PROT_WRITE may or may not be made
    // writable later: that depends on the fd's mode, which the record does
    // not carry. Ask /proc while the fd likely still exists.
    let fdWritable: boolean | undefined;
    if (c.path !== undefined && (c.flags & MAP_TYPE) !== MAP_PRIVATE && !(c.flags & MAP_ANONYMOUS) && !(c.prot & PROT_WRITE)) {
      fdWritable = fdOpenForWriting(pid, c.fd, c.path);
    }
    s.applyMmap(c.value, c.length, c.prot, c.flags, c.path, c.offset, cause, fdWritable, c);
  },
  munmap: (_set, s, c, cause) => {
    if (!c.errno) s.applyMunmap(c.addr, c.length, cause);
  },
  mprotect: (_set, s, c, cause) => s.applyMprotect(c.addr, c.length, c.prot, c.errno, cause),
  pkey_mprotect: (_set, s, c, cause) => s.applyMprotect(c.addr, c.length, c.prot, c.errno, cause),
  mremap: (_set, s, c, cause) => {
    if (c.errno) s.applyFailedMremap(c.oldAddr, c.oldLength, c.newLength, c.flags, c.newAddr, c.errno, cause);
    else s.applyMremap(c.oldAddr, c.oldLength, c.newLength, c.flags, c.value, cause);
  },
  brk: (_set, s, c, cause) => s.applyBrk(c.value, cause),
  shmat: (_set, s, c, cause) => {
    if (!c.errno) s.applyShmat(c.value, c.shmid, c.shmflg, readShmSegments().get(c.shmid), cause);
  },
  shmdt: (_set, s, c, cause) => {
    if (!c.errno) s.applyShmdt(c.addr, cause);
  },
  remap_file_pages: (_set, s, c, cause) => {
    if (!c.errno) s.applyRemapFilePages(c.start, c.size, c.pgoff, cause);
  },
  madvise: (_set, s, c, cause) => s.applyMadvise(c.addr, c.length, c.advice, c.errno, cause),
  prctl: (_set, s, c, cause) => {
    if (c.errno || c.option !== PR_SET_VMA || c.arg2 !== BigInt(PR_SET_VMA_ANON_NAME)) return;
    // The name is tracee memory, read at entry (lib/syscalls/memory-reads.ts):
    // a record that should carry one and does not (unreadable) leaves the
    // names as they were. Names are cosmetic for verify() (anonymous memory
    // is compared by pages and permissions).
    const data = c.entryMem;
    if (c.arg5 !== 0n && !data?.length) return;
    const name = data?.length ? utf8.decode(data).replace(/\0.*$/s, '') : null;
    s.applyAnonName(c.arg3, c.arg4, name, cause);
  },
  clone: (set, _s, c, _cause, pid) => {
    if (c.ret > 0n && c.flags !== undefined) set.cloneFlags(pid, Number(c.ret), c.flags);
  },
  clone3: (set, _s, c, _cause, pid) => {
    if (c.ret > 0n && c.flags !== undefined) set.cloneFlags(pid, Number(c.ret), c.flags);
  },
};

/** Provenance of an event: who, and when. */
export function provenanceOf(ev: { tid: number; seq: number; time: number; entryTime?: number | null }, cause: string): Provenance {
  const p: { -readonly [K in keyof Provenance]: Provenance[K] } = { tid: ev.tid, seq: ev.seq, time: ev.time, cause };
  if (ev.entryTime !== undefined && ev.entryTime !== null) p.entered = ev.entryTime;
  return p;
}

/** Every address space of a session, by pid. */
export class AddressSpaces {
  readonly #byPid = new Map<number, AddressSpace>();
  /** tgid of every known thread, to find a clone's parent process. */
  readonly #pidOfTid = new Map<number, number>();
  /** Children given a copy at thread-start, before their parent's clone flags were known. */
  readonly #copied = new Set<number>();

  /** The address space of process pid (shared with its parent while a vfork child). */
  get(pid: number): AddressSpace | undefined {
    return this.#byPid.get(pid);
  }

  /** Live view, by pid. */
  get byPid(): ReadonlyMap<number, AddressSpace> {
    return this.#byPid;
  }

  /**
   * overflow: 'drop' lost records before the event with seq `before`: any of
   * them may have changed a mapping, so no model can be trusted from here on.
   */
  lost(count: bigint, before: number): void {
    for (const space of new Set(this.#byPid.values())) {
      if (space.faults.length < 100) space.faults.push(`${count} records lost before seq ${before} (overflow 'drop', or the perf engine's full ring buffer)`);
    }
  }

  /** A resync snapshot (the perf engine after lost records): the model re-read, and where it had differed. */
  resync(ev: { pid: number; tid: number; seq: number; time: number; maps: string }): Difference[] {
    const space = this.#byPid.get(ev.pid);
    if (!space) return [];
    return space.resync(ev.maps, provenanceOf(ev, 'snapshot'), readStartBrk(ev.pid));
  }

  /**
   * Applies one event; `call` is its numeric view when it is a memory or
   * thread call that returned. Cheap for events the model ignores. Never
   * throws: an event the model cannot apply must not stop the tracer; the
   * error is kept on the process's model (AddressSpace.faults) and makes
   * verify() unequal.
   */
  apply(ev: TraceEvent, call: Call | undefined): void {
    try {
      this.#apply(ev, call);
    } catch (err) {
      const space = this.#byPid.get(ev.pid);
      const msg = `record seq ${ev.seq}: ${err instanceof Error ? err.message : String(err)}`;
      if (space && space.faults.length < 100) space.faults.push(msg);
    }
  }

  #apply(ev: TraceEvent, call: Call | undefined): void {
    switch (ev.type) {
      case 'syscall': {
        if (!call) return;
        const space = this.#byPid.get(ev.pid);
        if (!space) return;
        const applier = APPLIERS[call.call] as Applier | undefined;
        applier?.(this, space, call, provenanceOf(ev, call.call), ev.pid);
        return;
      }
      case 'snapshot':
        if (ev.resync) return; // resync() applies it, saying what changed
        return this.#snapshot(ev.pid, ev.maps, provenanceOf(ev, 'snapshot'));
      case 'exec':
        return this.#exec(ev.pid, ev.tid, provenanceOf(ev, 'exec'));
      case 'thread-start':
        return this.#threadStart(ev.pid, ev.tid, ev.how, ev.followed, ev.parentTid, ev);
      case 'thread-exit':
        this.#pidOfTid.delete(ev.tid);
        return;
      case 'exit':
        return this.#exit(ev.pid);
      default:
        return;
    }
  }

  #snapshot(pid: number, maps: string, cause: Provenance): void {
    let space = this.#byPid.get(pid);
    if (!space || space.pid !== pid) {
      space = new AddressSpace(pid);
      this.#byPid.set(pid, space);
    }
    this.#pidOfTid.set(pid, pid);
    space.seed(maps, cause, readStartBrk(pid));
  }

  // exec gives the process a new, empty mm; the snapshot event follows.
  #exec(pid: number, tid: number, cause: Provenance): void {
    const space = this.#byPid.get(pid);
    this.#copied.delete(pid);
    this.#pidOfTid.set(tid, pid);
    if (space && space.pid === pid) {
      // Same object across exec: listeners on session.model keep working.
      space.reset(cause);
    } else {
      // A vfork child leaves its parent's address space.
      this.#byPid.set(pid, new AddressSpace(pid));
    }
  }

  #threadStart(pid: number, tid: number, how: string, followed: boolean, parentTid: number | null, ev: { tid: number; seq: number; time: number }): void {
    if (how === 'attach' || tid !== pid) {
      // A thread: it shares its process's address space.
      this.#pidOfTid.set(tid, pid);
      return;
    }
    if (!followed) return; // a child process nobody traces: no events will come for it
    this.#pidOfTid.set(tid, pid);
    const parent = parentTid === null ? undefined : this.#byPid.get(this.#pidOfTid.get(parentTid) ?? parentTid);
    if (!parent) return;
    if (how === 'vfork') {
      // vfork (and posix_spawn's CLONE_VM|CLONE_VFORK): the child runs in the
      // parent's mm until it execs or exits. (CLONE_VFORK without CLONE_VM
      // would need a copy; nothing uses it.)
      this.#byPid.set(pid, parent);
    } else {
      // fork, or clone of a new process: a copy, unless the parent's clone
      // event (it comes at the parent's return) shows CLONE_VM; see cloneFlags.
      this.#byPid.set(pid, parent.forkCopy(pid, provenanceOf(ev, how === 'fork' ? 'fork' : 'clone')));
      this.#copied.add(pid);
    }
  }

  /** The parent's clone/clone3 returned child: a new process made with CLONE_VM shares the parent's mm. */
  cloneFlags(parentPid: number, child: number, flags: bigint): void {
    if (flags & CLONE_THREAD || !(flags & CLONE_VM) || !this.#copied.has(child)) return;
    const parent = this.#byPid.get(parentPid);
    if (parent) this.#byPid.set(child, parent);
    this.#copied.delete(child);
  }

  #exit(pid: number): void {
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

// Who made each thread: glibc's pthread_create (cgo) or the Go runtime.
//
// pthread_create (glibc ≥ 2.34): mmap(NULL, S+G, PROT_NONE, MAP_STACK) →
// mprotect(base+G, S, RW) → clone3{flags ⊇ 0x3d0f00, stack = base} (clone on
// ENOSYS); with the stack cache, no mmap: the stack lies in an earlier one.
// The new thread then runs glibc's start_thread: rseq, set_robust_list.
// Go's newosproc: clone(flags ⊇ VM|FS|FILES|SIGHAND|SYSVSEM|THREAD, no
// PARENT_SETTID/CHILD_CLEARTID, child_stack in the Go heap), no stack mmap.
import type { SyscallEvent, TraceEvent } from '../events';
import type { DetectorContext, Detector } from './pipeline';
import { type Finding, fmtSize, hex } from './finding';
import {
  CLONE_ARGS, CLONE_CHILD_CLEARTID, CLONE_PARENT_SETTID, GO_CLONE_FLAGS, MAP_ANONYMOUS, MAP_STACK, PROT_NONE, PROT_RW,
  PTHREAD_CLONE_FLAGS, cloneArgsField, cloneStack, isError,
} from './signatures';

interface StackMapping {
  pid: number;
  /** The thread that mapped it, and when its mmap returned (ms, as event times). */
  tid: number;
  madeAt: number;
  base: bigint;
  end: bigint;
  mmapSeq: number;
  /** Size of the PROT_NONE guard at the bottom, once the mprotect showed it. */
  guard: bigint | null;
  mprotectSeq: number | null;
  /** Threads that have used it (more than one: glibc's stack cache). */
  users: number;
}

interface AwaitingStart {
  creator: number;
  stack: StackMapping;
  evidence: number[];
  via: 'clone3' | 'clone';
  reused: boolean;
}

export class ThreadDetector implements Detector {
  #stacks: StackMapping[] = [];
  #awaiting = new Map<number, AwaitingStart>();
  /**
   * A new thread's first rseq/set_robust_list seen before its creator's
   * clone3 returned: the two threads' stops are reported in either order.
   */
  #startedEarly = new Map<number, SyscallEvent>();
  #threadsByPid = new Map<number, { cgo: number; go: number }>();

  onEvent(ev: TraceEvent, ctx: DetectorContext): void {
    if (ev.type !== 'syscall' || ev.ret === null) {
      if (ev.type === 'exec') this.#forget(ev.pid);
      return;
    }
    switch (ev.name) {
      case 'mmap':
        this.#onMmap(ev);
        break;
      case 'mprotect':
        this.#onMprotect(ev);
        break;
      case 'munmap':
        if (!isError(ev.ret)) this.#onMunmap(ev);
        break;
      case 'clone3':
      case 'clone':
        this.#onClone(ev, ctx);
        break;
      case 'rseq':
      case 'set_robust_list':
        this.#onStartThread(ev, ctx);
        break;
    }
  }

  #counts(pid: number) {
    let c = this.#threadsByPid.get(pid);
    if (!c) this.#threadsByPid.set(pid, (c = { cgo: 0, go: 0 }));
    return c;
  }

  #forget(pid: number): void {
    this.#stacks = this.#stacks.filter((s) => s.pid !== pid);
    this.#threadsByPid.delete(pid);
  }

  #onMmap(ev: SyscallEvent): void {
    if (isError(ev.ret)) return;
    const [, len, prot, flags] = ev.raw as [bigint, bigint, bigint, bigint];
    if ((flags & MAP_STACK) === 0n || (flags & MAP_ANONYMOUS) === 0n) return;
    const base = BigInt.asUintN(64, ev.ret!);
    // Drop what this mapping replaced.
    this.#stacks = this.#stacks.filter((s) => s.pid !== ev.pid || s.end <= base || s.base >= base + len);
    this.#stacks.push({
      pid: ev.pid, tid: ev.tid, madeAt: ev.time, base, end: base + len, mmapSeq: ev.seq,
      // glibc < 2.34 mapped RW and mprotect'ed the guard to PROT_NONE afterwards.
      guard: prot === PROT_NONE ? null : 0n, mprotectSeq: null, users: 0,
    });
  }

  #onMprotect(ev: SyscallEvent): void {
    if (isError(ev.ret)) return;
    const [addr, len, prot] = ev.raw as [bigint, bigint, bigint];
    const s = this.#stacks.find((m) => m.pid === ev.pid && addr >= m.base && addr < m.end);
    if (!s || s.mprotectSeq !== null) return;
    if (prot === PROT_RW && addr > s.base && addr + len === s.end) {
      s.guard = addr - s.base; // the guard is what stays PROT_NONE below
      s.mprotectSeq = ev.seq;
    } else if (prot === PROT_NONE && addr === s.base && len < s.end - s.base) {
      s.guard = len;
      s.mprotectSeq = ev.seq;
    }
  }

  #onMunmap(ev: SyscallEvent): void {
    const [addr, len] = ev.raw as [bigint, bigint];
    // Two threads' stops come in either order: a munmap entered before a
    // stack's mmap returned freed the range that mmap then got (glibc's arena
    // trims); it does not remove the stack (the model does the same).
    const before = (s: StackMapping) => ev.tid !== s.tid && ev.entryTime !== null && ev.entryTime < s.madeAt;
    this.#stacks = this.#stacks.filter((s) => s.pid !== ev.pid || s.end <= addr || s.base >= addr + len || before(s));
  }

  #onClone(ev: SyscallEvent, ctx: DetectorContext): void {
    if (isError(ev.ret) || ev.ret! <= 0n) return;
    const child = Number(ev.ret);
    let flags: bigint | undefined;
    let stackAddr: bigint | undefined;
    if (ev.name === 'clone3') {
      flags = cloneArgsField(ev.cloneArgs, CLONE_ARGS.flags);
      stackAddr = cloneArgsField(ev.cloneArgs, CLONE_ARGS.stack);
    } else {
      flags = ev.raw[0]! & ~0xffn; // the low byte is the exit signal
      // clone's child_stack is the top of the stack; the byte below it is inside the mapping.
      const top = cloneStack(ev.raw);
      stackAddr = top === 0n ? undefined : top - 1n;
    }
    if (flags === undefined) return;
    const stack =
      stackAddr === undefined ? undefined : this.#stacks.find((s) => s.pid === ev.pid && stackAddr! >= s.base && stackAddr! < s.end);
    if ((flags & PTHREAD_CLONE_FLAGS) === PTHREAD_CLONE_FLAGS && stack) {
      const evidence = [stack.mmapSeq];
      const reused = stack.users > 0;
      if (stack.mprotectSeq !== null && !reused) evidence.push(stack.mprotectSeq);
      evidence.push(ev.seq);
      stack.users++;
      const a: AwaitingStart = { creator: ev.tid, stack, evidence, via: ev.name === 'clone3' ? 'clone3' : 'clone', reused };
      const early = this.#startedEarly.get(child);
      if (early) {
        // The child already ran start_thread: the creator's return completes the proof.
        this.#startedEarly.delete(child);
        this.#report(a, child, early.seq, ev, ctx);
      } else {
        this.#awaiting.set(child, a);
      }
      return;
    }
    const goLike =
      ev.name === 'clone' &&
      (flags & GO_CLONE_FLAGS) === GO_CLONE_FLAGS &&
      (flags & (CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)) === 0n &&
      !stack;
    if (goLike) {
      const n = ++this.#counts(ev.pid).go;
      const f: Finding = {
        type: 'finding', kind: 'go-thread', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
        evidence: [ev.seq],
        summary: `Go runtime thread ${child} (go-thread #${n}) made by ${ev.tid} with clone, stack ${hex(cloneStack(ev.raw))} in the Go heap: no VmSize of its own`,
        details: { creatorTid: ev.tid, newTid: child, stack: cloneStack(ev.raw), flags },
      };
      ctx.emit(f);
    }
  }

  #onStartThread(ev: SyscallEvent, ctx: DetectorContext): void {
    const a = this.#awaiting.get(ev.tid);
    if (!a) {
      // Maybe its creator's clone3 is still to be reported; bounded, since a
      // thread made before an attach never gets one.
      if (!this.#startedEarly.has(ev.tid)) {
        if (this.#startedEarly.size > 4096) this.#startedEarly.clear();
        this.#startedEarly.set(ev.tid, ev);
      }
      return;
    }
    this.#awaiting.delete(ev.tid);
    this.#report(a, ev.tid, ev.seq, ev, ctx);
  }

  /** `by` is the event that completed the proof: the new thread's start, or its creator's late return. */
  #report(a: AwaitingStart, newTid: number, startSeq: number, by: SyscallEvent, ctx: DetectorContext): void {
    const ev = by;
    const s = a.stack;
    const guard = s.guard ?? 0n;
    const size = s.end - s.base - guard;
    const n = ++this.#counts(ev.pid).cgo;
    ctx.emit({
      type: 'finding', kind: 'cgo-thread', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
      evidence: [...a.evidence, startSeq],
      region: { start: s.base, end: s.end },
      summary:
        `pthread ${newTid} (cgo-thread #${n}) made by ${a.creator} with ${a.via}: ` +
        `${fmtSize(size)} stack + ${fmtSize(guard)} guard at ${hex(s.base)}` +
        (a.reused ? ' (reused from glibc\'s stack cache)' : ` = ${fmtSize(s.end - s.base)} of VmSize`),
      details: { creatorTid: a.creator, newTid, stackBase: s.base, stackSize: size, guard, via: a.via, reused: a.reused },
    });
    ctx.classify(ev.pid, s.base + guard, s.end, 'pthread-stack', ev);
    if (guard > 0n) ctx.classify(ev.pid, s.base, s.base + guard, 'guard-page', ev);
  }
}

// Who made each thread: glibc's pthread_create (cgo) or the Go runtime
// (docs/go-glibc-musl.md, "glibc's pthread_create" and "Go's threads").
//
// pthread_create (glibc ≥ 2.26; clone3 since 2.34): mmap(NULL, S+G, PROT_NONE, MAP_STACK) →
// mprotect(base+G, S, RW) → clone3{flags ⊇ 0x3d0f00, stack = base} (clone on
// ENOSYS); with the stack cache, no mmap: the stack lies in an earlier one.
// The new thread then runs glibc's start_thread: rseq, set_robust_list.
// musl's pthread_create: mmap(NULL, S+G, PROT_NONE) without MAP_STACK →
// mprotect(base+G, S, RW) → clone{flags ⊇ 0x3d0f00|CLONE_DETACHED, stack in
// it}; no rseq or set_robust_list follows, so the clone's return is the proof.
// Go's newosproc: clone(flags ⊇ VM|FS|FILES|SIGHAND|SYSVSEM|THREAD, no
// PARENT_SETTID/CHILD_CLEARTID, child_stack in the Go heap), no stack mmap.
//
// The stack a clone names is looked up in the model, which already knows
// where memory is despite stops reported out of order; this detector keeps
// only what waits for proof: a clone whose thread has not started yet, and a
// start seen before its creator's clone returned.
import type { SyscallEvent, TraceEvent } from '../events';
import type { AddressSpace } from '../model';
import { CLONE_CHILD_CLEARTID, CLONE_PARENT_SETTID, MAP_ANONYMOUS, MAP_STACK, PROT_NONE } from '../syscalls/abi';
import type { Call, CloneCall } from '../syscalls/calls';
import { fmtSize, hex } from '../units';
import type { Detector, DetectorContext } from './detector';
import { GO_CLONE_FLAGS, MUSL_CLONE_DETACHED, PTHREAD_CLONE_FLAGS } from './signatures';

/** A MAP_STACK mapping as the model has it when a clone names it. */
interface Stack {
  base: bigint;
  end: bigint;
  /** The seq of the mmap that made it: the first proof, and the stack's identity. */
  mmapSeq: number;
  /** Size of the PROT_NONE guard at the bottom (0 until an mprotect made one). */
  guard: bigint;
  /** The mprotect that made the guard (or the usable part) of it, if any. */
  mprotectSeq: number | null;
}

interface AwaitingStart {
  creator: number;
  stack: Stack;
  evidence: number[];
  via: 'clone3' | 'clone';
  reused: boolean;
  libc: 'glibc' | 'musl';
}

export class ThreadDetector implements Detector {
  /** Threads made on each stack, by its mmap's seq: more than one is glibc's stack cache at work. */
  #users = new Map<number, number>();
  #awaiting = new Map<number, AwaitingStart>();
  /**
   * A new thread's first rseq/set_robust_list seen before its creator's
   * clone3 returned: the two threads' stops are reported in either order.
   */
  #startedEarly = new Map<number, SyscallEvent>();
  #threadsByPid = new Map<number, { cgo: number; go: number }>();

  onEvent(ev: TraceEvent, call: Call | undefined, ctx: DetectorContext): void {
    if (ev.type === 'exec') {
      this.#threadsByPid.delete(ev.pid);
      return;
    }
    if (ev.type === 'snapshot' && ev.threads) {
      // An attach: numbering goes on after the threads that were there (the main one aside).
      const before = Math.max(0, ev.threads.length - 1);
      this.#threadsByPid.set(ev.pid, { cgo: before, go: before });
      return;
    }
    if (ev.type !== 'syscall' || ev.ret === null) return;
    if (call?.call === 'clone' || call?.call === 'clone3') this.#onClone(ev, call, ctx);
    else if (ev.name === 'rseq' || ev.name === 'set_robust_list') this.#onStartThread(ev, ctx);
  }

  #counts(pid: number) {
    let c = this.#threadsByPid.get(pid);
    if (!c) this.#threadsByPid.set(pid, (c = { cgo: 0, go: 0 }));
    return c;
  }

  /**
   * The stack mapping holding addr, whole as it was mapped, or undefined:
   * glibc's is MAP_STACK; musl's is a plain PROT_NONE mapping with a RW part
   * above its guard.
   */
  #stackAt(model: AddressSpace | undefined, addr: bigint, musl: boolean): Stack | undefined {
    const r = model?.find(addr);
    const made = r?.made;
    if (!model || !r || !made || !(made.flags & MAP_ANONYMOUS)) return undefined;
    if (musl ? made.prot !== PROT_NONE : !(made.flags & MAP_STACK)) return undefined;
    const seq = r.origin.seq;
    const pieces = model.regionsIn(made.value, made.value + made.length).filter((p) => p.origin.seq === seq);
    // Still mapped as one piece of memory from the mmap's address on (a
    // munmap of any part of it ended it as a stack).
    if (pieces.length === 0 || pieces[0]!.start !== made.value) return undefined;
    for (let i = 1; i < pieces.length; i++) if (pieces[i]!.start !== pieces[i - 1]!.end) return undefined;
    const first = pieces[0]!;
    const guard = first.prot === PROT_NONE && pieces.length > 1 ? first.end - first.start : 0n;
    const changed = pieces.find((p) => p.changed.seq !== seq && (p.changed.cause === 'mprotect' || p.changed.cause === 'pkey_mprotect'));
    return { base: first.start, end: pieces.at(-1)!.end, mmapSeq: seq, guard, mprotectSeq: changed ? changed.changed.seq : null };
  }

  #onClone(ev: SyscallEvent, c: CloneCall, ctx: DetectorContext): void {
    if (c.errno || c.ret <= 0n || c.flags === undefined) return;
    const child = Number(c.ret);
    const flags = c.flags;
    const musl = c.call === 'clone' && (flags & MUSL_CLONE_DETACHED) !== 0n;
    const stack = c.stackLow === undefined ? undefined : this.#stackAt(ctx.model(ev.pid), c.stackLow, musl);
    if (musl && (flags & PTHREAD_CLONE_FLAGS) === PTHREAD_CLONE_FLAGS && stack && stack.guard > 0n && stack.mprotectSeq !== null) {
      // musl's new thread makes no call of its own that glibc's start_thread
      // makes; the mapping, its mprotect and the clone into it are the proof.
      const a: AwaitingStart = { creator: ev.tid, stack, evidence: [stack.mmapSeq, stack.mprotectSeq, ev.seq], via: 'clone', reused: false, libc: 'musl' };
      this.#report(a, child, ev.seq, ev, ctx);
      return;
    }
    if ((flags & PTHREAD_CLONE_FLAGS) === PTHREAD_CLONE_FLAGS && stack) {
      const evidence = [stack.mmapSeq];
      const users = this.#users.get(stack.mmapSeq) ?? 0;
      const reused = users > 0;
      if (stack.mprotectSeq !== null && !reused) evidence.push(stack.mprotectSeq);
      evidence.push(ev.seq);
      this.#users.set(stack.mmapSeq, users + 1);
      const a: AwaitingStart = { creator: ev.tid, stack, evidence, via: c.call, reused, libc: 'glibc' };
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
      c.call === 'clone' &&
      (flags & GO_CLONE_FLAGS) === GO_CLONE_FLAGS &&
      (flags & (CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)) === 0n &&
      !stack;
    if (goLike) {
      const n = ++this.#counts(ev.pid).go;
      ctx.emit({
        type: 'finding', kind: 'go-thread', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
        evidence: [ev.seq],
        summary: `Go runtime thread ${child} (go-thread #${n}) made by ${ev.tid} with clone, stack ${hex(c.stack)} in the Go heap: no VmSize of its own`,
        details: { creatorTid: ev.tid, newTid: child, number: n, stack: c.stack, flags },
      });
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
    const guard = s.guard;
    const size = s.end - s.base - guard;
    const n = ++this.#counts(ev.pid).cgo;
    ctx.emit({
      type: 'finding', kind: 'cgo-thread', pid: ev.pid, tid: ev.tid, seq: ev.seq, time: ev.time,
      evidence: a.libc === 'musl' ? a.evidence : [...a.evidence, startSeq],
      region: { start: s.base, end: s.end },
      summary:
        `${a.libc === 'musl' ? 'musl ' : ''}pthread ${newTid} (cgo-thread #${n}) made by ${a.creator} with ${a.via}: ` +
        `${fmtSize(size)} stack + ${fmtSize(guard)} guard at ${hex(s.base)}` +
        (a.reused ? ' (reused from glibc\'s stack cache)' : ` = ${fmtSize(s.end - s.base)} of VmSize`),
      details: { creatorTid: a.creator, newTid, number: n, stackBase: s.base, stackSize: size, guard, via: a.via, reused: a.reused, libc: a.libc },
    });
    ctx.classify(ev.pid, s.base + guard, s.end, 'pthread-stack', ev);
    if (guard > 0n) ctx.classify(ev.pid, s.base, s.base + guard, 'guard-page', ev);
  }
}

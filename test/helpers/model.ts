// Helpers for the address-space model tests: readable verify() failures, and
// an honest quiescent point for a process that never stops by itself.
import fs from 'node:fs';
import type { Session } from '../../lib/session';
import type { TraceEvent } from '../../lib/events';
import type { VerifyResult } from '../../lib/model';
import { formatDifference } from '../../lib/model';
import { slowNote } from './patience';

export function explain(r: VerifyResult, limit = 20): string {
  const lines = r.differences.slice(0, limit).map(formatDifference);
  if (r.differences.length > limit) lines.push(`… ${r.differences.length - limit} more`);
  if (r.faults?.length) lines.push(...r.faults.map((f) => `fault: ${f}`));
  return `model != /proc/PID/maps:\n${lines.join('\n')}\n--- maps ---\n${r.maps}`;
}

/** VmSize of /proc/PID/status, in kB. */
export function vmSizeKb(pid: number): bigint {
  const m = /^VmSize:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmSize for pid ${pid}`);
  return BigInt(m[1]!);
}

/** A thread's state and what it is in, from /proc, for a note on a wait that lasts. */
function taskNow(pid: number, tid: number): string {
  const read = (f: string) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${tid}/${f}`, 'utf8').trim();
    } catch {
      return 'gone';
    }
  };
  const stat = read('stat');
  return `state ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]}, wchan ${read('wchan')}, syscall ${read('syscall').split(' ')[0]}`;
}

/**
 * Follows a session's events to know, after a SIGSTOP, when every thread of
 * the target is in group-stop and every record before that has reached the
 * model. A thread finishes the syscall it is in (its exit record comes
 * first) before it stops, and the model is updated at batch arrival, before
 * the consumer sees the events; so once the consumer has seen a group-stop
 * for each live thread, the model has everything the process did.
 */
export class Quiescer {
  readonly live = new Set<number>();
  #stopped = new Set<number>();
  #waiting: { resolve: () => void } | undefined;
  #stopping = false;
  #started: () => void = () => {};
  /** Resolves once the consumer has seen the session's started event: the thread list is complete. */
  readonly started = new Promise<void>((r) => (this.#started = r));

  /** The session's engine, as consume() saw it. */
  engine: string | undefined;

  constructor(readonly pid: number) {}

  /** Feed every event of the session here. */
  see(ev: TraceEvent): void {
    if (ev.pid !== this.pid) return;
    if (ev.type === 'thread-start') this.live.add(ev.tid);
    else if (ev.type === 'thread-exit') {
      this.live.delete(ev.tid);
      this.#stopped.delete(ev.tid);
    } else if (ev.type === 'started' || ev.type === 'exec') {
      this.live.add(ev.tid);
      if (ev.type === 'started') this.#started();
    }
    else if (ev.type === 'signal' && ev.groupStop && this.#stopping) this.#stopped.add(ev.tid);
    this.#check();
  }

  #check(): void {
    if (!this.#waiting) return;
    for (const tid of this.live) if (!this.#stopped.has(tid)) return;
    const w = this.#waiting;
    this.#waiting = undefined;
    w.resolve();
  }

  /** SIGSTOP the process; resolves once the model has seen every thread stop (no deadline: slowNote after noteAfterMs). */
  async stop(noteAfterMs = 10_000): Promise<void> {
    await this.started;
    // Only ptrace reports group-stops: with the perf engine this would wait forever.
    if (this.engine !== 'ptrace') throw new Error(`the Quiescer needs a ptrace session; this one uses ${this.engine} (attach with engine: 'ptrace')`);
    this.#stopped.clear();
    this.#stopping = true;
    const done = new Promise<void>((resolve) => (this.#waiting = { resolve }));
    process.kill(this.pid, 'SIGSTOP');
    this.#check();
    await slowNote(done, noteAfterMs, () => `threads ${[...this.live].filter((t) => !this.#stopped.has(t)).map((t) => `${t} (${taskNow(this.pid, t)})`).join(', ')} of ${this.pid} to group-stop`);
  }

  resume(): void {
    this.#stopping = false;
    this.#stopped.clear();
    process.kill(this.pid, 'SIGCONT');
  }

  /** f's result, taken while every thread is held still; resumed whatever f does. */
  async held<R>(f: () => R): Promise<R> {
    await this.stop();
    try {
      return f();
    } finally {
      this.resume();
    }
  }
}

/** Consumes a session in the background, feeding a Quiescer and an optional callback. */
export function consume(session: Session, q: Quiescer | undefined, onEvent?: (ev: TraceEvent) => void): Promise<TraceEvent[]> {
  return (async () => {
    const events: TraceEvent[] = [];
    for await (const ev of session) {
      events.push(ev);
      if (q) q.engine = session.engine;
      q?.see(ev);
      onEvent?.(ev);
    }
    return events;
  })();
}

/**
 * Runs a test body over a run() session; whatever happens, the traced
 * processes do not outlive it. A failed assertion inside `for await` detaches
 * (the target runs on), and a fixture blocked on its stdin would then keep
 * this Node process alive forever.
 */
export async function owning(session: Session, body: () => Promise<void>): Promise<void> {
  let ended = false;
  session.exited.then(
    () => (ended = true),
    () => (ended = true),
  );
  try {
    await body();
  } finally {
    if (!ended) {
      const pids = new Set<number>(session.models.keys());
      if (session.pid !== undefined) pids.add(session.pid);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    session.stdin?.destroy();
  }
}

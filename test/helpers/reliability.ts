// Helpers for the reliability suites (test/reliability-*.test.ts, issue 8):
// targets under sh whose output can be followed while they run, /proc
// readings, and waits that end on state (test/helpers/patience.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Session } from '../../lib/session';
import type { TraceEvent } from '../../lib/events';
import { slowNote } from './patience';
import { shellChild } from './trace';

export { until, watched } from './patience';

export interface LiveTarget {
  /** The target's pid: sh's child, so this Node process is not its parent. */
  pid: number;
  /** stdout so far. */
  output(): string;
  /** Resolves when stdout (so far) matches; rejects if it closes without a match. noteAfterMs: see slowNote. */
  waitFor(pattern: RegExp, noteAfterMs?: number): Promise<RegExpMatchArray>;
  /** The target's exit code, or 128 + signal, as sh reports it. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts file under `sh`, which waits for it and exits with its status: the
 * target must not be a child of the tracing process (checkAttachable).
 */
export async function startLive(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<LiveTarget> {
  const sh = spawn('/bin/sh', ['-c', '"$@"; exit $?', 'sh', file, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: env ? { ...process.env, ...env } : process.env,
  });
  let text = '';
  let closed = false;
  const waiters = new Set<() => void>();
  sh.stdout.setEncoding('utf8').on('data', (c: string) => {
    text += c;
    for (const w of waiters) w();
  });
  sh.stdout.on('close', () => {
    closed = true;
    for (const w of waiters) w();
  });
  const exited = new Promise<number | null>((r) => sh.on('exit', (code) => r(code)));
  const pid = await shellChild(sh.pid!, file);
  return {
    pid,
    output: () => text,
    waitFor(pattern, noteAfterMs = 10_000) {
      return slowNote(new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(text);
          if (!m && !closed) return;
          waiters.delete(check);
          if (m) resolve(m);
          else reject(new Error(`target ${pid}: its stdout closed without ${pattern}; output: ${text.slice(-500)}`));
        };
        waiters.add(check);
        check();
      }), noteAfterMs, () => `${pattern} in the output of ${pid} (so far: ${JSON.stringify(text.slice(-200))})`);
    },
    exited,
    kill(signal = 'SIGKILL') {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    },
  };
}

/** Iterates a session in the background; resolves with every event. */
export function consume(session: Session, onEvent?: (ev: TraceEvent) => void | Promise<void>): Promise<TraceEvent[]> {
  return (async () => {
    const events: TraceEvent[] = [];
    for await (const ev of session) {
      events.push(ev);
      await onEvent?.(ev);
    }
    return events;
  })();
}

/** The state letter of /proc/PID/task/TID/stat (R, S, D, T, t, Z, ...), or '' if gone. */
export function taskState(pid: number, tid: number = pid): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return '';
  }
}

/** tid → state letter for every task of pid. */
export function taskStates(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    const s = taskState(pid, Number(t));
    if (s) out.set(Number(t), s);
  }
  return out;
}

/** A field of /proc/PID/status ("Threads", "VmSize" in kB, "TracerPid"...), as a number. */
export function statusField(pid: number, field: string, tid?: number): number {
  const file = tid === undefined ? `/proc/${pid}/status` : `/proc/${pid}/task/${tid}/status`;
  const m = new RegExp(`^${field}:\\s*(\\d+)`, 'm').exec(fs.readFileSync(file, 'utf8'));
  if (!m) throw new Error(`no ${field} in ${file}`);
  return Number(m[1]);
}

/** The process that traces pid's leader (TracerPid names the tracer *thread*), or 0. */
export function tracerOf(pid: number): number {
  const tracer = statusField(pid, 'TracerPid');
  if (tracer === 0) return 0;
  try {
    return statusField(tracer, 'Tgid');
  } catch {
    return 0;
  }
}

/** Every task of pid has TracerPid 0. */
export function untraced(pid: number): boolean {
  for (const tid of taskStates(pid).keys()) {
    try {
      if (statusField(pid, 'TracerPid', tid) !== 0) return false;
    } catch {
      // exited meanwhile
    }
  }
  return true;
}

/** The pid is gone or a zombie (killed, not yet reaped by whoever inherited it). */
export function deadOrZombie(pid: number): boolean {
  const s = taskState(pid);
  return s === '' || s === 'Z' || s === 'X';
}

/**
 * Threads of pid blocked in a syscall right now, by syscall number
 * (/proc/PID/task/TID/syscall; "running" tasks are left out).
 */
export function blockedSyscalls(pid: number): number[] {
  const out: number[] = [];
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const first = fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ')[0]!;
      if (/^\d+$/.test(first)) out.push(Number(first));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * A syscall event's six raw argument registers. (Read this way because the
 * event's shape is being extended with decoded arguments: `raw` when present,
 * else the original `args` array of bigints.)
 */
export function rawArgs(e: TraceEvent): bigint[] {
  const r = e as unknown as { raw?: unknown; args?: unknown };
  if (Array.isArray(r.raw)) return r.raw as bigint[];
  if (Array.isArray(r.args)) return r.args as bigint[];
  throw new Error(`event ${e.seq} (${e.type}) has no raw arguments`);
}

/**
 * Test hygiene, for afterEach: SIGKILLs every process that a thread of this
 * Node process still traces. After a passing test there is none; after a
 * failed one, a tracee left stopped would keep its tracer thread (and so this
 * test file's process) waiting forever. Returns the pids it killed.
 */
export function killStrayTracees(): number[] {
  const ours = new Set(fs.readdirSync(`/proc/${process.pid}/task`).map(Number));
  const killed: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const tracer = Number(/^TracerPid:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1] ?? 0);
      if (tracer !== 0 && ours.has(tracer)) {
        process.kill(Number(entry), 'SIGKILL');
        killed.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

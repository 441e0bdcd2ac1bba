// Running strace and reading its -f log next to liveprobe's events, so tests
// can compare the two line for line.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TraceEvent } from '../../lib/events';

export const STRACE = '/usr/bin/strace';

/** One syscall line of a trace: the thread that made it and the text after the pid prefix. */
export interface TraceLine {
  tid: number;
  name: string;
  text: string;
}

export function straceAvailable(): boolean {
  try {
    fs.accessSync(STRACE, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface StraceRun {
  lines: TraceLine[];
  /** The traced program's pid: the first pid in the log. */
  pid: number;
  /** The log as strace wrote it (padding and split lines kept). */
  log: string;
  code: number | null;
}

/**
 * Runs `strace -f -o LOG [options] -e trace=EXPR file args` with the given
 * environment (and nothing else inherited), optionally with address
 * randomization off (`setarch -R`, which strace and so the target inherit).
 */
export async function runStrace(
  file: string,
  args: string[],
  opts: { trace: string; env: Record<string, string>; noAslr: boolean; timeoutMs?: number; options?: string[] },
): Promise<StraceRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-strace-'));
  const log = path.join(dir, 'trace.log');
  const straceArgs = ['-f', '-o', log, ...(opts.options ?? []), '-e', `trace=${opts.trace}`, file, ...args];
  const [cmd, cmdArgs] = opts.noAslr ? ['setarch', ['-R', STRACE, ...straceArgs]] : [STRACE, straceArgs];
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      execFile(cmd, cmdArgs, { env: opts.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 }, (err) => {
        if (err === null) return resolve(0);
        if (typeof err.code === 'number') return resolve(err.code);
        reject(err);
      });
    });
    const text = fs.readFileSync(log, 'utf8');
    const lines = parseStraceLog(text);
    const first = /^(\d+) /.exec(text);
    if (!first) throw new Error(`strace wrote no lines: ${text.slice(0, 200)}`);
    return { lines, pid: Number(first[1]), code, log: text };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The syscall lines of a `strace -f -o` log, each whole: a call split by
 * another thread's line (`foo(a <unfinished ...>` … `<... foo resumed>b) = 0`)
 * is joined, and strace's padding before ` = ` is dropped. Signal (`---`) and
 * exit (`+++`) lines are skipped.
 */
export function parseStraceLog(log: string): TraceLine[] {
  const out: TraceLine[] = [];
  const pending = new Map<number, string>();
  for (const raw of log.split('\n')) {
    const m = /^(\d+) +(.*)$/.exec(raw);
    if (!m) continue;
    const tid = Number(m[1]);
    let text = m[2]!;
    if (text.startsWith('---') || text.startsWith('+++')) continue;
    const resumed = /^<\.\.\. [a-z0-9_]+ resumed>(.*)$/.exec(text);
    if (resumed) {
      const head = pending.get(tid);
      if (head === undefined) throw new Error(`strace log: resumed without a start: ${raw}`);
      pending.delete(tid);
      text = head + resumed[1];
    } else if (text.endsWith(' <unfinished ...>')) {
      pending.set(tid, text.slice(0, -' <unfinished ...>'.length));
      continue;
    }
    const name = /^([a-z0-9_]+)\(/.exec(text)?.[1] ?? '';
    out.push({ tid, name, text: text.replace(/^(.*\)) +(= .*)$/, '$1 $2') });
  }
  return out;
}

/** liveprobe's syscall events as trace lines. */
export function eventLines(events: readonly TraceEvent[]): TraceLine[] {
  const out: TraceLine[] = [];
  for (const ev of events) if (ev.type === 'syscall') out.push({ tid: ev.tid, name: ev.name, text: ev.text });
  return out;
}

const CREATES = /^(clone3?|fork|vfork)\(.*\) = (\d+)$/;

/**
 * Names every task by who made it, in the order its creator made it: the
 * traced program is "P", its first child "P.0", that child's first child
 * "P.0.0". Two runs of a deterministic program give the same names, whatever
 * pids the kernel handed out.
 */
export function taskRoles(lines: readonly TraceLine[], mainTid: number): Map<number, string> {
  const roles = new Map<number, string>([[mainTid, 'P']]);
  const byTid = new Map<number, TraceLine[]>();
  for (const l of lines) {
    let list = byTid.get(l.tid);
    if (!list) byTid.set(l.tid, (list = []));
    list.push(l);
  }
  const queue = [mainTid];
  while (queue.length) {
    const tid = queue.shift()!;
    const role = roles.get(tid)!;
    let n = 0;
    for (const l of byTid.get(tid) ?? []) {
      const m = CREATES.exec(l.text);
      if (!m) continue;
      const child = Number(m[2]);
      roles.set(child, `${role}.${n++}`);
      queue.push(child);
    }
  }
  return roles;
}

const RETURNS_TID = new Set(['clone', 'clone3', 'fork', 'vfork', 'set_tid_address', 'gettid']);

/**
 * A line with the numbers that differ between runs by nature replaced: tids
 * (as return values of the calls that return one, clone's parent_tid=[tid],
 * and a pidfd's <pid:N> under -yy) by their role, and System V shm ids (as shmat's first
 * argument) by <shm>.
 */
export function normalizeIds(line: TraceLine, roles: ReadonlyMap<number, string>, shmIds: ReadonlySet<number>): string {
  const role = (n: string): string => roles.get(Number(n)) ?? n;
  let text = line.text.replace(/parent_tid=\[(\d+)\]/g, (_m, n: string) => `parent_tid=[${role(n)}]`);
  // -yy: a pidfd says which process it refers to.
  text = text.replace(/<pid:(\d+)>/g, (_m, n: string) => `<pid:${role(n)}>`);
  if (RETURNS_TID.has(line.name)) text = text.replace(/ = (\d+)$/, (_m, n: string) => ` = <${role(n)}>`);
  if (line.name === 'shmat') {
    text = text.replace(/^shmat\((\d+),/, (m, n: string) => (shmIds.has(Number(n)) ? 'shmat(<shm>,' : m));
  }
  return text;
}

/** Lines grouped by role, in order, with ids normalized; tasks without a role are dropped. */
export function linesByRole(
  lines: readonly TraceLine[],
  mainTid: number,
  keep: (l: TraceLine) => boolean,
): Map<string, string[]> {
  const roles = taskRoles(lines, mainTid);
  const shmIds = new Set<number>();
  for (const l of lines) {
    const m = /^shmget\(.*\) = (\d+)$/.exec(l.text);
    if (m) shmIds.add(Number(m[1]));
  }
  const out = new Map<string, string[]>();
  for (const l of lines) {
    const role = roles.get(l.tid);
    if (role === undefined || !keep(l)) continue;
    let list = out.get(role);
    if (!list) out.set(role, (list = []));
    list.push(normalizeIds(l, roles, shmIds));
  }
  return out;
}

/**
 * A line with what legitimately differs between two runs of a Go program
 * replaced: addresses (hex of 2^32 and up: Go 1.26 picks a random heap base
 * even with ASLR off, and thread timing moves every mapping made after the
 * first thread starts) by <addr>, tids by <tid>. Everything else, the
 * stack_t sigaltstack prints and the variable count of execve's envp
 * included, must be the same.
 */
export function canonicalGoLine(line: TraceLine): string {
  let text = line.text;
  text = text.replace(/0x[0-9a-f]{9,}/g, '<addr>').replace(/parent_tid=\[\d+\]/g, 'parent_tid=[<tid>]');
  // Go 1.26's random heap base can fall below 4 GiB (0xa0000000): the
  // address argument and result of the memory calls are addresses whatever
  // their size.
  if (MEMORY_CALLS.has(line.name)) text = text.replace(/^(\w+)\(0x[0-9a-f]+/, '$1(<addr>').replace(/ = 0x[0-9a-f]+$/, ' = <addr>');
  if (RETURNS_TID.has(line.name)) text = text.replace(/ = \d+$/, ' = <tid>');
  return text;
}

const MEMORY_CALLS = new Set(['mmap', 'munmap', 'mprotect', 'madvise', 'mremap']);

/** A canonical line with every number masked: what remains is the line's form (call, names, fields, formats). */
export function lineForm(canonical: string): string {
  return canonical.replace(/<addr>|NULL|\b0x[0-9a-f]+\b/g, '<p>').replace(/\b\d+\b/g, '<d>');
}

/** Calls each new thread makes once (or its creator makes once for it), per docs/go-glibc-musl.md ("glibc's pthread_create", "Go's threads"); Go also calls gettid elsewhere. */
const PER_THREAD = /^(clone3?|rseq|set_robust_list|sigaltstack)\(|^mmap\(NULL, 8392704, PROT_NONE, MAP_PRIVATE\|MAP_ANONYMOUS\|MAP_STACK, -1, 0\) = <addr>$|^mprotect\(<addr>, (8388608|135168), PROT_READ\|PROT_WRITE\) = 0$/;
const RESTARTED = / = \? ERESTART[A-Z_]+ \([^)]*\)$/;
/**
 * The Go heap's 4 MiB commits over its arena reservation. How many the
 * runtime needs during init depends on where in the arena its randomized heap
 * base falls, so they are left out of the ordered startup and checked by form
 * (and so are the arena reservations themselves, below).
 */
const GO_HEAP_COMMIT = 'mmap(<addr>, 4194304, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = <addr>';
const GO_HEAP_ARENA = 'mmap(<addr>, 67108864, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = <addr>';
const GO_ARENA_METADATA = /^mmap\(NULL, \d+, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\) = <addr>$/;

/**
 * For one thread's canonical lines in order: whether a line is one whose
 * number during Go's init depends on its random heap base: a heap commit, a
 * heap arena reservation, or the heapArena metadata mmap right after one
 * (one more arena when the first lands near the end of its hint).
 */
export function goHeapBaseVariance(): (canonical: string) => boolean {
  let afterArena = false;
  return (text) => {
    const varies = text === GO_HEAP_COMMIT || text === GO_HEAP_ARENA || (afterArena && GO_ARENA_METADATA.test(text));
    afterArena = text === GO_HEAP_ARENA;
    return varies;
  };
}

export interface GoTraceSummary {
  /**
   * The main thread's lines up to and including the Go runtime's minit on m0
   * (its first gettid): single-threaded, so reproducible, except for the
   * heap commits (see GO_HEAP_COMMIT), which are counted among the later lines.
   */
  startup: string[];
  /** Threads created (successful clone/clone3). */
  threads: number;
  /** Counts of the per-thread lines made after startup. */
  perThread: Map<string, number>;
  /** Forms of the other lines made after startup, and of every line. */
  laterForms: Set<string>;
  allForms: Set<string>;
  /** Calls a signal interrupted (`= ? ERESTARTNOINTR …`): timing artefacts, checked for form only. */
  restarted: string[];
}

export function summarizeGoTrace(lines: readonly TraceLine[], mainTid: number): GoTraceSummary {
  const end = lines.findIndex((l) => l.tid === mainTid && l.name === 'gettid');
  if (end < 0) throw new Error('no gettid on the main thread: not a Go program?');
  const startup: string[] = [];
  const summary: GoTraceSummary = {
    startup,
    threads: 0,
    perThread: new Map(),
    laterForms: new Set(),
    allForms: new Set(),
    restarted: [],
  };
  const mainVaries = goHeapBaseVariance();
  lines.forEach((l, i) => {
    const text = canonicalGoLine(l);
    summary.allForms.add(lineForm(text));
    if (i <= end && l.tid === mainTid && !mainVaries(text)) {
      startup.push(text);
      return;
    }
    if (RESTARTED.test(text)) {
      summary.restarted.push(text);
      return;
    }
    if (/^clone3?\(.* = <tid>$/.test(text)) summary.threads++;
    if (PER_THREAD.test(text) && !/ = (-1|\?)/.test(text)) {
      summary.perThread.set(text, (summary.perThread.get(text) ?? 0) + 1);
    } else {
      summary.laterForms.add(lineForm(text));
    }
  });
  return summary;
}

// The events a session yields: plain typed objects, made in TypeScript from
// the packed records (no object is built in C++).
import { type ArgValue, type Decoded, type SyscallArgs, decodeSyscall, isErrorReturn, renderSyscall } from './syscalls/decode';
import { leadingStrings, parseStringArrays } from './syscalls/decode/string-arrays';
import { hex as addressText } from './units';
import { type Arch, syscallName } from './syscalls/table';
import { type WaitStatus, decodeWaitStatus, signalName } from './wait-status';
import { AUDIT_ARCH, BatchView, FIELD, FLAG, KIND, START_EVENT, archOfAudit } from './wire';

interface EventBase {
  /** Contiguous from 0 over the whole session. */
  seq: number;
  /** Milliseconds since the session was created (CLOCK_MONOTONIC). */
  time: number;
  pid: number;
  tid: number;
}

/**
 * A field's value as JSON text; `ev` is the whole event, for a field whose
 * form depends on the call (an address arg or return value, which the
 * decoder names, is written "0x…").
 */
type Encode<T> = (v: T, ev: SyscallRecord) => string;

/**
 * always: every producer sets it; optional: only calls that have it, absent
 * otherwise; decoded: a getter, worked out on first access.
 */
type Presence = 'always' | 'optional' | 'decoded';

/** One field of a syscall event: whether it is there, and its JSON. T is its TypeScript type. */
export interface FieldSpec<T, P extends Presence = Presence> {
  readonly presence: P;
  readonly json: Encode<T>;
}

const always = <T>(json: Encode<T>): FieldSpec<T, 'always'> => ({ presence: 'always', json });
const optional = <T>(json: Encode<T>): FieldSpec<T, 'optional'> => ({ presence: 'optional', json });
const decoded = <T>(json: Encode<T>): FieldSpec<T, 'decoded'> => ({ presence: 'decoded', json });

// The JSON encodings: what JSON.stringify writes, except that JSON has no
// 64-bit integers (a bigint is its decimal string, an address "0x…" as
// /proc/PID/maps shows it) and no bytes (hex).
// Written out where calling JSON.stringify would cost more than the value.
const num: Encode<number> = (v) => (Number.isFinite(v) ? `${v}` : 'null');
const bool: Encode<boolean> = (v) => (v ? 'true' : 'false');
const str: Encode<string> = (v) => JSON.stringify(v);
/** A string from a fixed set of names, none of which needs escaping. */
const word: Encode<string> = (v) => `"${v}"`;
const strs: Encode<string[]> = (v) => JSON.stringify(v);
const bigs: Encode<bigint[]> = (v) => (v.length ? `["${v.join('","')}"]` : '[]');
const hex: Encode<Uint8Array> = (v) => `"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"`;
const orNull =
  <T>(e: Encode<T>): Encode<T | null> =>
  (v, ev) => (v === null ? 'null' : e(v, ev));
const argJson = (v: ArgValue, address: boolean): string =>
  typeof v === 'bigint' ? (address ? `"${addressText(v)}"` : `"${v}"`) : JSON.stringify(v);
const args: Encode<SyscallArgs> = (a, ev) => {
  const addresses = ev.decoded.addresses ?? NO_ADDRESSES;
  // Argument names are C identifiers: nothing to escape.
  let s = '';
  for (const [k, v] of Object.entries(a)) s += `${s ? ',' : '{'}"${k}":${argJson(v, addresses.includes(k))}`;
  return s ? `${s}}` : '{}';
};
const NO_ADDRESSES: readonly string[] = [];
/** An address the call returned is "0x…"; an error (-errno) and any other value, decimal. */
const retJson = (v: bigint, ev: SyscallRecord): string => (returnsAddress(v, ev.decoded) ? `"${addressText(v)}"` : `"${v}"`);
const returnsAddress = (v: bigint, d: Decoded): boolean => d.returnsAddress === true && !isErrorReturn(v);

/**
 * The fields of a syscall event, each declared here once, in JSON key order.
 * The SyscallEvent type, SyscallRecord's toJSON and the CLI's JSON line
 * (lib/cli/format-json.ts) are all derived from it; SyscallRecord names the
 * stored ones again, for speed, and a test holds it to this table.
 */
export const SYSCALL_FIELDS = {
  type: always<'syscall'>(word),
  // seq, time, pid, tid: as in EventBase.
  seq: always<number>(num),
  time: always<number>(num),
  pid: always<number>(num),
  tid: always<number>(num),
  name: always<string>(str),
  nr: always<number>(num),
  arch: always<Arch>(word),
  /** Raw argument registers, unsigned, always 6. */
  raw: always<bigint[]>(bigs),
  /**
   * Decoded arguments by name, e.g. mmap's `{ addr, length: 8392704n, prot:
   * ['PROT_NONE'], flags: ['MAP_PRIVATE', 'MAP_ANONYMOUS', 'MAP_STACK'], fd:
   * -1, offset: 0n }`; `{}` for calls liveprobe does not decode (see `raw`).
   * Decoded on first access.
   */
  args: decoded<SyscallArgs>(args),
  /** The call as strace prints it, without the pid prefix: `mmap(NULL, 8392704, …) = 0x7f…`. Rendered on first access. */
  text: decoded<string>(str),
  /** Raw return value (negative errno on failure); null when it never returned. */
  ret: always<bigint | null>(orNull(retJson)),
  /** The task vanished (or was killed) inside the call. */
  unfinished: always<boolean>(bool),
  /** Entry time (ms since session start); null for an exit seen without its entry. */
  entryTime: always<number | null>(orNull(num)),
  /** clone3: the struct clone_args bytes read at entry, with the tail its size claims (up to 4096 bytes; fewer if size was smaller or memory unreadable). */
  cloneArgs: optional<Uint8Array>(hex),
  /** execve/execveat: the program; mmap of an fd: the file behind it (/proc/TID/fd/N at return). */
  path: optional<string>(str),
  /** execve/execveat: argv's strings before the first that is not one whole readable string (entryMem has them all). */
  argv: optional<string[]>(strs),
  /** execve/execveat: the number of environment variables (envp entries), when envp was readable. */
  envc: optional<number>(num),
  /** envc counts the entries before the array became unreadable, not up to its NULL. */
  envUnterminated: optional<boolean>(bool),
  /**
   * Tracee memory strace prints, copied as lib/syscalls/memory-reads.ts says:
   * at entry (sigaltstack's new stack_t, PR_SET_NAME's name, clone3's
   * set_tid ints, execve's argv and envp as entries of lib/wire.ts
   * ARRAY_ENTRY) and after a
   * successful exit (the old stack_t, ARCH_GET_FS's value, a pidfd). A C
   * string keeps its NUL; absent when not read or unreadable.
   */
  entryMem: optional<Uint8Array>(hex),
  exitMem: optional<Uint8Array>(hex),
  /** The extra memory was cut at liveprobe's bound, or could not be read. */
  truncated: optional<boolean>(bool),
  readFailed: optional<boolean>(bool),
};

type Spec = typeof SYSCALL_FIELDS;
type Typed = { [K in keyof Spec]: Spec[K] extends FieldSpec<infer T> ? T : never };
type KeysWhere<P extends Presence> = { [K in keyof Spec]: Spec[K]['presence'] extends P ? K : never }[keyof Spec];

/** The fields a SyscallEvent is made from: everything but the decoded `args` and `text`. */
export type SyscallFields = Pick<Typed, KeysWhere<'always'>> & Partial<Pick<Typed, KeysWhere<'optional'>>>;

export interface SyscallEvent extends EventBase, SyscallFields, Readonly<Pick<Typed, KeysWhere<'decoded'>>> {}

/** The table as a list, for code that walks it: each spec's json takes that field's value. */
export const SYSCALL_FIELD_LIST = Object.entries(SYSCALL_FIELDS) as [keyof Spec, FieldSpec<never>][];

// Gives the class the stored fields' types from the table.
export interface SyscallRecord extends SyscallFields {}

/**
 * A syscall event whose `args` and `text` are decoded on first access and
 * then kept: a consumer that only counts or filters events never pays for
 * decoding. toJSON includes both, so NDJSON output is complete.
 */
export class SyscallRecord implements SyscallEvent {
  // The stored fields again, in the table's order, untyped (their types come
  // from the table through the interface above), then assigned one by one:
  // V8 builds records fast only from code that names each field. A loop over
  // the table made construction 14x slower, assignments without these
  // declarations 1.6x slower. test/decode.test.ts holds both lists to the
  // table. Every field is assigned, even undefined, so every record has one
  // shape.
  readonly type = 'syscall';
  seq;
  time;
  pid;
  tid;
  name;
  nr;
  arch;
  raw;
  ret;
  unfinished;
  entryTime;
  cloneArgs?;
  path?;
  argv?;
  envc?;
  envUnterminated?;
  entryMem?;
  exitMem?;
  truncated?;
  readFailed?;
  #decoded: Decoded | undefined;
  #text: string | undefined;

  constructor(f: SyscallFields) {
    this.seq = f.seq;
    this.time = f.time;
    this.pid = f.pid;
    this.tid = f.tid;
    this.name = f.name;
    this.nr = f.nr;
    this.arch = f.arch;
    this.raw = f.raw;
    this.ret = f.ret;
    this.unfinished = f.unfinished;
    this.entryTime = f.entryTime;
    this.cloneArgs = f.cloneArgs;
    this.path = f.path;
    this.argv = f.argv;
    this.envc = f.envc;
    this.envUnterminated = f.envUnterminated;
    this.entryMem = f.entryMem;
    this.exitMem = f.exitMem;
    this.truncated = f.truncated;
    this.readFailed = f.readFailed;
  }

  get decoded(): Decoded {
    return (this.#decoded ??= decodeSyscall(this));
  }

  get args(): SyscallArgs {
    return this.decoded.args;
  }

  get text(): string {
    return (this.#text ??= renderSyscall(this, this.decoded));
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, f] of SYSCALL_FIELD_LIST) {
      const v = this[k];
      if (v !== undefined || f.presence !== 'optional') out[k] = v;
    }
    // Addresses as the JSON line writes them (SYSCALL_FIELDS' args and ret).
    const d = this.decoded;
    if (d.addresses?.length) {
      out.args = Object.fromEntries(Object.entries(d.args).map(([k, v]) => [k, typeof v === 'bigint' && d.addresses!.includes(k) ? addressText(v) : v]));
    }
    if (this.ret !== null && returnsAddress(this.ret, d)) out.ret = addressText(this.ret);
    return out;
  }

  /** console.log / util.inspect show the decoded form too. */
  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, unknown> {
    return this.toJSON();
  }
}

export interface ThreadStartEvent extends EventBase {
  type: 'thread-start';
  /** null for threads that existed when liveprobe attached. */
  parentTid: number | null;
  /** The kind of start, from ptrace's event: a clone (a thread, usually), a fork, a vfork, or there at the attach. */
  how: 'clone' | 'fork' | 'vfork' | 'attach';
  /** The syscall that made it (`clone3`, `clone`, `fork`, `vfork`), when its entry was seen. */
  call?: string;
  /** false for a new process that is not followed (no --follow-forks). */
  followed: boolean;
}

export type { WaitStatus } from './wait-status';

export interface ThreadExitEvent extends EventBase, WaitStatus {
  type: 'thread-exit';
}

export interface ExecEvent extends EventBase {
  type: 'exec';
  /** The new image, from /proc/PID/exe. */
  path: string;
  /** The thread that called execve; differs from tid when a non-leader exec'd. */
  formerTid: number;
}

export interface SignalEvent extends EventBase {
  type: 'signal';
  signal: NodeJS.Signals | `SIG${number}`;
  signo: number;
  /** siginfo si_code (SI_USER 0, SI_TKILL -6, ...); 0 for a group-stop. */
  code: number;
  /** A group-stop (SIGSTOP & co. took effect), not a delivery. */
  groupStop: boolean;
  senderPid: number;
}

export interface ExitEvent extends EventBase, WaitStatus {
  type: 'exit';
}

export interface SnapshotEvent extends EventBase {
  type: 'snapshot';
  /** /proc/PID/maps, read while every thread was stopped. */
  maps: string;
  /** attach: each thread's stack pointer and pc at that stopped-world moment. */
  threads?: { tid: number; sp: bigint; ip: bigint }[];
  /** The perf engine re-read the maps after lost records, while the target ran (a `resync` event follows). */
  resync?: true;
}

/** The model was re-read from /proc/PID/maps after lost records, and what that changed (docs/perf-engine.md, "Loss"). */
export interface ResyncEvent extends EventBase {
  type: 'resync';
  /** Records the kernel dropped since the previous resync (or the attach). */
  lost: number;
  /** Ranges where the model differed from the maps, one line each as verify() prints them (at most 20). */
  differences: string[];
  /** How many ranges differed in all. */
  differing: number;
}

export interface StartedEvent extends EventBase {
  type: 'started';
  /** Tasks traced at this point. */
  tasks: number;
}

export interface DetachedEvent extends EventBase {
  type: 'detached';
  /**
   * run with a seccomp filter: the filter stays in the target, so the tracer
   * keeps serving its stops, without reporting them, until it exits.
   */
  filterInPlace: boolean;
}

export type FindingKind =
  | 'cgo-thread' //          a thread made by pthread_create (cgo Ms, C threads)
  | 'go-thread' //           a thread made by the Go runtime itself (runtime.newosproc)
  | 'glibc-arena' //         a glibc malloc arena heap (64 MiB reserve, 64 MiB-aligned)
  | 'go-heap-arena' //       a Go heap arena reservation (64 MiB) and its commits
  | 'go-runtime-metadata'; // the Go runtime's startup reservations (page summaries, indexes)

/** A fact the detectors (lib/detect) proved, with the seqs of the syscall events that prove it. */
export interface Finding {
  type: 'finding';
  kind: FindingKind;
  pid: number;
  /** The thread whose event completed the proof. */
  tid: number;
  /** The seq of the event that completed it: the finding follows that event. */
  seq: number;
  time: number;
  /** Seqs of the syscall events that prove it, in order. */
  evidence: number[];
  /** The memory it is about, when it is about memory. */
  region?: { start: bigint; end: bigint };
  /** One line for people. */
  summary: string;
  /** Kind-specific facts (sizes, tids, flags). */
  details: Record<string, bigint | number | string | boolean | null>;
  /**
   * Records the kernel dropped between the proof's first event and this
   * finding (the perf engine, docs/perf-engine.md "Loss"): a step of the
   * proof may be missing. Absent when nothing was lost there.
   */
  lostInProof?: number;
}

export type TraceEvent =
  | SyscallEvent
  | ThreadStartEvent
  | ThreadExitEvent
  | ExecEvent
  | SignalEvent
  | ExitEvent
  | SnapshotEvent
  | StartedEvent
  | DetachedEvent
  | ResyncEvent
  | Finding;

/** An in-band error record, turned into a LiveprobeError by the session. */
export interface ErrorRecord {
  seq: number;
  pid: number;
  errno: number;
  site: number;
  detail: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Decodes record i of a batch. Returns the event, or an ErrorRecord for an
 * in-band error.
 */
export function decodeRecord(b: BatchView, i: number, baseNs: bigint): TraceEvent | ErrorRecord {
  const base = Number(baseNs);
  const seq = b.u64n(i, FIELD.seq);
  const time = (b.u64n(i, FIELD.time_ns) - base) / 1e6;
  const pid = b.u32(i, FIELD.pid);
  const tid = b.u32(i, FIELD.tid);
  const kind = b.u16(i, FIELD.kind);
  const flags = b.u16(i, FIELD.flags);
  const a = b.u32(i, FIELD.a);
  switch (kind) {
    case KIND.syscall: {
      const nr = b.i32(i, FIELD.nr);
      const arch = archOfAudit(b.u32(i, FIELD.arch));
      const raw: bigint[] = [];
      for (let k = 0; k < 6; k++) raw.push(b.u64(i, FIELD.args + 8 * k));
      const entryNs = b.u64n(i, FIELD.entry_ns);
      const name = syscallName(arch, nr);
      const ev = new SyscallRecord({
        type: 'syscall',
        seq,
        time,
        pid,
        tid,
        name,
        nr,
        arch,
        raw,
        ret: flags & FLAG.hasReturn ? b.i64(i, FIELD.ret) : null,
        unfinished: (flags & FLAG.unfinished) !== 0,
        entryTime: flags & FLAG.noEntry ? null : (entryNs - base) / 1e6,
      });
      const data = b.data(i, 1);
      const data2 = b.data(i, 2);
      if (name === 'clone3') {
        ev.cloneArgs = data.slice();
        // With hasCount, data2 starts with the set_tid ints copied at entry (a bytes).
        const setTid = flags & FLAG.hasCount ? Math.min(a, data2.length) : 0;
        if (flags & FLAG.hasCount) ev.entryMem = data2.slice(0, setTid);
        if (data2.length > setTid) ev.exitMem = data2.slice(setTid);
      } else if (name === 'execve' || name === 'execveat') {
        ev.path = utf8.decode(data);
        ev.entryMem = data2.slice();
        ev.argv = leadingStrings(parseStringArrays(ev.entryMem)[0]);
        if (flags & FLAG.hasCount) {
          ev.envc = a;
          if (b.u32(i, FIELD.b) !== 0) ev.envUnterminated = true;
        }
      } else if (name === 'mmap') {
        if (data.length > 0) ev.path = utf8.decode(data);
      } else {
        if (data.length) ev.entryMem = data.slice();
        if (data2.length) ev.exitMem = data2.slice();
      }
      if (flags & FLAG.dataTruncated) ev.truncated = true;
      if (flags & FLAG.readFailed) ev.readFailed = true;
      return ev;
    }
    case KIND.threadStart: {
      const how = START_EVENT[b.u32(i, FIELD.b) as keyof typeof START_EVENT] ?? 'clone';
      const ev: ThreadStartEvent = {
        type: 'thread-start',
        seq,
        time,
        pid,
        tid,
        parentTid: how === 'attach' ? null : a,
        how,
        followed: how === 'attach' || b.u64(i, FIELD.args) !== 0n,
      };
      // Named only for the 64-bit ABIs the tables cover (not an i386 int 0x80 clone).
      const audit = b.u32(i, FIELD.arch);
      const known = audit === AUDIT_ARCH.x86_64 || audit === AUDIT_ARCH.aarch64;
      if (known && b.u64(i, FIELD.args + 16) === 1n) ev.call = syscallName(archOfAudit(audit), b.u32(i, FIELD.args + 8));
      return ev;
    }
    case KIND.threadExit:
      return { type: 'thread-exit', seq, time, pid, tid, ...decodeWaitStatus(a) };
    case KIND.exit:
      return { type: 'exit', seq, time, pid, tid, ...decodeWaitStatus(a) };
    case KIND.exec:
      return { type: 'exec', seq, time, pid, tid, path: utf8.decode(b.data(i)), formerTid: a };
    case KIND.signal:
      return {
        type: 'signal',
        seq,
        time,
        pid,
        tid,
        signal: signalName(a),
        signo: a,
        code: b.i32(i, FIELD.b),
        groupStop: (flags & FLAG.groupStop) !== 0,
        senderPid: Number(b.u64(i, FIELD.args)),
      };
    case KIND.snapshot: {
      const ev: SnapshotEvent = { type: 'snapshot', seq, time, pid, tid, maps: utf8.decode(b.data(i)) };
      if (b.u32(i, FIELD.a) === 1) ev.resync = true;
      const regs = b.data(i, 2);
      if (regs.length >= 24) {
        const dv = new DataView(regs.buffer, regs.byteOffset, regs.length);
        ev.threads = [];
        for (let o = 0; o + 24 <= regs.length; o += 24) {
          ev.threads.push({ tid: dv.getUint32(o, true), sp: dv.getBigUint64(o + 8, true), ip: dv.getBigUint64(o + 16, true) });
        }
      }
      return ev;
    }
    case KIND.started:
      return { type: 'started', seq, time, pid, tid, tasks: a };
    case KIND.detached:
      return { type: 'detached', seq, time, pid, tid, filterInPlace: a !== 0 };
    case KIND.error:
      return { seq, pid, errno: a, site: b.u32(i, FIELD.b), detail: utf8.decode(b.data(i)) };
    default:
      throw new Error(`liveprobe: unknown record kind ${kind} from the native tracer`);
  }
}

export function isErrorRecord(r: TraceEvent | ErrorRecord): r is ErrorRecord {
  return !('type' in r);
}

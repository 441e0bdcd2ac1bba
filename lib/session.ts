// A tracing session: the async iterator over a native tracer's batches, with
// a credit window so a slow consumer slows the target instead of losing
// events (docs/wire-format.md, "Credits and batching").
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Analysis, targetArenaLimits } from './analysis';
import { checkAttachable } from './attach-checks';
import { LiveprobeError } from './errors';
import { type TraceEvent, decodeRecord, isErrorRecord } from './events';
import { isDirectory, resolveExecutable } from './launch';
import type { AddressSpace } from './model';
import type { Finding } from './detect/finding';
import { type Explanation, explain } from './explain/explain';
import type { UsageSummary } from './explain/usage';
import { type NativeSession, native } from './native';
import { type EngineName, type EngineSetUp, engineFor } from './perf/choose';
import { type AttachOptions, type CommonOptions, type RunOptions, tracingOptions } from './session-options';
import { describeTracerError } from './tracer-errors';

export type { AttachOptions, RunOptions, StdioSpec } from './session-options';
import { BatchView, FIELD, FLAG } from './wire';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** liveprobe detached from an attached process before it exited. */
  detached: boolean;
}

export interface SessionStats {
  events: number;
  batches: number;
  /** Records dropped in 'drop' mode; always 0 in 'block' mode. */
  lost: number;
  /** Signal deliveries left out as Go preemption (see the preemption option); delivered all the same. */
  hiddenSignals: number;
  /** ptrace stops of the target's threads: each one paused a thread for the tracer. */
  stops: number;
  /** Times the model was re-read from /proc/PID/maps after lost records (perf engine). */
  resyncs: number;
}

/** What a session yields: the tracer's events, and the detectors' findings right after the event that completed each. */
export type SessionEvent = TraceEvent;

type Item = SessionEvent | LiveprobeError;

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a rejection nobody awaits is not a crash
  return { promise, resolve, reject };
}

export class Session implements AsyncIterable<SessionEvent> {
  readonly mode: 'run' | 'attach';
  /** The target's pid: known at once for attach, after the spawn for run. */
  pid: number | undefined;
  /** Resolves with the pid once the target is traced (run: exec done; attach: all threads stopped and seized). */
  readonly ready: Promise<number>;
  /** Resolves when the target exits (or, for attach, when liveprobe detaches). */
  readonly exited: Promise<ExitInfo>;
  readonly stdin: Writable | null = null;
  readonly stdout: Readable | null = null;
  readonly stderr: Readable | null = null;
  readonly stats: SessionStats = { events: 0, batches: 0, lost: 0, hiddenSignals: 0, stops: 0, resyncs: 0 };
  /** Which engine traces: 'ptrace' (run unless told, attach where perf cannot) or 'perf' (docs/perf-engine.md). */
  engine: EngineName = 'ptrace';
  /** attach: one line saying why ptrace was used when perf was the default; undefined otherwise. */
  engineNote: string | undefined;

  #native: NativeSession | undefined;
  #baseNs = process.hrtime.bigint();
  /** Wall-clock ms of the events' time 0 (an event at `time` happened at epochMs + time); not `performance` (docs/architecture.md, "Start-up"). */
  readonly epochMs = Date.now();
  /** Now, in ms on the events' clock (monotonic; time 0 is epochMs). */
  now(): number {
    return Number(process.hrtime.bigint() - this.#baseNs) / 1e6;
  }
  /** Model and detectors (lib/analysis.ts): every event, in record order, as its batch arrives. */
  readonly #analysis = new Analysis(targetArenaLimits);
  /** attach: each thread's registers at the stopped-world moment. */
  #attachRegs: { tid: number; sp: bigint }[] | undefined;
  /** Each process's image as its exec event named it: the binary's facts once /proc/PID/exe is gone. */
  readonly #exes = new Map<number, string>();
  /** Decoded batches waiting for the consumer; one credit each. */
  #queue: Item[][] = [];
  #current: Item[] = [];
  #index = 0;
  #wake: (() => void) | undefined;
  #iterating = false;
  #iterationDone = false;
  #ended = false;
  #detachRequested = false;
  #detachedSeen = false;
  #exitSeen = false;
  #lastTurn = this.now();
  #ready = deferred<number>();
  #exited = deferred<ExitInfo>();
  #detached = deferred<void>();
  #childFds: number[] = [];
  #error: LiveprobeError | undefined;
  /** The explanation taken at the target's exit_group, while its address space was still whole. */
  #final: Explanation | undefined;
  #explainAtExit = true;
  /** stats.lost at the last resync. */
  #lostAtResync = 0;

  /** @internal use run() or attach() */
  constructor(mode: 'run' | 'attach') {
    this.mode = mode;
    this.ready = this.#ready.promise;
    this.exited = this.#exited.promise;
  }

  /** @internal */
  startRun(file: string, args: readonly string[], opts: RunOptions): void {
    const cwd = path.resolve(opts.cwd ?? process.cwd());
    const env = opts.env ?? process.env;
    const resolved = resolveExecutable(file, cwd, env.PATH ?? process.env.PATH ?? '');
    if (resolved instanceof LiveprobeError) return this.#fail(resolved);
    if (!isDirectory(cwd)) {
      return this.#fail(new LiveprobeError('ENOENT', `working directory ${cwd} does not exist; pass an existing cwd`));
    }
    const tracing = tracingOptions(opts);
    if (tracing instanceof LiveprobeError) return this.#fail(tracing);
    const perf = this.#engine(engineFor(opts, 'run'));
    if (perf instanceof LiveprobeError) return this.#fail(perf);
    const stdio = this.#setUpStdio(opts.stdio ?? 'inherit');
    const envList = Object.entries(env)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    this.#start('run', {
      file: resolved,
      argv: [file, ...args],
      env: envList,
      cwd,
      stdio,
      noAslr: opts.noAslr ?? false,
      ...tracing,
      ...perf,
    }, opts);
  }

  /** @internal */
  startAttach(pid: number, opts: AttachOptions): void {
    this.pid = pid;
    const problem = checkAttachable(pid);
    if (problem) return this.#fail(problem);
    const tracing = tracingOptions(opts);
    if (tracing instanceof LiveprobeError) return this.#fail(tracing);
    const perf = this.#engine(engineFor(opts, 'attach'));
    if (perf instanceof LiveprobeError) return this.#fail(perf);
    this.#start('attach', { pid, ...tracing, ...perf }, opts);
  }

  /** Takes the engine chosen; its native options, or the error. */
  #engine(choice: EngineSetUp | LiveprobeError): EngineSetUp['native'] | LiveprobeError {
    if (choice instanceof LiveprobeError) return choice;
    [this.engine, this.engineNote] = [choice.engine, choice.note];
    return choice.native;
  }

  #start(mode: 'run' | 'attach', nativeOpts: Parameters<typeof createNative>[1], opts: CommonOptions): void {
    this.#explainAtExit = opts.explainAtExit ?? true;
    try {
      this.#native = createNative(mode, nativeOpts, (ab) => this.#onBatch(ab));
      this.#native.grant(Math.max(1, opts.window ?? 4));
      this.#native.start();
    } catch (err) {
      this.#closeChildFds();
      return this.#fail(new LiveprobeError('EIO', err instanceof Error ? err.message : String(err)));
    }
    if (opts.signal) {
      if (opts.signal.aborted) void this.detach();
      else opts.signal.addEventListener('abort', () => void this.detach(), { once: true });
    }
  }

  // --- address-space model (lib/model) ---
  /**
   * The target's live address-space model: seeded from the stopped-world
   * /proc/PID/maps snapshot (attach, every exec) and updated by every memory
   * syscall as its batch arrives, whether or not events are consumed.
   * undefined until that first snapshot.
   */
  get model(): AddressSpace | undefined {
    return this.pid === undefined ? undefined : this.#analysis.models.get(this.pid);
  }

  /** Every traced process's model by pid (several with followForks; a vfork child shares its parent's until exec). */
  get models(): ReadonlyMap<number, AddressSpace> {
    return this.#analysis.models.byPid;
  }
  // --- end model ---

  /** Stops tracing; the target runs on. Resolves once every thread is released. */
  async detach(): Promise<void> {
    if (this.#ended || this.#detachedSeen) return;
    if (!this.#native) return;
    if (!this.#detachRequested) {
      this.#detachRequested = true;
      this.#native.detach();
    }
    await this.#detached.promise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.detach();
  }

  /** Every finding so far, in order. */
  get findings(): readonly Finding[] {
    return this.#analysis.findings;
  }

  /**
   * The VmSize explained now: per class (count × size, RSS), per creating
   * thread, threads by kind, binary facts and hints. undefined before the
   * model exists. From the target's exit_group on: the explanation taken
   * there, while /proc still had everything (after any other end, killed
   * by a signal: the model's last state, without RSS).
   */
  explain(usage?: UsageSummary | null): Explanation | undefined {
    const model = this.model;
    if (!model || this.pid === undefined) return undefined;
    // From the exit_group on, /proc is being torn down: an --every tick or a
    // SIGUSR1 that lands between the release and the exit would read a zombie.
    if (this.#final) return { ...this.#final, usage: usage ?? null };
    return this.#explainNow(usage);
  }

  #explainNow(usage?: UsageSummary | null): Explanation | undefined {
    const model = this.model;
    if (!model || this.pid === undefined) return undefined;
    return explain({
      pid: this.pid, model, findings: this.#analysis.findings, usage: usage ?? null,
      extents: this.#analysis.extents(this.pid),
      threadRegs: this.#attachRegs,
      exe: this.#exes.get(this.pid),
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<SessionEvent> {
    if (this.#iterating) throw new Error('liveprobe: a session can be iterated only once');
    this.#iterating = true;
    const iterator: AsyncIterator<SessionEvent> & AsyncIterable<SessionEvent> = {
      next: () => this.#next(),
      return: async () => {
        this.#iterationDone = true;
        await this.detach();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  async #next(): Promise<IteratorResult<SessionEvent>> {
    for (;;) {
      if (this.#iterationDone) return { done: true, value: undefined };
      if (this.#index < this.#current.length) {
        // Buffered events resolve without returning to the event loop; give
        // timers and I/O a turn now and then.
        if (this.now() - this.#lastTurn > 20) {
          await new Promise<void>((r) => setImmediate(r));
          this.#lastTurn = this.now();
        }
        const item = this.#current[this.#index++]!;
        if (item instanceof LiveprobeError) {
          this.#iterationDone = true;
          throw item;
        }
        if (item.type === 'detached') this.#iterationDone = true;
        return { done: false, value: item };
      }
      const batch = this.#queue.shift();
      if (batch) {
        this.#current = batch;
        this.#index = 0;
        // The consumer took a batch: the tracer may send one more.
        if (!this.#ended) this.#native?.grant(1);
        continue;
      }
      if (this.#error && this.#current.length === 0) {
        this.#iterationDone = true;
        throw this.#error;
      }
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((r) => (this.#wake = r));
    }
  }

  // Runs on every batch as it arrives, consumed or not: lifecycle state must
  // not wait for the consumer.
  #onBatch(ab: ArrayBuffer): void {
    let batch: BatchView;
    try {
      batch = new BatchView(ab);
    } catch (err) {
      this.#fail(new LiveprobeError('EIO', err instanceof Error ? err.message : String(err)));
      return;
    }
    this.stats.batches++;
    this.stats.lost += Number(batch.lost);
    this.stats.hiddenSignals += batch.hidden;
    this.stats.stops += batch.stops;
    this.stats.events += batch.count;
    if (batch.lost > 0n && batch.count > 0) this.#analysis.lost(batch.lost, batch.u64n(0, FIELD.seq));
    // Each record decoded once, here, into its event; the event then takes the
    // one path (lib/analysis.ts), and a finding goes right after the event
    // that completed it.
    const items: Item[] = [];
    let held = false;
    for (let i = 0; i < batch.count; i++) {
      const r = decodeRecord(batch, i, this.#baseNs);
      const isHeld = (batch.u16(i, FIELD.flags) & FLAG.held) !== 0;
      if (isErrorRecord(r)) {
        const err = describeTracerError(r);
        items.push(err);
        this.#closeChildFds();
        this.#error ??= err;
        this.#ready.reject(err);
        this.#exited.reject(err);
        continue;
      }
      items.push(r);
      if (r.type === 'snapshot' && r.resync) {
        this.stats.resyncs++;
        items.push(this.#analysis.resync(r, this.stats.lost - this.#lostAtResync));
        this.#lostAtResync = this.stats.lost;
      }
      const found = this.#analysis.process(r);
      for (const f of found) items.push(f);
      if (isHeld) {
        held = true;
        // The target's exit_group: its thread is stopped at the entry and the
        // kernel has not torn down the mm yet, so /proc still has it all.
        if (r.pid === this.pid && this.#explainAtExit) this.#holdExplanation(r.tid);
      }
      this.#lifecycle(r);
    }
    if (held) this.#native?.release();
    if (this.#iterationDone) {
      // Nobody reads any more (break / return()): keep the tracer flowing.
      if (!batch.last) this.#native?.grant(1);
    } else if (batch.count > 0) {
      this.#queue.push(items);
    } else if (!batch.last) {
      this.#native?.grant(1);  // an empty batch costs a credit but carries nothing
    }
    if (batch.last) this.#end();
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #holdExplanation(exitingTid: number): void {
    try {
      const e = this.#explainNow();
      // That thread's state is our ptrace stop ('t'), not the program's.
      if (e) e.threads = e.threads.map((t) => (t.tid === exitingTid ? { ...t, state: 'exit_group' } : t));
      this.#final = e;
    } catch {
      this.#final = undefined;  // explained from the model alone later
    }
  }

  /** What an event means for the session's promises and the child's pipes. */
  #lifecycle(ev: TraceEvent): void {
    switch (ev.type) {
      case 'snapshot':
        if (ev.threads && this.mode === 'attach') this.#attachRegs ??= ev.threads;
        break;
      case 'exec':
        this.#exes.set(ev.pid, ev.path);
        break;
      case 'started':
        this.pid ??= ev.pid;
        this.#closeChildFds();
        this.#ready.resolve(this.pid);
        break;
      case 'exit':
        if (ev.pid === this.pid) {
          this.#closeChildFds();
          this.#exitSeen = true;
          this.#exited.resolve({ code: ev.code, signal: ev.signal, detached: false });
        }
        break;
      case 'detached':
        this.#detachedSeen = true;
        this.#detached.resolve();
        // run: the tracer now only waits for the target's exit; that must
        // not keep Node alive. Unless a seccomp filter is in place: then the
        // tracer still serves the target's stops, which would fail with
        // ENOSYS if Node went away.
        if (!ev.filterInPlace) this.#native?.unref();
        if (this.mode === 'attach') this.#exited.resolve({ code: null, signal: null, detached: true });
        break;
    }
  }

  #end(): void {
    this.#ended = true;
    this.#closeChildFds();
    const gone = new LiveprobeError('ECHILD', 'the tracer ended before the target exited');
    // ready: say what happened when the session ended before it (the target
    // exited mid-attach, or a detach came first).
    const notReady = this.#exitSeen
      ? new LiveprobeError('ESRCH', `process ${this.pid} exited while liveprobe was attaching`, 3)
      : this.#detachRequested ? new LiveprobeError('ECHILD', 'detached before the attach had completed') : gone;
    this.#ready.reject(this.#error ?? notReady);
    this.#detached.resolve();
    this.#exited.reject(this.#error ?? gone);
  }

  #fail(err: LiveprobeError): void {
    this.#error = err;
    this.#ended = true;
    this.#ready.reject(err);
    this.#exited.reject(err);
    this.#detached.resolve();
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #setUpStdio(spec: RunOptions['stdio']): [number, number, number] {
    const specs = Array.isArray(spec) ? spec : [spec!, spec!, spec!];
    const fds: [number, number, number] = [0, 1, 2];
    const self = this as { stdin: Writable | null; stdout: Readable | null; stderr: Readable | null };
    for (let i = 0; i < 3; i++) {
      const s = specs[i] ?? 'inherit';
      if (s === 'inherit') fds[i] = i;
      else if (typeof s === 'number') fds[i] = s;
      else if (s === 'ignore') {
        fds[i] = fs.openSync('/dev/null', i === 0 ? 'r' : 'w');
        this.#childFds.push(fds[i]);
      } else {
        const [r, w] = native().pipe();
        // Loaded only for pipes: most runs never need it (start-up, issue 16 §5).
        const { Socket } = require('node:net') as typeof net;
        if (i === 0) {
          fds[i] = r;
          self.stdin = new Socket({ fd: w, readable: false, writable: true });
        } else {
          fds[i] = w;
          const sock = new Socket({ fd: r, readable: true, writable: false });
          if (i === 1) self.stdout = sock;
          else self.stderr = sock;
        }
        this.#childFds.push(fds[i]);
      }
    }
    return fds;
  }

  // Our copies of the child's ends of its pipes: closed once the child has
  // them, so the parent's reader sees EOF when the target exits.
  #closeChildFds(): void {
    for (const fd of this.#childFds.splice(0)) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

function createNative(
  mode: 'run' | 'attach',
  opts: import('./native').NativeRunOptions | import('./native').NativeAttachOptions,
  onBatch: (ab: ArrayBuffer) => void,
): NativeSession {
  const { NativeSession } = native();
  return new NativeSession(mode, opts, onBatch);
}

/** Launches file under the tracer. */
export function run(file: string, args: readonly string[] = [], opts: RunOptions = {}): Session {
  const s = new Session('run');
  s.startRun(file, args, opts);
  return s;
}

/** Traces every thread of a running process; detach() leaves it running. */
export function attach(pid: number, opts: AttachOptions = {}): Session {
  const s = new Session('attach');
  s.startAttach(pid, opts);
  return s;
}

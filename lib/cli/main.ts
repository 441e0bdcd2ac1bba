#!/usr/bin/env node
// liveprobe's command line: run or attach, print events, exit as the target did.
import fs from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { LiveprobeError } from '../errors';
import { PACKAGE_ROOT } from '../package-root';
import type { SnapshotEvent, TraceEvent } from '../events';
import { type Session, attach, run } from '../session';
import { FilterError, type TraceFilter, hostArch, parseTraceFilter } from '../syscalls';
import { type CliOptions, USAGE, UsageError, parseArgs } from './args';
import { formatEvent, useColour } from './format-text';
import { setAbbrev, setFdPaths, setXlatStyle } from '../syscalls/decode/format';
import { formatExplanation } from '../explain/format';
import { UsageSampler, prepareUsageSampling } from '../explain/usage';
import { SyscallCounts, classBytesAt, countsJson, formatClassBytes } from './counts';
import { LineTimes } from './timestamps';
import { toJson, toJsonLine } from './format-json';
import { LineWriter, isTerminal } from './line-writer';

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

async function trace(opts: CliOptions): Promise<number> {
  // strace -c counts every syscall unless -e says otherwise.
  const trace = opts.trace ?? (opts.counts !== 'off' ? 'all' : undefined);
  let filter: TraceFilter | undefined;
  if (trace !== undefined) filter = parseTraceFilter(trace, hostArch());
  const out = new LineWriter(opts.output);
  // --report / --perfetto: opened now, so a path that cannot be written fails before anything runs.
  const pictures = opts.report || opts.perfetto ? new (await import('../report')).Pictures(opts) : undefined;
  prepareUsageSampling();
  // On by default at a terminal, -o or not; with -o FILE the default summary
  // goes to the terminal, where the person who ran liveprobe is looking.
  const summary = opts.summary ?? isTerminal(2);
  const summaryToTerminal = opts.summary === undefined && opts.output !== undefined && summary;
  const common = {
    followForks: opts.followForks, trace, preemption: opts.preemption, engine: opts.engine, perfBufferPages: opts.perfPages,
    // Only a run that will print an explanation pays for one at the exit.
    explainAtExit: summary || opts.json || opts.everyMs !== undefined || opts.counts !== 'off' || pictures !== undefined || opts.live,
  };
  const session: Session =
    opts.command === 'run'
      ? run(opts.file!, opts.args, { ...common, noAslr: opts.noAslr })
      : attach(opts.pid!, common);
  // Said once the attach worked: a refused attach has its own one-line error.
  const note = session.engineNote;
  if (note) session.ready.then(() => process.stderr.write(`${note}\n`), () => undefined);

  // attach: Ctrl-C / SIGTERM detach and leave the target running.
  // run: the terminal delivers Ctrl-C to the target too (same process group),
  // so liveprobe lets the target decide; SIGTERM/SIGHUP are passed on.
  let stopSignal: NodeJS.Signals | undefined;
  const onStop = (sig: NodeJS.Signals) => {
    if (opts.command === 'attach') {
      stopSignal ??= sig;
      void session.detach();
    } else if (sig === 'SIGTERM' || sig === 'SIGHUP') {
      // Until the exec is reported the pid is not known here: pass the signal
      // on then, not never (ready resolves at once if it already has).
      session.ready.then(
        (pid) => {
          try {
            process.kill(pid, sig);
          } catch {
            // already gone
          }
        },
        () => undefined,
      );
    }
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, onStop);
  const timer =
    opts.durationMs !== undefined ? setTimeout(() => void session.detach(), opts.durationMs) : undefined;
  const colour = opts.output === undefined && !opts.json && useColour(process.stderr);
  if (opts.json) {
    // Says once what every line's times mean: `time` and `entryTime` are ms
    // since timeZero (ms since the epoch); usage lines' `time` too.
    await out.write(toJson({ type: 'header', version: version(), timeUnit: 'ms', timeZero: session.epochMs }));
  }
  const counts = opts.counts !== 'off' ? new SyscallCounts() : undefined;
  let startSnapshot: SnapshotEvent | undefined;
  const times = new LineTimes(opts, session.epochMs);
  // The explanation on demand, without detaching: kill -USR1 <liveprobe> or --every.
  const explainNow = () => {
    const e = session.model && !session.model.exited ? session.explain(sampler?.summary()) : undefined;
    if (e) void out.write(opts.json ? toJson(e) : '\n' + formatExplanation(e) + '\n');
  };
  process.on('SIGUSR1', explainNow);
  const every = opts.everyMs !== undefined ? setInterval(explainNow, opts.everyMs) : undefined;
  // CPU and RSS over time (/proc/PID/stat), for the summary and as --json usage lines.
  let sampler: UsageSampler | undefined;
  void session.ready.then(
    (pid) => {
      sampler = new UsageSampler(pid, 500, (u) => {
        // On the events' clock: ms since the header's timeZero.
        const time = session.now();
        if (opts.json) void out.write(toJson({ type: 'usage', pid, ...u, time }));
        pictures?.usage(pid, u.rssBytes);
      });
      sampler.start();
    },
    () => undefined,
  );

  // --live draws the view where the event lines would go.
  const title = opts.command === 'run' ? [opts.file!, ...opts.args].join(' ') : `process ${opts.pid}`;
  const live = opts.live ? new (await import('./live')).LiveView(session, title) : undefined;

  try {
    for await (const ev of session) {
      pictures?.add(ev, session.models.get(ev.pid));
      if (filter && ev.type === 'syscall' && !filter.matches(ev.nr)) continue;
      if (counts && ev.type === 'syscall') counts.add(ev);
      // -c: what each memory class gained is counted from the target's last snapshot (its exec, or the attach).
      if (counts && ev.type === 'snapshot' && ev.pid === session.pid) startSnapshot = ev;
      if (opts.counts === 'only' || live) continue;
      // --findings keeps the lines that say what happened to the session.
      if (opts.findingsOnly && !FINDINGS_CONTEXT.has(ev.type)) continue;
      const line = render(ev, opts.json, colour, opts.column);
      await out.write(times.active && !opts.json ? times.apply(ev, line) : line);
      if (ev.type === 'detached' && ev.filterInPlace && !opts.json) {
        // The filter cannot be removed (docs/architecture.md): say why nothing ends yet.
        await out.write(
          `liveprobe: detached; process ${ev.pid} keeps liveprobe's seccomp filter, so liveprobe stays ` +
            'to let its traced syscalls through until it exits (nothing more is reported)',
        );
      }
    }
    live?.stop();
    if (opts.findingsOnly && !opts.json) {
      const n = session.findings.length;
      await out.write(`liveprobe: ${n} finding${n === 1 ? '' : 's'}`);
    }
    if (every) clearInterval(every);
    if (counts) {
      const e = session.explain();
      const start = startSnapshot && classBytesAt(startSnapshot);
      const since = opts.command === 'attach' ? 'attach' : 'start';
      if (opts.json) await out.write(toJson(countsJson(counts, e, start, since)));
      else await out.write(counts.format() + (e ? '\n\n' + formatClassBytes(e, start, since) : ''));
    }
    sampler?.stop();
    const hidden = session.stats.hiddenSignals;
    if (hidden > 0) {
      // What was left out is said, never silently dropped.
      const text =
        `liveprobe: not shown: ${hidden} SIGURG the process sent its own threads (Go's preemption; ` +
        'delivered as usual) and the tgkill calls that sent them; --preemption shows them';
      await out.write(opts.json ? toJson({ type: 'hidden', preemptionSignals: hidden }) : text);
    }
    const lost = session.stats.lost;
    if (lost > 0) {
      // Loss is never silent: how many, and that the model was re-read (docs/perf-engine.md, "Loss").
      const text =
        `liveprobe: ${lost} record${lost === 1 ? '' : 's'} lost (${session.engine === 'perf' ? "the kernel's ring buffer was full" : 'overflow: drop'}); ` +
        (session.stats.resyncs > 0 ? `the model was re-read from /proc ${session.stats.resyncs} time${session.stats.resyncs === 1 ? '' : 's'}` : 'the model may be incomplete');
      await out.write(opts.json ? toJson({ type: 'lost', records: lost, resyncs: session.stats.resyncs }) : text);
    }
    if (summary || opts.json || pictures) {
      // After an exit: the explanation the session took at the exit_group.
      const e = session.explain(sampler?.summary());
      if (e && summaryToTerminal && !opts.json) process.stderr.write('\n' + formatExplanation(e) + '\n');
      else if (e && (summary || opts.json)) await out.write(opts.json ? toJson(e) : '\n' + formatExplanation(e));
      pictures?.close(title, e, session.model);
    }
    if (opts.maps) {
      const { mapsReport } = await import('./maps');
      for (const line of mapsReport(session.models, opts.json)) await out.write(line);
    }
    const exit = await session.exited;
    if (stopSignal) return signalExitCode(stopSignal);
    if (exit.detached) return 0;
    return exit.signal ? signalExitCode(exit.signal) : (exit.code ?? 0);
  } finally {
    if (timer) clearTimeout(timer);
    if (every) clearInterval(every);
    for (const s of signals) process.off(s, onStop);
    process.off('SIGUSR1', explainNow);
    await out.close();
  }
}

const FINDINGS_CONTEXT = new Set<TraceEvent['type']>(['finding', 'started', 'detached', 'exit']);

function render(ev: TraceEvent, json: boolean, colour: boolean, column: number): string {
  return json ? toJsonLine(ev) : formatEvent(ev, colour, column);
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'watch') return runCommand(async () => (await import('./watch')).watchCommand(argv.slice(1)));
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`liveprobe: ${err.message}; see liveprobe --help\n`);
      return 2;
    }
    throw err;
  }
  // One style for the process, as in strace: set before any event is decoded.
  setXlatStyle(opts.xlat);
  setFdPaths(opts.fdPaths);
  setAbbrev(!opts.verbose);
  if (opts.command === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (opts.command === 'version') {
    process.stdout.write(`liveprobe ${version()}\n`);
    return 0;
  }
  // What only one command needs is loaded by that command (start-up, issue 16 §5).
  return runCommand(async () => (opts.command === 'compare' ? (await import('./compare')).compare(opts) : trace(opts)));
}

/** Runs a command; its errors become one line and an exit code. */
async function runCommand(command: () => Promise<number>): Promise<number> {
  try {
    return await command();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`liveprobe: ${err.message}; see liveprobe --help\n`);
      return 2;
    }
    if (err instanceof FilterError) {
      process.stderr.write(`liveprobe: ${err.message}\n`);
      return 2;
    }
    if (err instanceof LiveprobeError) {
      process.stderr.write(`liveprobe: ${err.message}\n`);
      return 1;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`liveprobe: internal error: ${msg.split('\n')[0]}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`liveprobe: internal error: ${String(err).split('\n')[0]}\n`);
      process.exitCode = 1;
    },
  );
}

#!/usr/bin/env node
// liveprobe's command line: run or attach, print events, exit as the target did.
import fs from 'node:fs';
import { constants } from 'node:os';
import { LiveprobeError } from '../errors';
import type { TraceEvent } from '../events';
import { type Session, attach, run } from '../session';
import { FilterError, type TraceFilter, hostArch, parseTraceFilter } from '../syscalls';
import { type CliOptions, USAGE, UsageError, parseArgs } from './args';
import { formatEvent, useColour } from './format-text';
import { setFdPaths, setXlatStyle } from '../syscalls/decode/format';
import type { Explanation } from '../explain/explain';
import { formatExplanation } from '../explain/format';
import { UsageSampler, prepareUsageSampling } from '../explain/usage';
import { compare } from './compare';
import { toJson, toJsonLine } from './format-json';
import { LineWriter } from './line-writer';
import { mapsReport } from './maps';

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(require.resolve('../../../package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

async function trace(opts: CliOptions): Promise<number> {
  let filter: TraceFilter | undefined;
  if (opts.trace !== undefined) filter = parseTraceFilter(opts.trace, hostArch());
  const out = new LineWriter(opts.output);
  await prepareUsageSampling();
  const common = { followForks: opts.followForks, trace: opts.trace, preemption: opts.preemption };
  const session: Session =
    opts.command === 'run'
      ? run(opts.file!, opts.args, { ...common, noAslr: opts.noAslr })
      : attach(opts.pid!, common);

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
  const summary = opts.summary ?? (opts.output === undefined && Boolean(process.stderr.isTTY));
  // CPU and RSS over time (pidusage), for the summary and as --json usage lines.
  let sampler: UsageSampler | undefined;
  void session.ready.then(
    (pid) => {
      sampler = new UsageSampler(pid, 500, (u) => {
        if (opts.json) void out.write(toJson({ type: 'usage', pid, ...u }));
      });
      sampler.start();
    },
    () => undefined,
  );
  // The last moment the target is still whole: its exit_group (run) or the detach.
  let last: Explanation | undefined;

  try {
    for await (const ev of session) {
      if (ev.type === 'syscall' && ev.name === 'exit_group' && ev.pid === session.pid && summary) {
        last = session.explain(sampler?.summary());
      }
      if (opts.findingsOnly && ev.type !== 'finding') continue;
      if (filter && ev.type === 'syscall' && !filter.matches(ev.nr)) continue;
      await out.write(render(ev, opts.json, colour, opts.column));
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
    if (summary || opts.json) {
      const fresh = session.model && !session.model.exited ? session.explain(sampler?.summary()) : undefined;
      const e = fresh ?? last ?? session.explain(sampler?.summary());
      if (e) await out.write(opts.json ? toJson(e) : '\n' + formatExplanation(e));
    }
    if (opts.maps) for (const line of mapsReport(session.models, opts.json)) await out.write(line);
    const exit = await session.exited;
    if (stopSignal) return signalExitCode(stopSignal);
    if (exit.detached) return 0;
    return exit.signal ? signalExitCode(exit.signal) : (exit.code ?? 0);
  } finally {
    if (timer) clearTimeout(timer);
    for (const s of signals) process.off(s, onStop);
    await out.close();
  }
}

function render(ev: TraceEvent, json: boolean, colour: boolean, column: number): string {
  return json ? toJsonLine(ev) : formatEvent(ev, colour, column);
}

export async function main(argv: string[]): Promise<number> {
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
  if (opts.command === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (opts.command === 'version') {
    process.stdout.write(`liveprobe ${version()}\n`);
    return 0;
  }
  try {
    return opts.command === 'compare' ? await compare(opts) : await trace(opts);
  } catch (err) {
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

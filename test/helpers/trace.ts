// Small helpers shared by the integration tests.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Session } from '../../lib/session';
import type { TraceEvent } from '../../lib/events';
import { repoRoot } from './fixtures';
import { until } from './patience';

export async function collect(session: Session, onEvent?: (ev: TraceEvent) => void): Promise<TraceEvent[]> {
  const events: TraceEvent[] = [];
  for await (const ev of session) {
    events.push(ev);
    onEvent?.(ev);
  }
  return events;
}

export function readAll(stream: Readable | null): Promise<string> {
  if (!stream) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

export function tasksOf(pid: number): number[] {
  return fs
    .readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .sort((a, b) => a - b);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function cliPath(): string {
  return path.join(repoRoot(), 'dist', 'lib', 'cli', 'main.js');
}

/** Runs the liveprobe CLI to completion. */
export function runCli(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`liveprobe ${args.join(' ')} timed out; stderr: ${stderr.slice(-2000)}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * The program a `liveprobe run` process started, once it has exec'd: the
 * tracer thread's child whose executable is not liveprobe's own. (Its other
 * child, the wake helper of native/src/tracer.cc startWakeChild, is a fork
 * of Node that never execs.)
 */
export function cliTarget(cliPid: number): number | undefined {
  try {
    const self = fs.readlinkSync(`/proc/${cliPid}/exe`);
    for (const task of fs.readdirSync(`/proc/${cliPid}/task`)) {
      const kids = fs.readFileSync(`/proc/${cliPid}/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
      for (const k of kids) if (fs.readlinkSync(`/proc/${k}/exe`) !== self) return k;
    }
  } catch {
    // the CLI, one of its threads or a child went away meanwhile
  }
  return undefined;
}

/**
 * Runs `liveprobe ...args` whose target is `ex7 -ready` (its stdout is
 * liveprobe's), to completion: once ex7 has said ready and liveprobe's
 * stderr matches releaseWhen (e.g. its detach), ex7 gets the SIGUSR1 that
 * lets it exit. So a test of what happens before the target's exit takes
 * the time it needs.
 */
export function runCliReleasing(args: string[], releaseWhen: RegExp): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let released = false;
    const release = () => {
      if (released || !/^ready$/m.test(stdout) || !releaseWhen.test(stderr)) return;
      const pid = cliTarget(child.pid!);
      if (pid === undefined) return reject(new Error(`liveprobe ${args.join(' ')} said ready, and has no child: ${stderr.slice(-1000)}`));
      released = true;
      process.kill(pid, 'SIGUSR1');
    };
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      release();
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      release();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The tracer's events are numbered 0, 1, 2, … with no gap; findings carry the seq of the event that completed them. */
export function assertContiguous(events: readonly TraceEvent[]): void {
  let next = 0;
  for (const ev of events) {
    if (ev.type === 'finding') {
      if (ev.seq !== next - 1) throw new Error(`finding after seq ${next - 1} carries seq ${ev.seq}`);
      continue;
    }
    if (ev.seq !== next) throw new Error(`seq gap: expected ${next}, got ${ev.seq}`);
    next++;
  }
}

export interface Detached {
  /** The target's pid: a grandchild, so this Node process is not its parent. */
  pid: number;
  /** Resolves with the target's exit code (through the shell that waits for it). */
  exited: Promise<number | null>;
  /** The target's stdout, once it has exited. */
  output: Promise<string>;
  kill(): void;
}

function commOf(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
}

/**
 * The pid of the program `sh -c '"$@"; exit $?' sh file …` started, once it
 * has exec'd file (until then the child is a copy of sh). By comm, not
 * /proc/PID/exe, which cannot be read once the leader has exited.
 */
export async function shellChild(shPid: number, file: string): Promise<number> {
  let pid = 0;
  await until(() => {
    try {
      const kids = fs.readFileSync(`/proc/${shPid}/task/${shPid}/children`, 'utf8').trim();
      pid = kids ? Number(kids.split(' ')[0]) : 0;
      return pid !== 0 && commOf(pid) === path.basename(file).slice(0, 15);
    } catch {
      // sh gone (it ran file, which ended), or its child not there yet
      if (!fs.existsSync(`/proc/${shPid}`)) throw new Error(`${file} did not start under sh (sh ${shPid} ended)`);
      return false;
    }
  }, `${file} to start under sh ${shPid}`);
  return pid;
}

/**
 * Starts a program for attach tests under `sh`, which waits for it: the
 * target must not be a child of the tracing process (see checkAttachable).
 */
export async function startUnderShell(file: string, args: string[]): Promise<Detached> {
  const sh = spawn('/bin/sh', ['-c', '"$@"; exit $?', 'sh', file, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  const output = readAll(sh.stdout);
  const exited = new Promise<number | null>((r) => sh.on('exit', (code) => r(code)));
  const pid = await shellChild(sh.pid!, file);
  return {
    pid,
    exited,
    output: exited.then(() => output),
    kill: () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    },
  };
}

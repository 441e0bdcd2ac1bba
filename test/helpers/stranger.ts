// A target the tests did not start, as users meet them: double-forked into
// its own session and orphaned (a daemon), so neither this Node process nor
// any process it waits for is its parent, and its session and process group
// are its own. Its stdout is a pipe the test reads: fixtures say on it when
// they are ready, so tests wait for state, not for time.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LineReader } from './ready';
import { until } from './patience';

export interface Stranger {
  pid: number;
  /** stdout so far. */
  output(): string;
  /** stdout line by line, for fixtures that answer requests (test/helpers/ready.ts). */
  lines: LineReader;
  /** Resolves with the first match of pattern in stdout, waiting for more output as needed (rejects at EOF). */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with everything it wrote, once its stdout is closed (it exited). */
  ended: Promise<string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, ...]. */
export function statFields(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * Starts `file args` with `sh -c 'setsid "$@" &'`: sh forks, the child
 * becomes a session leader and execs the program, sh exits, and the program
 * is reparented to init (or the nearest subreaper). Resolves once sh has
 * exited and the program has exec'd.
 */
export async function startStranger(file: string, args: string[]): Promise<Stranger> {
  // The pid comes on fd 3, which the program does not keep; its stdout is fd 1.
  const sh = spawn('/bin/sh', ['-c', 'setsid "$@" 3>&- & echo $! >&3', 'sh', file, ...args], {
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
  });
  const pidPipe = sh.stdio[3] as NodeJS.ReadableStream;
  let pidText = '';
  pidPipe.setEncoding('utf8');
  pidPipe.on('data', (c: string) => (pidText += c));
  const pidRead = new Promise<void>((r) => pidPipe.on('end', () => r()));
  const lines = new LineReader(sh.stdout!);
  let text = '';
  let closed = false;
  const waiters = new Set<() => void>();
  sh.stdout!.setEncoding('utf8');
  sh.stdout!.on('data', (c: string) => {
    text += c;
    for (const w of waiters) w();
  });
  const ended = new Promise<string>((resolve) =>
    sh.stdout!.on('close', () => {
      closed = true;
      for (const w of waiters) w();
      resolve(text);
    }),
  );
  const shExit = await new Promise<number | null>((r) => sh.on('exit', (code) => r(code)));
  if (shExit !== 0) throw new Error(`sh -c 'setsid ${file} &' exited with ${shExit}`);
  await pidRead;
  const pid = Number(pidText.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid from sh: ${JSON.stringify(pidText)}`);
  // $! is known at the fork; the exec of the program (after setsid's) follows.
  const comm = path.basename(file).slice(0, 15);
  await until(() => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm, `${file} to start as pid ${pid}`);
  return {
    pid,
    output: () => text,
    lines,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(text);
          if (!m && !closed) return;
          waiters.delete(check);
          if (m) resolve(m);
          else reject(new Error(`stranger ${pid} closed its stdout without ${pattern}; it wrote: ${text.slice(-500)}`));
        };
        waiters.add(check);
        check();
      });
    },
    ended,
    kill(signal = 'SIGKILL') {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    },
  };
}

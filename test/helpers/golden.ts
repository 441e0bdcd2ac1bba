// Golden files: what liveprobe prints, checked in under test/golden/ and
// compared byte for byte. Runs are made to repeat rather than normalised
// after the fact: a new pid namespace (liveprobe is pid 1, its target the
// same pid each time), address randomization off (setarch -R), a fixed
// environment and working directory, and C fixtures whose threads are in a
// known state when they exit (test/fixtures/settled.c). What still varies is
// replaced by normalise(), each rule with its reason.
//
// UPDATE_GOLDEN=1 rewrites the files from the output instead of comparing
// (then review them with git diff); without it a difference fails.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './fixtures';
import { cliPath, readAll } from './trace';

export function goldenPath(name: string): string {
  return path.join(repoRoot(), 'test', 'golden', name);
}

/** Asserts that text equals test/golden/<name> byte for byte (or, with UPDATE_GOLDEN=1, writes it there). */
export function assertGolden(name: string, text: string): void {
  const file = goldenPath(name);
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return;
  }
  assert.ok(fs.existsSync(file), `${file} is missing: UPDATE_GOLDEN=1 writes it from the output (then review it)`);
  assert.equal(text, fs.readFileSync(file, 'utf8'), `the output differs from test/golden/${name} (UPDATE_GOLDEN=1 rewrites it when the change is meant)`);
}

/** Debian's multiarch directory of libc.so.6 for this architecture. */
const LIBC_DIR = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;

/**
 * The environment of every golden run, and so of its target: nothing from
 * the test's own. The target's envp count is printed (execve's `/* 3 vars
 * *\/`). MALLOC_ARENA_MAX fixes glibc's arena limit, which is otherwise 8 ×
 * the CPUs of the machine (printed in the glibc-arena finding).
 * LD_LIBRARY_PATH lets the loader find libc without /etc/ld.so.cache: the
 * cache is mapped first and libc below it, so its size, which changes with
 * every library the machine installs, would move every address after it.
 * glibc.pthread.rseq=0: a new thread registers rseq in glibc's start_thread,
 * before its function can wait for anything, so that call raced its
 * maker's clone3 return in the trace (and in the finding's evidence seqs);
 * without it a thread's first call is one test/fixtures/settled.c orders.
 */
export const GOLDEN_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/bin:/bin', MALLOC_ARENA_MAX: '4', LD_LIBRARY_PATH: LIBC_DIR, GLIBC_TUNABLES: 'glibc.pthread.rseq=0',
};

export interface GoldenRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The command line that runs liveprobe with args in its own pid namespace, without ASLR. */
function isolated(args: string[]): string[] {
  return ['unshare', '--pid', '--fork', '--mount-proc', 'setarch', '-R', process.execPath, cliPath(), ...args];
}

/** The fixtures' directory: golden runs start there, so targets are named ./settled, not by the checkout's path. */
export function fixturesOut(): string {
  return path.join(repoRoot(), 'test', '.fixtures-out');
}

/** Runs liveprobe with args in isolation (stdin /dev/null, stdout and stderr pipes). */
export function goldenRun(args: string[], env: Record<string, string> = {}): Promise<GoldenRun> {
  return new Promise((resolve, reject) => {
    const [cmd, ...rest] = isolated(args);
    const child = spawn(cmd!, rest, { cwd: fixturesOut(), env: { ...GOLDEN_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', reject);
    const out = readAll(child.stdout);
    const err = readAll(child.stderr);
    child.on('close', (code) => void Promise.all([out, err]).then(([stdout, stderr]) => resolve({ code, stdout, stderr })));
  });
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs liveprobe with args in isolation with a terminal as its stderr:
 * script(1) (Debian's essential bsdutils) gives it a pseudo-terminal, and
 * what the terminal showed is script's stdout (the line discipline turns
 * each \n into \r\n, as a terminal receives it). stdout goes to /dev/null,
 * so the target's own output does not interleave with the trace.
 */
export function goldenTerminalRun(args: string[], env: Record<string, string> = {}): Promise<GoldenRun> {
  return new Promise((resolve, reject) => {
    const command = `${isolated(args).map(sh).join(' ')} >/dev/null`;
    const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], {
      cwd: fixturesOut(),
      env: { ...GOLDEN_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.on('error', reject);
    const out = readAll(child.stdout);
    const err = readAll(child.stderr);
    child.on('close', (code) => void Promise.all([out, err]).then(([stdout, stderr]) => resolve({ code, stdout, stderr })));
  });
}

/**
 * What genuinely varies between two runs of the same command, replaced;
 * nothing else is touched:
 * - the checkout's path (a worktree, a CI clone) → `<repo>`;
 * - execve's envp pointer: it points into the launcher's copy of Node's
 *   memory, in whichever glibc arena a Node thread had (as in
 *   test/output-contract.test.ts) → `0x<envp>`;
 * - the `usage` line's numbers: CPU and RSS are sampled every 500 ms of wall
 *   time (lib/explain/usage.ts), so how many samples and what they caught
 *   depend on the machine's speed → `#` (with the unit: 900 KiB and 1 MiB alike);
 * - the resident size of file mappings (the file-segment row's rss, a
 *   large file's `N kB resident`): a fault maps, around the page it needs,
 *   the file's pages that are in the page cache then (the kernel's fault-
 *   around), so it depends on what else the machine read lately → `#`;
 *   anonymous memory's rss is what the program touched, and stays;
 * - in --maps rows of a file, its device and inode (`fe:00 5416584`): they
 *   name where the file is on this disk, and a rebuilt fixture gets a new
 *   inode → `<dev> <inode>`, the path kept at the column it was printed at;
 * - the order of the `+++ thread exited` lines of threads that an
 *   exit_group killed together: each dies on its own CPU and the tracer
 *   reaps them in whichever order they went → sorted, but for the last
 *   line of the run: the leader's, which the kernel reports once the others
 *   are gone (kernel/exit.c, delay_group_leader);
 * - a new thread's first call (glibc's set_robust_list in start_thread,
 *   before the thread's function runs) against its maker's clone3 return:
 *   the two threads run at once, so either may reach the tracer first
 *   (docs/ordering-and-races.md) → the new thread's lines seen before the
 *   clone3 line are put after it, each finding's evidence seqs sorted
 *   (which of the two got the lower seq is the same race), and a thread
 *   finding is printed as the new thread's (`[pid C] >>> …: pthread C`):
 *   it is printed under whichever of the two calls completed it;
 *   settled.c makes everything else a new thread does wait for its maker.
 */
export function normalise(text: string): string {
  let out = text.split(repoRoot()).join('<repo>');
  out = out.replace(/(execve\(.*\], )0x[0-9a-f]+( \/\* \d+ vars? \*\/)/g, '$10x<envp>$2');
  out = out.replace(/^(usage \().*$/gm, (line) => line.replace(/\d+(\.\d+)?( (B|KiB|MiB|GiB))?/g, '#'));
  out = out.replace(/^(file-segment .* kB) +\d+ kB( +\w+\r?)$/gm, '$1      # kB$2');
  out = out.replace(/^(large file: .*, )\d+ kB resident(\r?)$/gm, '$1# kB resident$2');
  out = out.replace(/^([0-9a-f]+-[0-9a-f]+ \S{4} [0-9a-f]+ )([0-9a-f]+:[0-9a-f]+ [1-9]\d*)( \S+ +)(\S.*)$/gm, (_, head: string, devIno: string, cls: string, file: string) => {
    const column = head.length + devIno.length + cls.length;
    const start = `${head}<dev> <inode>${cls.trimEnd()} `;
    return start.padEnd(column) + file;
  });
  out = out.replace(/\[evidence: ([\d, ]+)\]/g, (_, seqs: string) => `[evidence: ${seqs.split(', ').map(Number).sort((a, b) => a - b).join(', ')}]`);
  return sortRuns(makerFirst(out), /^\[pid +\d+\] \+\+\+ thread exited with .*$/);
}

const pidOf = (line: string): string | undefined => /^\[pid +(\d+)\] /.exec(line)?.[1];

/** Moves a new thread's lines that came before its maker's clone/clone3 return to right after it. */
function makerFirst(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const started = /^\[pid +(\d+)\] \+\+\+ started by clone3? from (\d+) /.exec(lines[i]!);
    if (!started) continue;
    const [, child, maker] = started;
    const returned = new RegExp(`^\\[pid +${maker}\\] clone3?\\(.* = ${child}\\r?$`);
    const j = lines.findIndex((l, k) => k > i && returned.test(l));
    if (j < 0) continue;
    const between = lines.slice(i + 1, j);
    lines.splice(i + 1, j - i, ...between.filter((l) => pidOf(l) !== child), lines[j]!, ...between.filter((l) => pidOf(l) === child));
  }
  return lines
    .join('\n')
    .replace(/^((?:\x1B\[[\d;]*m)?)\[pid +\d+\]( >>> [\w-]+: pthread (\d+) )/gm, (_, colour: string, rest: string, tid: string) => `${colour}[pid ${tid.padStart(6)}]${rest}`);
}

/** Sorts each run of consecutive lines that match pattern but its last line (line ends, \n or \r\n, kept as they were). */
function sortRuns(text: string, pattern: RegExp): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length;) {
    let j = i;
    while (j < lines.length && pattern.test(lines[j]!.replace(/\r$/, ''))) j++;
    // The run's last line, the leader's, stays where the kernel put it.
    if (j > i + 1) out.push(...lines.slice(i, j - 1).sort(), lines[j - 1]!);
    else if (j === i + 1) out.push(lines[i]!);
    else {
      out.push(lines[i]!);
      j = i + 1;
    }
    i = j;
  }
  return out.join('\n');
}

// Issue 8, item 8: permissions. An unprivileged user (nobody, through
// setpriv) attaching to root's process gets EPERM with a message that says
// why and what to do: CAP_SYS_PTRACE, and kernel.yama.ptrace_scope where Yama
// is loaded. liveprobe itself is never setuid.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { explainAttachEperm } from '../lib/permissions';
import { fixture, repoRoot } from './helpers/fixtures';
import { type ReadableCopy, readableCopy } from './helpers/readable-copy';
import { killStrayTracees, startLive, tracerOf, until, watched } from './helpers/reliability';
import { cliPath } from './helpers/trace';

// A failed test must not leave a tracee stopped (and this file's process waiting).
afterEach(() => {
  killStrayTracees();
});

const T = { timeout: 30_000 };
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

function yamaScope(): number | undefined {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim());
  } catch {
    return undefined;
  }
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function asNobody(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile('setpriv', [...NOBODY, '--', ...args], { timeout: 20_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// What nobody runs (the CLI, the API, the addon, a fixture) comes from a copy
// it can read: the checkout may be in a directory closed to it (mktemp -d, /root).
let copy: ReadableCopy | undefined;
let prepared: Promise<{ lib: string; cli: string; exitwith: string }> | undefined;

/** The copy, made on first use, with the exitwith fixture in it; checked loadable by nobody. */
function forNobody(): Promise<{ lib: string; cli: string; exitwith: string }> {
  prepared ??= (async () => {
    const c = (copy = readableCopy());
    const exitwith = c.add(await fixture('exitwith'), 'exitwith');
    const load = await asNobody([process.execPath, '-e', `require(${JSON.stringify(path.join(c.lib, 'native'))}).native()`]);
    assert.equal(load.code, 0, `nobody cannot load liveprobe from ${c.root}: ${load.stderr.trim()}`);
    return { lib: c.lib, cli: c.cli, exitwith };
  })();
  return prepared;
}

after(() => {
  copy?.remove();
});

/** Node as nobody: attach() through the API, printing the error's code, errno and message as JSON. */
function apiAttachAsNobody(lib: string, pid: number): Promise<Result> {
  const script =
    `const { attach } = require(${JSON.stringify(lib)});` +
    `const s = attach(${pid});` +
    `s.ready.then(async () => { console.log(JSON.stringify({ ok: true })); await s.detach(); },` +
    `  (e) => console.log(JSON.stringify({ code: e.code, errno: e.errno, message: e.message })));` +
    `(async () => { try { for await (const _ of s) {} } catch {} })();`;
  return asNobody([process.execPath, '-e', script]);
}

describe('permissions', () => {
  test('nobody attaching to a root process: EPERM, and a message naming CAP_SYS_PTRACE (and ptrace_scope where Yama is loaded)', T, async () => {
    const nobody = await forNobody();
    const exitwith = await fixture('exitwith');
    const target = await startLive(exitwith, ['code', '0', '-sleep-ms', '20000']);
    try {
      const cli = await asNobody([process.execPath, nobody.cli, 'attach', String(target.pid)]);
      assert.equal(cli.code, 1, cli.stderr);
      const line = cli.stderr.trimEnd();
      assert.equal(line.split('\n').length, 1, 'one line, no stack trace');
      assert.match(line, new RegExp(`^liveprobe: not permitted to trace process ${target.pid}: it runs as uid 0 and liveprobe as uid 65534`));
      assert.match(line, /run liveprobe as root or with CAP_SYS_PTRACE/);
      const scope = yamaScope();
      if (scope !== undefined && scope >= 1) assert.match(line, new RegExp(`kernel\\.yama\\.ptrace_scope is ${scope}`));
      else assert.doesNotMatch(line, /ptrace_scope/, 'Yama is not loaded here: it is not the reason');

      const api = JSON.parse((await apiAttachAsNobody(nobody.lib, target.pid)).stdout) as { code: string; errno: number; message: string };
      assert.deepEqual([api.code, api.errno], ['EPERM', 1]);
      assert.match(api.message, /CAP_SYS_PTRACE/);
      // And the target never noticed.
      assert.equal(tracerOf(target.pid), 0);
    } finally {
      target.kill();
    }
  });

  test("nobody attaching to nobody's own process: allowed unless Yama forbids it, then EPERM naming ptrace_scope", T, async () => {
    const nobody = await forNobody();
    const own = spawn('setpriv', [...NOBODY, '--', nobody.exitwith, 'code', '0', '-sleep-ms', '20000'], { stdio: 'ignore' });
    try {
      let pid = 0;
      await until(() => {
        try {
          const stat = fs.readFileSync(`/proc/${own.pid}/stat`, 'utf8');
          if (stat.includes('(exitwith)')) pid = own.pid!;
        } catch {
          // not yet
        }
        return pid !== 0;
      }, 'the target to run as nobody');
      const r = JSON.parse((await watched(apiAttachAsNobody(nobody.lib, pid), 'attach as nobody')).stdout) as { ok?: boolean; code?: string; message?: string };
      const scope = yamaScope();
      if (scope === undefined || scope === 0) {
        assert.deepEqual(r, { ok: true });
      } else {
        assert.equal(r.code, 'EPERM');
        assert.match(r.message!, new RegExp(`kernel\\.yama\\.ptrace_scope is ${scope}`));
      }
    } finally {
      own.kill('SIGKILL');
    }
  });

  test('the message for each case the kernel may be in', () => {
    const base = { capSysPtrace: false, ourUid: 1000, targetUids: [1000, 1000, 1000], descendant: false };
    assert.equal(
      explainAttachEperm(42, { ...base, yamaScope: undefined, targetUids: [0, 0, 0] }),
      'not permitted to trace process 42: it runs as uid 0 and liveprobe as uid 1000; ' +
        'run liveprobe as root or with CAP_SYS_PTRACE (sudo; in a container, --cap-add SYS_PTRACE)',
    );
    assert.equal(
      explainAttachEperm(42, { ...base, yamaScope: 1 }),
      'not permitted to trace process 42: kernel.yama.ptrace_scope is 1 (without CAP_SYS_PTRACE only descendants: ' +
        'use liveprobe run, or set it to 0); run liveprobe as root or with CAP_SYS_PTRACE (sudo; in a container, --cap-add SYS_PTRACE)',
    );
    assert.match(explainAttachEperm(42, { ...base, yamaScope: 2, targetUids: [0, 0, 0] }), /uid 0 .*; kernel\.yama\.ptrace_scope is 2 \(only CAP_SYS_PTRACE may trace\); run liveprobe as root/);
    assert.match(explainAttachEperm(42, { ...base, yamaScope: 3, capSysPtrace: true }), /ptrace_scope is 3, which forbids ptrace to everyone, even with CAP_SYS_PTRACE/);
    assert.match(explainAttachEperm(42, { ...base, yamaScope: 0 }), /non-dumpable.*CAP_SYS_PTRACE/);
    assert.match(explainAttachEperm(42, { ...base, yamaScope: 1, descendant: true }), /non-dumpable/);
    assert.match(explainAttachEperm(42, { ...base, yamaScope: 0, capSysPtrace: true }), /even with CAP_SYS_PTRACE: a security module/);
  });

  test('liveprobe is never setuid or setgid: not the CLI, not the addon, not an install step', () => {
    const root = repoRoot();
    const files = [cliPath(), path.join(root, 'build', 'Release', 'liveprobe.node')];
    for (const f of files) {
      const mode = fs.statSync(f).mode;
      assert.equal(mode & 0o6000, 0, `${f} has mode ${mode.toString(8)}`);
    }
    const pkg = fs.readFileSync(path.join(root, 'package.json'), 'utf8');
    assert.doesNotMatch(pkg, /chmod|setcap|\+s\b|u\+s|4755/);
  });
});

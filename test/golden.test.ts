// Golden tests: what a person reads — the trace, the findings, the summary,
// --maps, compare's table, the terminal's colours, --help, --version — is
// compared byte for byte with test/golden/. test/helpers/golden.ts makes the
// runs repeat (pid namespace, no ASLR, fixed environment, a fixture whose
// threads are in a known state at its exit) and says what it normalises and
// why; here each test says what it adds. The files hold what this machine
// kind prints (Debian 12's glibc and gcc lay out the fixture's memory):
// after a deliberate change of the output, or of that toolchain,
// UPDATE_GOLDEN=1 rewrites them, and git diff shows what changed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { before, describe, test } from 'node:test';
import { fixture, repoRoot } from './helpers/fixtures';
import { assertGolden, goldenRun, goldenTerminalRun, normalise } from './helpers/golden';

const T = { timeout: 120_000 };

/** settled 2 3: two pthreads, each with its own arena, asleep in pause at the exit; exit code 3. */
const SETTLED = ['./settled', '2', '3'];

describe('golden output', () => {
  before(async () => {
    await Promise.all([fixture('settled'), fixture('exitwith')]);
  });

  test('the trace and the text summary at exit (--summary)', T, async () => {
    const r = await goldenRun(['run', '--summary', ...SETTLED]);
    assert.deepEqual([r.code, r.stdout], [3, 'settled 2\n'], r.stderr);
    assertGolden('summary.txt', normalise(r.stderr));
  });

  test('--maps: the model at exit, with a class column', T, async () => {
    const r = await goldenRun(['run', '--maps', ...SETTLED]);
    assert.deepEqual([r.code, r.stdout], [3, 'settled 2\n'], r.stderr);
    assertGolden('maps.txt', normalise(r.stderr));
  });

  test('--findings: only the findings and the lines that start and end the session', T, async () => {
    const r = await goldenRun(['run', '--findings', ...SETTLED]);
    assert.deepEqual([r.code, r.stdout], [3, 'settled 2\n'], r.stderr);
    assertGolden('findings.txt', normalise(r.stderr));
  });

  test("compare's table: two pthreads with arenas against a program with none", T, async () => {
    const r = await goldenRun(['compare', '--', ...SETTLED.slice(0, 2), '0', '---', './exitwith', 'code', '0']);
    assert.deepEqual([r.code, r.stderr], [0, ''], r.stderr);
    // compare starts both programs at once: which one forks first, and so
    // gets the lower pid in the namespace, varies. Each pid and tid is named
    // by the order it first appears instead, in the places compare prints one.
    assertGolden('compare.txt', normalise(numberPids(r.stdout)));
  });

  test('at a terminal: findings in colour, and the summary on by default', T, async () => {
    const r = await goldenTerminalRun(['run', '--findings', ...SETTLED]);
    assert.deepEqual([r.code, r.stderr], [3, ''], r.stderr);
    assert.match(r.stdout, /\x1b\[1;33m\[pid +\d+\] >>> cgo-thread/, 'a finding in bold yellow');
    assertGolden('terminal-colour.txt', normalise(r.stdout));
  });

  test('at a terminal with NO_COLOR: the same lines without colour', T, async () => {
    const r = await goldenTerminalRun(['run', '--findings', ...SETTLED], { NO_COLOR: '1' });
    assert.deepEqual([r.code, r.stderr], [3, ''], r.stderr);
    assert.doesNotMatch(r.stdout, /\x1b/);
    assertGolden('terminal-no-color.txt', normalise(r.stdout));
  });

  test('at a terminal with --no-summary: the trace and no summary', T, async () => {
    const r = await goldenTerminalRun(['run', '--no-summary', ...SETTLED]);
    assert.deepEqual([r.code, r.stderr], [3, ''], r.stderr);
    assert.doesNotMatch(r.stdout, /why process/);
    assertGolden('terminal-no-summary.txt', normalise(r.stdout));
  });

  test('--help and -h: the usage text on stdout, exit 0', T, async () => {
    for (const flag of ['--help', '-h']) {
      const r = await goldenRun([flag]);
      assert.deepEqual([r.code, r.stderr], [0, ''], flag);
      assertGolden('help.txt', r.stdout);
    }
  });

  test('--version and -V: the version on stdout, exit 0, as package.json has it', T, async () => {
    const pkg = JSON.parse(fs.readFileSync(`${repoRoot()}/package.json`, 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await goldenRun([flag]);
      assert.deepEqual([r.code, r.stderr], [0, ''], flag);
      assert.equal(r.stdout, `liveprobe ${pkg.version}\n`);
      assertGolden('version.txt', r.stdout);
    }
  });
});

/**
 * compare's pids and tids, each named pid1, pid2, … by the order it first
 * appears, where compare prints one: the explanation's header and /proc
 * path, the anonymous rows' maker, the thread rows and the per-thread line.
 * Numbers elsewhere (sizes, counts) are left as they are.
 */
export function numberPids(text: string): string {
  const names = new Map<string, string>();
  const name = (pid: string) => {
    if (!names.has(pid)) names.set(pid, `pid${names.size + 1}`);
    return names.get(pid)!;
  };
  return text
    .split('\n')
    .map((line) =>
      line
        .replace(/(why process )(\d+)/, (_, a: string, p: string) => a + name(p))
        .replace(/(\/proc\/)(\d+)(\/)/, (_, a: string, p: string, b: string) => a + name(p) + b)
        .replace(/(made by )(\d+)$/, (_, a: string, p: string) => a + name(p))
        .replace(/^( +)(\d+)( (?:main|pthread|cgo-thread|go-thread) +state )/, (_, a: string, p: string, b: string) => a + name(p) + b)
        .replace(/^(made by thread: )(.*)$/, (_, a: string, rest: string) => a + rest.replace(/(^|, )(\d+)( )/g, (_m, s: string, p: string, e: string) => s + name(p) + e)),
    )
    .join('\n');
}

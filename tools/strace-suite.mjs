#!/usr/bin/env node
// Measures liveprobe against strace 6.1's own test programs: each of
// strace's tests/<name> makes calls and prints, on stdout, the exact lines
// strace must print for them. For every test in tools/strace-suite.list (the
// tests of the calls liveprobe decodes, with the options strace's
// tests/gen_tests.in gives them) this runs the program under a tracer and
// counts the trace lines equal to the program's, in order.
//
//   node tools/strace-suite.mjs <strace-6.1 build> <tracer> [list]
//
// <strace-6.1 build>: a checkout of strace's v6.1 tag, bootstrapped and
// configured, with `make -C tests libtests.a scno.h` done; test programs are
// built on demand. <tracer>: `strace` (the harness's own check: every test
// passes), or dist/lib/cli/main.js of a liveprobe build. With NOOPT=1 the
// -a and -X options are not passed to liveprobe and padding before ` = ` is
// ignored on both sides (for a liveprobe that lacks them).
//
// Run as the tests expect: from a shell whose cwd may be anywhere; the
// programs run in <build>/tests. Plain Node, no dependencies.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [build, tracerArg, listArg] = process.argv.slice(2);
const tracer = tracerArg === 'strace' || tracerArg === undefined ? tracerArg : resolve(tracerArg);
if (!build || !tracer) {
  process.stderr.write('usage: node tools/strace-suite.mjs <strace-6.1 build> <strace | liveprobe main.js> [list]\n');
  process.exit(2);
}
const T = join(build, 'tests');
const list = listArg ?? join(dirname(fileURLToPath(import.meta.url)), 'strace-suite.list');
const noOptions = process.env.NOOPT !== undefined;
const out = mkdtempSync(join(tmpdir(), 'strace-suite-'));
const PREFIX = '[pid NNNNNN] '.length; // liveprobe's line prefix (lib/cli/format-text.ts)

let passed = 0, equal = 0, expected = 0, count = 0;
for (const line of readFileSync(list, 'utf8').split('\n').filter(Boolean)) {
  const [name, ...words] = line.split(/\s+/);
  count++;
  // The test's command line, as its gen_tests.in entry or script says.
  let sentinel = null, column = 40, style = null, trace = name, first = null, expectedFile = false;
  const progArgs = [], other = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '+prctl.sh' || w === '+arch_prctl.sh') trace = sentinel = w.slice(1, -3);
    else if (w === '+mmap.test') {
      // tests/mmap.test [style] [column]: the memory calls, from the first mmap(NULL, 0, PROT_NONE, …) on.
      style = words[i + 1] ?? null;
      column = Number(words[i + 2] ?? 20);
      trace = 'mmap,madvise,mlockall,mprotect,mremap,msync,munmap';
      first = /^mmap\(NULL, 0, (0 \/\* PROT_NONE \*\/|0|PROT_NONE),/;
      progArgs.push('mmap');
      break;
    } else if (w === '+expected') expectedFile = true;
    else if (/^-a\d+$/.test(w)) column = Number(w.slice(2));
    else if (/^-X/.test(w)) style = w.slice(2);
    else if (w === '-e' || w === '--trace') trace = words[++i].replace(/^trace=/, '');
    else if (/^(-etrace=|--trace=)/.test(w)) trace = w.replace(/^(-etrace=|--trace=)/, '');
    else other.push(w);
  }
  try {
    execFileSync('make', ['-C', T, name], { stdio: 'ignore' });
  } catch {
    console.log(`FAIL ${name}: does not build`);
    continue;
  }
  const log = join(out, `${name}.log`);
  const opts = { cwd: T, encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20 };
  const r = tracer === 'strace'
    ? spawnSync('strace', ['-o', log, `-a${column}`, ...(style ? [`-X${style}`] : []), ...other, '-e', `trace=${trace}`, `./${name}`, ...progArgs], opts)
    : spawnSync(process.execPath, [tracer, 'run', '--no-summary',
      ...(noOptions ? [] : ['-a', String(column + PREFIX), ...(style ? ['-X', style] : [])]),
      ...other, '-e', `trace=${trace}`, '-o', log, '--', `./${name}`, ...progArgs], opts);
  const unpad = (l) => (noOptions ? l.replace(/\) +(= [^=]*)$/, ') $1') : l);
  const want = (expectedFile ? readFileSync(join(T, `${name}.expected`), 'utf8') : r.stdout ?? '')
    .split('\n').filter((l) => l !== '' && !l.startsWith('+++')).map(unpad);
  let got = existsSync(log) ? readFileSync(log, 'utf8').split('\n') : [];
  if (tracer !== 'strace') got = got.filter((l) => /^\[pid +\d+\] [a-z_0-9]+\(/.test(l)).map((l) => l.slice(PREFIX));
  got = got.filter((l) => l !== '' && !l.startsWith('+++') && !l.startsWith('---')).map(unpad);
  if (first) {
    const k = got.findIndex((l) => first.test(l));
    if (k >= 0) got = got.slice(k);
  }
  if (sentinel) {
    // The scripts drop everything up to the program's marker call.
    const marker = new RegExp(`^${sentinel}\\(0xffffffff( /\\* [A-Z_]+\\?\\?\\? \\*/)?, 0xfffffffe.* += -1 `);
    const k = got.findIndex((l) => marker.test(l));
    if (k >= 0) got = got.slice(k + 1);
  }
  let eq = 0;
  for (let i = 0; i < want.length; i++) if (got[i] === want[i]) eq++;
  const ok = eq === want.length && got.length === want.length && r.status === 0;
  passed += ok ? 1 : 0;
  equal += eq;
  expected += want.length;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${eq}/${want.length}${got.length !== want.length ? ` (traced ${got.length})` : ''}${r.status !== 0 ? ` (exit ${r.status})` : ''}`);
}
rmSync(out, { recursive: true, force: true });
console.log(`${passed}/${count} tests pass, ${equal}/${expected} lines equal`);

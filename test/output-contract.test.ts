// The output contract users build on: `--json` writes one object per line
// whose every type has exactly the fields docs/events.schema.json lists, with
// 64-bit integers as decimal strings, addresses as "0x…" strings and bytes
// as hex; and `-o FILE` gets
// byte for byte what stderr would have.
//
// The schema is checked against real output of real programs (a cgo program,
// a busy Go program, a shell that forks and execs, the hostile-input fixture,
// an attach to a stranger): every line must match its type's definition
// exactly (no field more: additionalProperties false; none less: required),
// and every field the schema declares, optional ones included, must occur in
// that output, so a field dropped from the code without the schema fails too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020';
import { fixture, repoRoot } from './helpers/fixtures';
import { startStranger } from './helpers/stranger';
import { heapWithLoss } from './helpers/hand-made';
import { toJsonLine } from '../lib/cli/format-json';
import { cliPath, readAll, runCli } from './helpers/trace';

const T = { timeout: 120_000 };

interface Schema {
  $id: string;
  oneOf: { $ref: string }[];
  $defs: Record<string, { properties?: Record<string, unknown>; oneOf?: { $ref: string }[] }>;
}
type Line = Record<string, unknown> & { type: string; kind?: string };

const schemaPath = (): string => path.join(repoRoot(), 'docs', 'events.schema.json');

/** The definition a line must match: its type's, or for a finding its kind's. */
const defOf = (o: Line): string => (o.type === 'finding' ? `finding-${o.kind}` : o.type);

/** Every definition an output line can have: the top-level oneOf, findings expanded to their kinds. */
function lineDefs(schema: Schema): string[] {
  const names = schema.oneOf.map((r) => r.$ref.replace('#/$defs/', ''));
  return names.flatMap((n) => (schema.$defs[n]!.oneOf ? schema.$defs[n]!.oneOf!.map((r) => r.$ref.replace('#/$defs/', '')) : [n]));
}

/**
 * What is wrong with this output against the schema: lines that do not
 * match their definition, and definitions or declared fields that no line
 * had. Empty when the output and the schema agree.
 */
export function contractProblems(schema: Schema, lines: string[]): string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  ajv.addSchema(schema);
  const whole = ajv.getSchema(schema.$id)!;
  // One problem once: the same path in many lines (array indexes as *) is reported with its first line.
  const problems: string[] = [];
  const reported = new Set<string>();
  const report = (key: string, text: string) => {
    if (!reported.has(key)) problems.push(`${key}\n    in ${text.slice(0, 200)}`);
    reported.add(key);
  };
  const seen = new Map<string, Set<string>>();
  for (const text of lines) {
    const o = JSON.parse(text) as Line;
    const def = defOf(o);
    const validate = ajv.getSchema(`${schema.$id}#/$defs/${def}`);
    if (!validate || !lineDefs(schema).includes(def)) {
      report(`no definition for ${def}`, text);
      continue;
    }
    if (!validate(o)) {
      for (const err of validate.errors!) {
        const extra = err.keyword === 'additionalProperties' ? ` "${(err.params as { additionalProperty: string }).additionalProperty}"` : '';
        report(`${def}${err.instancePath.replace(/\/\d+/g, '/*')}: ${err.message}${extra}`, text);
      }
    } else if (!whole(o)) {
      report(`${def} matches its definition but not the schema's oneOf`, text);
    }
    const keys = seen.get(def) ?? new Set<string>();
    for (const k of Object.keys(o)) keys.add(k);
    seen.set(def, keys);
  }
  // A field a finding kind only lists (`true`: declared once, in findingBase)
  // is common to every kind: some finding having it is enough.
  const inSomeFinding = new Set([...seen].filter(([def]) => def.startsWith('finding-')).flatMap(([, keys]) => [...keys]));
  for (const def of lineDefs(schema)) {
    const keys = seen.get(def);
    if (!keys) {
      problems.push(`the schema declares ${def}, and no output had one`);
      continue;
    }
    for (const [k, declared] of Object.entries(schema.$defs[def]!.properties ?? {})) {
      if (keys.has(k) || (def.startsWith('finding-') && declared === true && inSomeFinding.has(k))) continue;
      problems.push(`the schema declares ${def}.${k}, and no ${def} in the output had it`);
    }
  }
  return problems;
}

/** Lines of `liveprobe ...args --json` on stderr, after checking it exited with code. */
async function jsonLines(args: string[], code = 0): Promise<string[]> {
  const r = await runCli(args, { timeoutMs: 60_000 });
  assert.equal(r.code, code, `liveprobe ${args.join(' ')}: ${r.stderr.slice(-1000)}`);
  return r.stderr.trimEnd().split('\n');
}

describe('the --json contract', () => {
  const corpus = new Map<string, string[]>();

  before(async () => {
    const [ex7, spin, hostile, stranger, brkloop] = await Promise.all([fixture('ex7'), fixture('spin'), fixture('hostile'), fixture('stranger'), fixture('brkloop')]);
    // cgo: clone3 (cloneArgs), execve (path, argv, envc), sigaltstack (entryMem,
    // exitMem), every finding but go-thread, thread exits, usage, explanation, --maps.
    corpus.set('ex7', await jsonLines(['run', '--json', '--maps', ex7, '-sleep', '600ms']));
    // Pure Go whose spinners only yield when preempted: go-thread findings, and hidden SIGURGs for certain.
    corpus.set('spin', await jsonLines(['run', '--json', spin, '-n', '4', '-for', '300ms']));
    // -c: the counts line, its classes and what each gained since the start.
    corpus.set('counts', (await jsonLines(['run', '-c', '--json', ex7, '-sleep', '100ms'])).filter((l) => l.startsWith('{"type":"counts"')));
    // fork, exec, wait: thread-start of a followed child, exec, SIGCHLD.
    corpus.set('sh', await jsonLines(['run', '--json', '-f', '/bin/sh', '-c', '/bin/true; exit 4'], 4));
    // Bounds: truncated, readFailed, envUnterminated.
    corpus.set('hostile', await jsonLines(['run', '--json', hostile]));
    // attach: threads seized, their registers in the snapshot, detached.
    const s = await startStranger(stranger, ['1', '1']);
    try {
      await s.waitFor(/^ready /m);
      corpus.set('attach', await jsonLines(['attach', '--json', '--maps', '--duration', '0.3', String(s.pid)]));
    } finally {
      s.kill();
    }
    // The perf engine with a one-page ring on a brk loop: lost records, resync snapshots and lines, the closing lost count.
    const loop = await startStranger(brkloop, ['3000000']);
    try {
      corpus.set('perf-loss', await jsonLines(['attach', '--engine', 'perf', '--perf-pages', '1', '--json', '--duration', '0.5', String(loop.pid)]));
    } finally {
      loop.kill();
    }
    // A finding whose proof spans lost records (lostInProof) needs a loss to
    // land inside one proof, which no run makes on demand: a hand-made one
    // through the one path (test/helpers/hand-made.ts), printed by the CLI's
    // own JSON formatter, checks the field's encoding against the schema.
    corpus.set('loss-in-proof', heapWithLoss(2, 3).findings.map(toJsonLine));
  });

  test('every line of real output has exactly the fields its type declares in docs/events.schema.json, and every declared field occurs', T, () => {
    const schema = JSON.parse(fs.readFileSync(schemaPath(), 'utf8')) as Schema;
    assert.deepEqual(contractProblems(schema, [...corpus.values()].flat()), []);
  });

  test('a field added to or dropped from an event type without the schema is caught', T, () => {
    const schema = JSON.parse(fs.readFileSync(schemaPath(), 'utf8')) as Schema;
    const lines = [...corpus.values()].flat();
    const threadStart = (o: Line) => o.type === 'thread-start';
    const edit = (f: (o: Line) => void) => lines.map((l) => {
      const o = JSON.parse(l) as Line;
      if (threadStart(o)) f(o);
      return JSON.stringify(o);
    });
    const firstLines = (problems: string[]) => problems.map((p) => p.split('\n')[0]);
    assert.deepEqual(firstLines(contractProblems(schema, edit((o) => (o.stackSize = 1)))), ['thread-start: must NOT have additional properties "stackSize"']);
    assert.deepEqual(firstLines(contractProblems(schema, edit((o) => delete o.followed))), [
      "thread-start: must have required property 'followed'",
      'the schema declares thread-start.followed, and no thread-start in the output had it',
    ]);
    // An optional field is declared, but not required: dropped everywhere, it is still caught.
    const noCloneArgs = lines.map((l) => {
      const o = JSON.parse(l) as Line;
      delete o.cloneArgs;
      return JSON.stringify(o);
    });
    assert.deepEqual(firstLines(contractProblems(schema, noCloneArgs)), ['the schema declares syscall.cloneArgs, and no syscall in the output had it']);
  });

  test('sizes are decimal strings, addresses "0x…" as maps shows them: the mmap behind a cgo-thread finding, as raw, args and ret, equals its region', T, () => {
    const lines = corpus.get('ex7')!.map((l) => JSON.parse(l) as Line);
    const f = lines.find((o) => o.type === 'finding' && o.kind === 'cgo-thread')!;
    const mmap = lines.find((o) => o.type === 'syscall' && o.seq === (f.evidence as number[])[0])!;
    const region = f.region as { start: string; end: string };
    assert.equal(mmap.name, 'mmap');
    assert.equal((mmap.raw as string[])[1], '8392704');
    const args = mmap.args as Line;
    assert.deepEqual([args.addr, args.length, args.prot, args.offset], ['0x0', '8392704', ['PROT_NONE'], '0']);
    assert.match(region.start, /^0x7[0-9a-f]{8}000$/);
    assert.equal(mmap.ret, region.start);
    // The same text as the strace line's return and as /proc/PID/maps's start (without its 0x).
    assert.ok((mmap.text as string).endsWith(` = ${region.start}`), mmap.text as string);
    assert.equal(BigInt(region.end) - BigInt(region.start), 8392704n);
    assert.equal((f.details as Line).stackSize, '8388608');
    assert.equal((f.details as Line).stackBase, region.start);
    const maps = lines.find((o) => o.type === 'maps')!;
    assert.ok((maps.regions as Line[]).some((r) => r.start === region.start), 'the --maps region starts where the finding says');
  });

  test('the decoders say which arguments and returns are addresses: pointers hex, sizes, fds and tids decimal, errors -errno', T, () => {
    const all = [...corpus.values()].flat().map((l) => JSON.parse(l) as Line);
    const calls = (name: string) => all.filter((o) => o.type === 'syscall' && o.name === name && o.ret !== null);
    const hexRe = /^0x[0-9a-f]+$/;
    // clone3 returns a tid; its struct's stack and tls are addresses, its stack_size a size.
    const clone3 = calls('clone3').find((o) => (o.args as Line).stack !== undefined)!;
    assert.match(clone3.ret as string, /^[1-9][0-9]*$/);
    assert.match((clone3.args as Line).uargs as string, hexRe);
    assert.match((clone3.args as Line).stack as string, hexRe);
    assert.match((clone3.args as Line).tls as string, hexRe);
    assert.match((clone3.args as Line).stack_size as string, /^[1-9][0-9]*$/);
    // munmap returns 0, decimal; its address is hex and equals the text's.
    const munmap = calls('munmap')[0]!;
    assert.equal(munmap.ret, '0');
    assert.ok((munmap.text as string).startsWith(`munmap(${(munmap.args as Line).addr as string}, ${(munmap.args as Line).length as string})`), munmap.text as string);
    // brk returns the break, an address; rseq and set_robust_list take one.
    for (const o of calls('brk')) assert.match(o.ret as string, hexRe);
    for (const o of calls('rseq')) assert.match((o.args as Line).rseq as string, hexRe);
    for (const o of calls('set_robust_list')) assert.deepEqual([hexRe.test((o.args as Line).head as string), (o.args as Line).len], [true, '24']);
    // A failed mmap (the hostile fixture's) returns -errno, not an address.
    const failed = calls('mmap').filter((o) => (o.ret as string).startsWith('-'));
    assert.ok(failed.length > 0);
    for (const o of failed) assert.match(o.ret as string, /^-[1-9][0-9]*$/);
    // An attach's snapshot: each thread's stack pointer and pc.
    const snap = corpus.get('attach')!.map((l) => JSON.parse(l) as Line).find((o) => o.type === 'snapshot' && o.threads)!;
    for (const t of snap.threads as Line[]) assert.deepEqual([hexRe.test(t.sp as string), hexRe.test(t.ip as string)], [true, true]);
    // The explanation's unexplained pieces.
    const e = corpus.get('ex7')!.map((l) => JSON.parse(l) as Line).filter((o) => o.type === 'explanation').at(-1)!;
    for (const u of e.unexplained as Line[]) assert.deepEqual([hexRe.test(u.start as string), hexRe.test(u.end as string)], [true, true]);
  });
});

describe('-o FILE', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-o-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs `liveprobe run [-o out] -e trace=!execve exitwith code 3` where
   * every byte of the trace repeats: in a new pid namespace (the same pids
   * each time), with ASLR off for liveprobe and so for the target. The
   * execve line is left out: its envp points into the launcher's copy of
   * Node's memory, into whichever glibc arena a Node thread had, which varies.
   */
  function deterministic(oArgs: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      (async () => {
        const exitwith = await fixture('exitwith');
        const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', 'setarch', '-R', process.execPath, cliPath(), 'run', ...oArgs, '-e', 'trace=!execve', exitwith, 'code', '3'], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        const stderr = readAll(child.stderr);
        child.on('close', (code) => void stderr.then((text) => resolve({ code, stderr: text })));
      })().catch(reject);
    });
  }

  test('gets byte for byte what stderr gets', T, async () => {
    const viaStderr = await deterministic([]);
    assert.equal(viaStderr.code, 3);
    assert.match(viaStderr.stderr, /\] \+\+\+ process \d+ exited with 3 \+\+\+\n$/);
    const again = await deterministic([]);
    assert.equal(again.stderr, viaStderr.stderr, 'the trace repeats byte for byte (else the comparison below proves nothing)');
    const file = path.join(dir, 'trace.txt');
    const viaFile = await deterministic(['-o', file]);
    assert.deepEqual([viaFile.code, viaFile.stderr], [3, '']);
    assert.equal(fs.readFileSync(file, 'utf8'), viaStderr.stderr);
  });

  test('a FIFO gets the same bytes, read while it is written', T, async () => {
    const fifo = path.join(dir, 'fifo');
    fs.rmSync(fifo, { force: true });
    const mk = spawn('mkfifo', [fifo]);
    assert.equal(await new Promise((r) => mk.on('close', r)), 0);
    const read = readAll(fs.createReadStream(fifo));
    const viaFifo = await deterministic(['-o', fifo]);
    assert.deepEqual([viaFifo.code, viaFifo.stderr], [3, '']);
    assert.equal(await read, (await deterministic([])).stderr);
  });

  test('a write that fails (/dev/full; a FIFO whose reader went away): exit 1 with one line that says why', T, async () => {
    const exitwith = await fixture('exitwith');
    const full = await runCli(['run', '-o', '/dev/full', exitwith, 'code', '3']);
    assert.deepEqual([full.code, full.stderr], [1, 'liveprobe: cannot write /dev/full: ENOSPC: no space left on device\n']);
    const fifo = path.join(dir, 'fifo-closed');
    fs.rmSync(fifo, { force: true });
    const mk = spawn('mkfifo', [fifo]);
    assert.equal(await new Promise((r) => mk.on('close', r)), 0);
    // The reader takes the first bytes and goes; the ticker keeps the trace flowing (every syscall shown).
    const reader = fs.createReadStream(fifo);
    reader.once('data', () => reader.destroy());
    const lifecycle = await fixture('lifecycle');
    const gone = await runCli(['run', '-o', fifo, '-e', 'trace=all', lifecycle, 'ticker', '1', '2000']);
    assert.deepEqual([gone.code, gone.stderr], [1, `liveprobe: cannot write ${fifo}: EPIPE: broken pipe\n`]);
  });

  test('an unwritable path: exit 1 with one line that says why, and nothing is started', T, async () => {
    const marker = path.join(dir, 'started');
    for (const [target, why] of [
      [path.join(dir, 'no-such-dir', 'trace'), 'ENOENT: no such file or directory'],
      [dir, 'EISDIR: illegal operation on a directory'],
    ] as const) {
      const r = await runCli(['run', '-o', target, '/usr/bin/touch', marker]);
      assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', `liveprobe: cannot write ${target}: ${why}; pick a writable path\n`]);
      assert.equal(fs.existsSync(marker), false, 'the target was not run');
    }
  });
});

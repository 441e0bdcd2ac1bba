// Binary facts from the ELF file itself: Go build info, libc, DNS resolver.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { binaryFacts } from '../lib/explain/binary-facts';
import { fixture } from './helpers/fixtures';

const T = { timeout: 120_000 };
const goVersion = (): string => execFileSync(process.env.LIVEPROBE_GO ?? 'go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();

/** What `go version -m FILE` prints, parsed: the Go release and every `build` setting. */
function goVersionM(file: string): { goVersion: string; build: Map<string, string> } {
  const out = execFileSync(process.env.LIVEPROBE_GO ?? 'go', ['version', '-m', file], { encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } });
  const [first, ...rest] = out.trimEnd().split('\n');
  const build = new Map<string, string>();
  for (const line of rest) {
    const [, kind, setting] = line.split('\t');
    if (kind !== 'build') continue;
    const eq = setting!.indexOf('=');
    build.set(setting!.slice(0, eq), setting!.slice(eq + 1));
  }
  return { goVersion: first!.slice(first!.lastIndexOf(': ') + 2), build };
}

/** The ELF interpreter as readelf -l names it, or null. */
function interpreterOf(file: string): string | null {
  const out = execFileSync('readelf', ['-l', '-W', file], { encoding: 'utf8' });
  return /\[Requesting program interpreter: ([^\]]+)\]/.exec(out)?.[1] ?? null;
}

test('Go binaries: every fact go version -m prints (release, CGO_ENABLED, -buildmode, -tags) and readelf\'s interpreter, for cgo, pure and netgo', T, async () => {
  for (const name of ['ex7', 'ex7pure', 'ex7netgo'] as const) {
    const bin = await fixture(name);
    const f = binaryFacts(bin);
    const m = goVersionM(bin);
    assert.ok(m.build.has('CGO_ENABLED') && m.build.has('-buildmode'), `${name}: go version -m printed its settings`);
    assert.deepEqual(
      [f.isGo, f.goVersion, f.cgoEnabled, f.buildMode, f.tags, f.interpreter, f.dynamic],
      [true, m.goVersion, m.build.get('CGO_ENABLED') === '1', m.build.get('-buildmode'), m.build.get('-tags')?.split(',') ?? [], interpreterOf(bin), interpreterOf(bin) !== null],
      name,
    );
  }
});

test('ex7 (cgo): built by the go on PATH, glibc linked, resolver per GODEBUG', T, async () => {
  const ex7 = await fixture('ex7');
  const f = binaryFacts(ex7);
  assert.equal(f.goVersion, goVersion());
  assert.equal(f.cgoEnabled, true);
  assert.equal(f.libc, 'glibc');
  assert.equal(f.interpreter, '/lib64/ld-linux-x86-64.so.2');
  assert.equal(f.dns?.resolver, 'go-or-cgo');
  assert.equal(binaryFacts(ex7, ['GODEBUG=madvdontneed=1,netdns=cgo+1']).dns?.resolver, 'cgo');
  assert.equal(binaryFacts(ex7, ['GODEBUG=netdns=go']).dns?.resolver, 'go');
});

test('ex7pure: CGO_ENABLED=0, static, no libc, pure-Go DNS', T, async () => {
  const f = binaryFacts(await fixture('ex7pure'));
  assert.equal(f.isGo, true);
  assert.equal(f.cgoEnabled, false);
  assert.equal(f.dynamic, false);
  assert.equal(f.libc, null);
  assert.deepEqual(f.dns, { resolver: 'go', why: 'no C library is linked, so only the pure-Go resolver exists' });
  assert.equal(f.summary, `${goVersion()}, CGO_ENABLED=0, statically linked, no libc`);
});

test('a C program is "not a Go binary", and a text file is not ELF', T, async () => {
  const f = binaryFacts(await fixture('exitwith'));
  assert.equal(f.isGo, false);
  assert.equal(f.summary, 'not a Go binary (links glibc)');
  assert.match(binaryFacts('/etc/hostname').summary, /not a valid ELF64 file/);
});

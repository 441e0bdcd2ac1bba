// Binary facts from the ELF file itself: Go build info, libc, DNS resolver.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { binaryFacts } from '../lib/explain/binary-facts';
import { fixture } from './helpers/fixtures';

const T = { timeout: 120_000 };
const goVersion = (): string => execFileSync(process.env.LIVEPROBE_GO ?? 'go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();

test('ex7 (cgo): Go version and settings as go version -m says, glibc linked, resolver per GODEBUG', T, async () => {
  const ex7 = await fixture('ex7');
  const f = binaryFacts(ex7);
  assert.equal(f.isGo, true);
  assert.equal(f.goVersion, goVersion());
  assert.equal(f.cgoEnabled, true);
  assert.equal(f.buildMode, 'exe');
  assert.equal(f.libc, 'glibc');
  assert.equal(f.interpreter, '/lib64/ld-linux-x86-64.so.2');
  assert.equal(f.dns?.resolver, 'go-or-cgo');
  assert.equal(binaryFacts(ex7, ['GODEBUG=madvdontneed=1,netdns=cgo+1']).dns?.resolver, 'cgo');
  assert.equal(binaryFacts(ex7, ['GODEBUG=netdns=go']).dns?.resolver, 'go');
  // The same facts go version -m prints.
  const m = execFileSync(process.env.LIVEPROBE_GO ?? 'go', ['version', '-m', ex7], { encoding: 'utf8' });
  assert.match(m, /build\tCGO_ENABLED=1/);
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

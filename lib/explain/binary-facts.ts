// What the binary itself says: Go version and build settings, whether cgo
// and libc are really linked, and which DNS resolver the process will use.
import fs from 'node:fs';
import { ElfError, parseElf } from './elf';
import { readGoBuildInfo } from './go-buildinfo';

export type DnsResolver = 'go' | 'cgo' | 'go-or-cgo';

export interface BinaryFacts {
  path: string;
  isGo: boolean;
  goVersion: string | null;
  /** CGO_ENABLED from the build settings (null when not recorded). */
  cgoEnabled: boolean | null;
  tags: string[];
  buildMode: string | null;
  /** Has an ELF interpreter (ld.so): dynamically linked. */
  dynamic: boolean;
  interpreter: string | null;
  /** The C library the binary links against, if any. */
  libc: 'glibc' | 'musl' | null;
  dns: { resolver: DnsResolver; why: string } | null;
  /** One line for people. */
  summary: string;
}

/** GODEBUG's netdns setting from an environment block (KEY=VALUE strings). */
function netdnsSetting(env: readonly string[]): string | null {
  const godebug = env.find((e) => e.startsWith('GODEBUG='));
  const m = godebug && /(?:^|,)netdns=([^,]+)/.exec(godebug.slice('GODEBUG='.length));
  return m ? m[1]! : null;
}


export function binaryFacts(path: string, env: readonly string[] = []): BinaryFacts {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  let elf;
  try {
    elf = parseElf(bytes);
  } catch (err) {
    if (err instanceof ElfError) {
      return {
        path, isGo: false, goVersion: null, cgoEnabled: null, tags: [], buildMode: null, dynamic: false,
        interpreter: null, libc: null, dns: null, summary: `${path}: ${err.message}`,
      };
    }
    throw err;
  }
  const libc = elf.needed.some((n) => n.startsWith('libc.so')) ? (elf.interpreter?.includes('musl') ? 'musl' : 'glibc')
    : elf.interpreter?.includes('musl') ? 'musl' : null;
  const go = readGoBuildInfo(elf);
  if (!go) {
    return {
      path, isGo: false, goVersion: null, cgoEnabled: null, tags: [], buildMode: null,
      dynamic: elf.interpreter !== null, interpreter: elf.interpreter, libc, dns: null,
      summary: `not a Go binary${libc ? ` (links ${libc})` : ''}`,
    };
  }
  const s = go.settings;
  const tags = s['-tags'] ? s['-tags'].split(',').filter(Boolean) : [];
  const cgoEnabled = s.CGO_ENABLED === undefined ? null : s.CGO_ENABLED === '1';
  const netdns = netdnsSetting(env);
  let dns: BinaryFacts['dns'];
  if (!libc) dns = { resolver: 'go', why: 'no C library is linked, so only the pure-Go resolver exists' };
  else if (tags.includes('netgo')) dns = { resolver: 'go', why: 'built with -tags netgo' };
  else if (netdns?.startsWith('go')) dns = { resolver: 'go', why: `GODEBUG=netdns=${netdns}` };
  else if (netdns?.startsWith('cgo')) dns = { resolver: 'cgo', why: `GODEBUG=netdns=${netdns}: getaddrinfo in libc, on a pthread` };
  else if (tags.includes('netcgo')) dns = { resolver: 'cgo', why: 'built with -tags netcgo' };
  else {
    dns = {
      resolver: 'go-or-cgo',
      why: 'the pure-Go resolver by default; libc getaddrinfo (a cgo call) when nsswitch.conf/resolv.conf ask for what Go cannot do',
    };
  }
  const linkage = libc ? `dynamically linked against ${libc}` : elf.interpreter ? 'dynamically linked' : 'statically linked, no libc';
  return {
    path, isGo: true, goVersion: go.goVersion, cgoEnabled, tags, buildMode: s['-buildmode'] ?? null,
    dynamic: elf.interpreter !== null, interpreter: elf.interpreter, libc, dns,
    summary: `${go.goVersion}, CGO_ENABLED=${s.CGO_ENABLED ?? '?'}${tags.length ? `, -tags ${tags.join(',')}` : ''}, ${linkage}`,
  };
}

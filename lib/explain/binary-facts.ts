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
  /** The C library the binary links against (dynamically, or musl statically), if any. */
  libc: 'glibc' | 'musl' | null;
  /**
   * Go only: runtime/cgo is linked, so every M is made by pthread_create
   * (docs/go-glibc-musl.md, "Go's threads in a cgo binary"). CGO_ENABLED=1
   * alone does not say it: a program that imports no cgo package links none.
   */
  cgoLinked: boolean;
  dns: { resolver: DnsResolver; why: string } | null;
  /** One line for people. */
  summary: string;
}

/**
 * A static binary has no interpreter or DT_NEEDED to name its libc. musl's
 * strerror table begins with this text for errno 0 (src/errno/__strerror.h),
 * where glibc says "Success": present in every static musl binary that
 * links strerror, as Go's runtime/cgo does. A heuristic, and said so.
 */
const MUSL_STATIC_MARK = Buffer.from('No error information');
/** The source paths of runtime/cgo in the pclntab's file table: kept by strip and -trimpath alike. */
const CGO_SOURCE_MARK = Buffer.from('runtime/cgo/');

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
        interpreter: null, libc: null, cgoLinked: false, dns: null, summary: `${path}: ${err.message}`,
      };
    }
    throw err;
  }
  const libc = elf.needed.some((n) => n.startsWith('libc.so')) ? (elf.interpreter?.includes('musl') ? 'musl' : 'glibc')
    : elf.interpreter?.includes('musl') ? 'musl'
    : elf.interpreter === null && bytes.includes(MUSL_STATIC_MARK) ? 'musl' : null;
  const go = readGoBuildInfo(elf);
  if (!go) {
    return {
      path, isGo: false, goVersion: null, cgoEnabled: null, tags: [], buildMode: null,
      dynamic: elf.interpreter !== null, interpreter: elf.interpreter, libc, cgoLinked: false, dns: null,
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
  const linkage = !libc ? (elf.interpreter ? 'dynamically linked' : 'statically linked, no libc')
    : elf.interpreter ? `dynamically linked against ${libc}` : `statically linked against ${libc}`;
  return {
    path, isGo: true, goVersion: go.goVersion, cgoEnabled, tags, buildMode: s['-buildmode'] ?? null,
    dynamic: elf.interpreter !== null, interpreter: elf.interpreter, libc, cgoLinked: bytes.includes(CGO_SOURCE_MARK), dns,
    summary: `${go.goVersion}, CGO_ENABLED=${s.CGO_ENABLED ?? '?'}${tags.length ? `, -tags ${tags.join(',')}` : ''}, ${linkage}`,
  };
}

// Builds the test fixture programs (test/fixtures/) on demand and caches them
// in test/.fixtures-out/. A binary is rebuilt only when its stamp (a sha256
// over sources, go.mod, build command, env and compiler version) changes, so
// the first test pays for the build and the rest reuse it. Several test
// processes may call fixture() at once: each builds into its own temp file
// and renames it into place, which is atomic, and a process that exec'd the
// old binary keeps running its (unlinked) inode.

import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export type FixtureName = 'ex7' | 'ex7pure' | 'spin' | 'exitwith' | 'arenas' | 'threads' | 'sysload' | 'sysload-c' | 'syscalls' | 'errnos'
  | 'lifecycle' | 'hostile' | 'httpload' | 'spawner'
  | 'mmap_torture' | 'memchurn' | 'ex7netgo' | 'ratchet' | 'stranger' | 'ex7musl' | 'cgocalls' | 'settled' | 'brkloop' | 'mallocload' | 'threadstorm' | 'threadsmusl';

interface FixtureSpec {
  kind: 'go' | 'c';
  /** Paths relative to test/fixtures/. */
  sources: string[];
  /** Go only: build with CGO_ENABLED=1. */
  cgo?: boolean;
  /** Go only: the package to build when it is not ./<name> (a variant of another fixture). */
  pkg?: string;
  /** Go only: build tags. */
  tags?: string[];
  /** Link statically with this C compiler (as Alpine images build: CC=musl-gcc; for Go, cgo with -linkmode external -extldflags -static). */
  staticCC?: string;
}

/** The one table of fixtures. Go ones are packages `./<name>` of the module in test/fixtures. */
const FIXTURES: Record<FixtureName, FixtureSpec> = {
  ex7: { kind: 'go', sources: ['ex7/main.go'], cgo: true },
  ex7pure: { kind: 'go', sources: ['ex7pure/main.go'], cgo: false },
  cgocalls: { kind: 'go', sources: ['cgocalls/main.go'], cgo: true },
  ex7netgo: { kind: 'go', sources: ['ex7/main.go'], cgo: true, pkg: 'ex7', tags: ['netgo'] },
  ex7musl: { kind: 'go', sources: ['ex7/main.go'], cgo: true, pkg: 'ex7', staticCC: 'musl-gcc' },
  spin: { kind: 'go', sources: ['spin/main.go'], cgo: false },
  arenas: { kind: 'go', sources: ['arenas/main.go'], cgo: true },
  exitwith: { kind: 'c', sources: ['exitwith.c'] },
  threads: { kind: 'c', sources: ['threads.c'] },
  // The same on musl: its stacks have no MAP_STACK, so their guards can merge with PROT_NONE below (late-attach.test.ts).
  threadsmusl: { kind: 'c', sources: ['threads.c'], staticCC: 'musl-gcc' },
  sysload: { kind: 'go', sources: ['sysload/main.go'], cgo: false },
  'sysload-c': { kind: 'c', sources: ['sysload.c'] },
  syscalls: { kind: 'c', sources: ['syscalls.c'] },
  errnos: { kind: 'c', sources: ['errnos.c'] },
  // Reliability (issue 8): exit paths, hostile syscall input, a live server, os/exec children.
  lifecycle: { kind: 'c', sources: ['lifecycle.c'] },
  hostile: { kind: 'c', sources: ['hostile.c'] },
  httpload: { kind: 'go', sources: ['httpload/main.go'], cgo: false },
  spawner: { kind: 'go', sources: ['spawner/main.go'], cgo: false },
  // Address-space model (issue 4): random memory syscalls with checkpoints; a busy allocating Go program.
  mmap_torture: { kind: 'c', sources: ['mmap_torture.c'] },
  memchurn: { kind: 'go', sources: ['memchurn/main.go'], cgo: false },
  // liveprobe watch (issue 19): the glibc arena ratchet.
  ratchet: { kind: 'go', sources: ['ratchet/main.go'], cgo: true },
  // Attach to a process the test did not start (issue 21): steps released by SIGUSR1.
  stranger: { kind: 'c', sources: ['stranger.c'] },
  // The golden tests (issue 21): every thread asleep in a known place at the exit.
  settled: { kind: 'c', sources: ['settled.c'] },
  // The perf engine's forced loss (issue 18): brk up and down as fast as it can.
  brkloop: { kind: 'c', sources: ['brkloop.c'] },
  // The perf engine's attach while threads are cloned (issue 18): bursts of short threads.
  threadstorm: { kind: 'c', sources: ['threadstorm.c'] },
  // bench/overhead's memory-heavy cgo load: threads malloc/free, glibc arenas grow and shrink.
  mallocload: { kind: 'go', sources: ['mallocload/main.go'], cgo: true },
};

/** Bump to force a rebuild of every fixture when the recipe below changes. */
const RECIPE_VERSION = 1;

let cachedRoot: string | undefined;

/**
 * The repository root: the nearest ancestor of this file's directory whose
 * package.json is named "liveprobe". Found by walking up because this module
 * runs from dist/test/helpers/, not from its source location.
 */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'liveprobe') {
          cachedRoot = dir;
          return dir;
        }
      } catch {
        // Unreadable or invalid package.json: not ours, keep walking.
      }
    }
    if (dirname(dir) === dir) {
      throw new Error(`fixtures: no package.json named "liveprobe" above ${__dirname}`);
    }
  }
}

/** Per-process memo, so concurrent calls in one process share one build. */
const pending = new Map<string, Promise<string>>();

/**
 * Absolute path of the built fixture binary (test/.fixtures-out/<name>),
 * building it first if its sources or toolchain changed. Set LIVEPROBE_GO to
 * build the Go fixtures with another go binary. Throws an Error that contains
 * the compiler output if the build fails.
 */
export function fixture(name: FixtureName | (string & {}), opts: { go?: string } = {}): Promise<string> {
  const key = opts.go ? `${name}@${opts.go}` : name;
  let p = pending.get(key);
  if (p === undefined) {
    p = ensureBuilt(name, opts.go);
    pending.set(key, p);
    // A failed build may be fixed by editing the sources: don't memoize it.
    p.catch(() => pending.delete(key));
  }
  return p;
}

/** Debian's golang-1.19-go: used where installed, but nothing installs it for the tests. */
const DEBIAN_GO119 = '/usr/lib/go-1.19/bin/go';
/** The last Go 1.19 release, which a go of 1.21 or later fetches through the module proxy. */
const GO119_TOOLCHAIN = 'go1.19.13';

const goCommands = new Map<string, Promise<string>>();

/**
 * The go command of a release: for Go 1.19 Debian's where installed, else
 * the toolchain as the go on PATH fetches it (GOTOOLCHAIN; once per machine,
 * into the module cache, checked against the checksum database), so a fresh
 * machine needs no apt.
 */
function goCommand(toolchain: string): Promise<string> {
  let cmdOf = goCommands.get(toolchain);
  if (cmdOf !== undefined) return cmdOf;
  cmdOf = (async () => {
    if (toolchain === GO119_TOOLCHAIN && existsSync(DEBIAN_GO119)) return DEBIAN_GO119;
    const outDir = join(repoRoot(), 'test', '.fixtures-out');
    const env: NodeJS.ProcessEnv = { ...process.env, GOTOOLCHAIN: toolchain, GOWORK: 'off', GOFLAGS: '-mod=mod' };
    // Without HOME the go command has no default module cache to fetch into.
    if (!env.HOME && !env.GOMODCACHE && !env.GOPATH) env.GOMODCACHE = join(outDir, '.gotoolchains');
    const cmd = process.env.LIVEPROBE_GO || 'go';
    const { code, output } = await run(cmd, ['env', 'GOROOT'], join(repoRoot(), 'test', 'fixtures'), env);
    // stdout comes first in output: the GOROOT line, then any "go: downloading" on stderr.
    const goroot = output.split('\n')[0]!.trim();
    if (code !== 0 || !goroot.startsWith('/')) {
      throw new Error(
        `fixtures: could not get ${toolchain}: \`GOTOOLCHAIN=${toolchain} ${cmd} env GOROOT\` failed (it needs go 1.21 or later and ` +
          `proxy.golang.org${toolchain === GO119_TOOLCHAIN ? ', or apt-get install golang-1.19-go' : ''}): ${output.trim().split('\n').join(' | ')}`,
      );
    }
    return join(goroot, 'bin', 'go');
  })();
  goCommands.set(toolchain, cmdOf);
  cmdOf.catch(() => goCommands.delete(toolchain));
  return cmdOf;
}

/** A Go fixture built by Go 1.19 (the oldest Go the detectors are checked on), beside the usual build. */
export async function fixtureGo119(name: FixtureName): Promise<string> {
  return fixture(name, { go: await goCommand(GO119_TOOLCHAIN) });
}

/** A Go fixture built by another release, e.g. `go1.22.12`, fetched as fixtureGo119 does. */
export async function fixtureGo(name: FixtureName, toolchain: string): Promise<string> {
  return fixture(name, { go: await goCommand(toolchain) });
}

interface Recipe {
  cmd: string;
  /** `out` is replaced by the temp output path at build time. */
  args: (out: string) => string[];
  cwd: string;
  /** Variables set for the build (on top of process.env). */
  env: Record<string, string>;
  /** Printed by `cmd` to identify the toolchain; part of the hash. */
  versionArgs: string[];
}

function recipe(spec: FixtureSpec, name: string, fixturesDir: string, outDir: string, go?: string): Recipe {
  if (spec.kind === 'go') {
    return {
      cmd: go || process.env.LIVEPROBE_GO || 'go',
      args: (out) => [
        'build', ...(spec.tags ? ['-tags', spec.tags.join(',')] : []),
        ...(spec.staticCC ? ['-ldflags', '-linkmode external -extldflags -static'] : []),
        '-o', out, `./${spec.pkg ?? name}`,
      ],
      cwd: fixturesDir,
      env: {
        CGO_ENABLED: spec.cgo ? '1' : '0',
        ...(spec.staticCC ? { CC: spec.staticCC } : {}),
        // Neutralise a user's GOFLAGS (-mod=vendor etc.); harmless here
        // because the module has no dependencies.
        GOFLAGS: '-mod=mod',
        GO111MODULE: 'on',
        // Never let a newer go download another toolchain; LIVEPROBE_GO
        // and the `go` option (fixtureGo119) are how tests pick a version.
        GOTOOLCHAIN: 'local',
        // A go.work in an enclosing directory must not pull us in.
        GOWORK: 'off',
        // A toolchain that GOTOOLCHAIN fetched has its GOROOT inside the
        // module cache, and a go before 1.21 run from there finds no package
        // of a module whose path has no dot, like liveprobe/fixtures ("import
        // of unknown directory"; go1.20.7 fails the same way in
        // golang/go#61873). The module has no
        // dependencies, so a cache of its own, empty, is all it needs.
        ...(go ? { GOMODCACHE: join(outDir, '.gomodcache') } : {}),
      },
      versionArgs: ['version'],
    };
  }
  return {
    cmd: spec.staticCC ?? 'cc',
    args: (out) => ['-O1', '-g', '-Wall', '-pthread', ...(spec.staticCC ? ['-static'] : []), '-o', out, join(fixturesDir, spec.sources[0])],
    cwd: fixturesDir,
    env: {},
    versionArgs: ['--version'],
  };
}

interface RunResult {
  code: number | null;
  output: string;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (err === null) return resolve({ code: 0, output });
      // Spawn failures (ENOENT...) have a string code and no output.
      const code = typeof err.code === 'number' ? err.code : null;
      resolve({ code, output: output || String(err.message) });
    });
  });
}

const toolVersions = new Map<string, Promise<string>>();

/** The toolchain's version text, once per process (go version takes ~10 ms). */
function toolVersion(r: Recipe, env: NodeJS.ProcessEnv): Promise<string> {
  const key = `${r.cmd}\0${r.versionArgs.join('\0')}`;
  let v = toolVersions.get(key);
  if (v === undefined) {
    v = run(r.cmd, r.versionArgs, r.cwd, env).then(({ code, output }) => {
      if (code !== 0) {
        toolVersions.delete(key);
        throw new Error(`fixtures: \`${r.cmd} ${r.versionArgs.join(' ')}\` failed:\n${output}`);
      }
      return output.trim();
    });
    toolVersions.set(key, v);
  }
  return v;
}

function buildEnv(spec: FixtureSpec, r: Recipe, outDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...r.env };
  // go needs a build cache; test environments sometimes have no HOME.
  if (spec.kind === 'go' && !env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) {
    env.GOCACHE = join(outDir, '.gocache');
  }
  return env;
}

async function ensureBuilt(name: string, go?: string): Promise<string> {
  if (!Object.prototype.hasOwnProperty.call(FIXTURES, name)) {
    throw new Error(`fixtures: unknown fixture "${name}" (known: ${Object.keys(FIXTURES).join(', ')})`);
  }
  const spec = FIXTURES[name as FixtureName];
  const root = repoRoot();
  const fixturesDir = join(root, 'test', 'fixtures');
  const outDir = join(root, 'test', '.fixtures-out');
  // Another toolchain gets its own output, so both builds can coexist.
  const out = join(outDir, go ? `${name}@${createHash('sha256').update(go).digest('hex').slice(0, 10)}` : name);
  const stampPath = `${out}.stamp`;
  const r = recipe(spec, name, fixturesDir, outDir, go);
  const env = buildEnv(spec, r, outDir);

  const h = createHash('sha256');
  const add = (label: string, data: string | Buffer): void => {
    // Length-prefixed so that no two different inputs hash alike.
    h.update(`${label}:${Buffer.byteLength(data)}:`).update(data);
  };
  add('recipe', String(RECIPE_VERSION));
  add('name', name);
  add('cmd', r.cmd);
  add('args', JSON.stringify(r.args('<out>')));
  add('env', JSON.stringify(r.env));
  add('version', await toolVersion(r, env));
  const inputs = spec.kind === 'go' ? ['go.mod', ...spec.sources] : spec.sources;
  for (const src of inputs) add(`file ${src}`, await readFile(join(fixturesDir, src)));
  const digest = h.digest('hex');

  if ((await readText(stampPath)) === digest && (await isFile(out))) return out;

  await mkdir(outDir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const { code, output } = await run(r.cmd, r.args(tmp), r.cwd, env);
    if (code !== 0) {
      const cmdline = [r.cmd, ...r.args(out)].join(' ');
      throw new Error(`fixtures: building "${name}" failed (exit ${code}): ${cmdline}\n${output}`);
    }
    await rename(tmp, out);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  // The stamp goes last: a crash in between leaves a stale stamp, so the next
  // call rebuilds rather than trusting an unknown binary.
  const tmpStamp = `${stampPath}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmpStamp, digest);
  await rename(tmpStamp, stampPath);
  return out;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

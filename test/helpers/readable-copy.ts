// For tests that run liveprobe as another user (nobody, through setpriv): a
// copy of what that user must read, in a directory it can. The checkout may
// sit where only its owner can enter (under /root, or `mktemp -d`, both
// 0700), and then node as nobody can load neither dist/ nor the addon nor
// node_modules.
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { builtAddonPath } from '../../lib/native';
import { repoRoot } from './fixtures';

export interface ReadableCopy {
  /** The copy's root, laid out as the checkout: package.json, dist/lib, the addon under build/, node_modules. */
  root: string;
  /** dist/lib in the copy: what `require('liveprobe')` loads. */
  lib: string;
  /** The CLI in the copy. */
  cli: string;
  /** Copies an executable (a fixture binary) to bin/<name> in the copy; returns the new path. */
  add(file: string, name: string): string;
  /** Deletes the copy. */
  remove(): void;
}

/**
 * Copies dist/lib, package.json (the CLI's --version reads it), the addon
 * file that lib/native.ts loads in the checkout, and the packages dist/lib
 * requires with their dependencies, to a new directory in os.tmpdir() that
 * every user can read and search.
 */
export function readableCopy(): ReadableCopy {
  const src = repoRoot();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-readable-'));
  try {
    const copy = (rel: string): void => fs.cpSync(path.join(src, rel), path.join(root, rel), { recursive: true });
    copy(path.join('dist', 'lib'));
    copy('package.json');
    // The package's own build, where bindings finds it: nobody runs with a
    // clean environment, so neither LIVEPROBE_BINDING nor the preload a
    // sanitizer build needs (CI's ASan run) reaches it.
    const addon = builtAddonPath();
    if (addon === undefined) throw new Error('no addon build to copy; run npm install');
    fs.cpSync(addon, path.join(root, 'build', 'Release', 'liveprobe.node'));
    for (const pkg of runtimePackages(src)) copy(path.join('node_modules', pkg));
    openToAll(root);
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return {
    root,
    lib: path.join(root, 'dist', 'lib'),
    cli: path.join(root, 'dist', 'lib', 'cli', 'main.js'),
    add(file, name) {
      const dest = path.join(root, 'bin', name);
      fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o755 });
      fs.chmodSync(path.dirname(dest), 0o755);
      fs.copyFileSync(file, dest);
      fs.chmodSync(dest, 0o755);
      return dest;
    },
    remove() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * The packages in node_modules that dist/lib requires at run time, found by
 * reading its compiled requires, with their dependencies, transitively.
 */
function runtimePackages(src: string): string[] {
  const wanted: string[] = [];
  const lib = path.join(src, 'dist', 'lib');
  for (const rel of fs.readdirSync(lib, { recursive: true, encoding: 'utf8' })) {
    if (!rel.endsWith('.js')) continue;
    for (const m of fs.readFileSync(path.join(lib, rel), 'utf8').matchAll(/\brequire\("([^".][^"]*)"\)/g)) {
      if (!isBuiltin(m[1]!)) wanted.push(packageName(m[1]!));
    }
  }
  const seen = new Set<string>();
  while (wanted.length > 0) {
    const name = wanted.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const manifest = path.join(src, 'node_modules', name, 'package.json');
    const deps = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
    wanted.push(...Object.keys(deps));
  }
  return [...seen].sort();
}

/** `@scope/pkg/sub` → `@scope/pkg`; `pkg/sub` → `pkg`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return parts.slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
}

/** Directories 0755, files 0644 (0755 if their owner may execute them), whatever the umask made. */
function openToAll(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) openToAll(p);
    else if (entry.isFile()) fs.chmodSync(p, fs.statSync(p).mode & 0o100 ? 0o755 : 0o644);
  }
}

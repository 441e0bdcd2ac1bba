#!/usr/bin/env node
// Builds liveprobe's bin (issue 16 §5: start-up; docs/architecture.md,
// "Start-up"), in dist/bin/:
// - cli.js: the CLI and everything of lib/ it imports in one CommonJS file
//   (esbuild). Loading ~70 separate modules costs Node a file-system walk
//   per require (resolution, stat, package.json scope lookups) before any of
//   them is compiled; one file has none of that.
// - liveprobe.js, the file package.json's `bin` names: tools/cli-launcher.cjs
//   with the bundle's name and its V8 code cache's, which carries a hash of
//   the bundle's content (the launcher says why). Old caches are removed.
// `npm run prepare` (so `npm install`) runs this after tsc; dist/lib/cli/
// main.js stays the same program, unbundled.
//
// What stays outside the bundle, required at run time from node_modules as
// usual: every dependency (`packages: 'external'`): echarts' script is read
// as a file by the report, and prom-client and log-update load only with the
// commands that use them. The addon is found from lib/package-root.ts's
// root: the bundle sits two directories under the package root, as
// dist/lib/*.js do, so its `__dirname/../..` holds in both.
//
//   node tools/bundle-cli.mjs
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'dist', 'bin');

const out = await build({
  absWorkingDir: root,
  entryPoints: ['lib/cli/main.ts'],
  write: false,
  outfile: path.join(dir, 'cli.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  // Less text for V8 to scan at every start; identifiers are kept, so an
  // internal error still names its function.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
// The launcher compiles the bundle as a function body (Module.wrap), where
// main.ts's #! line would be a syntax error.
const bundle = out.outputFiles[0].text.replace(/^#!.*\n/, '');
const cache = `cli.${createHash('sha256').update(bundle).digest('hex').slice(0, 16)}.v8cache`;
fs.mkdirSync(dir, { recursive: true });
for (const f of fs.readdirSync(dir)) if (f.endsWith('.v8cache')) fs.rmSync(path.join(dir, f));
fs.writeFileSync(path.join(dir, 'cli.js'), bundle);
const template = fs.readFileSync(path.join(root, 'tools', 'cli-launcher.cjs'), 'utf8');
const launcher = template
  .replace('path.join(__dirname, BUNDLE)', `path.join(__dirname, ${JSON.stringify('cli.js')})`)
  .replace('path.join(__dirname, CACHE)', `path.join(__dirname, ${JSON.stringify(cache)})`);
if (launcher === template || /__dirname, (BUNDLE|CACHE)\)/.test(launcher)) {
  console.error('bundle-cli: tools/cli-launcher.cjs no longer has path.join(__dirname, BUNDLE) and path.join(__dirname, CACHE) to fill in');
  process.exit(1);
}
fs.writeFileSync(path.join(dir, 'liveprobe.js'), launcher, { mode: 0o755 });
fs.chmodSync(path.join(dir, 'liveprobe.js'), 0o755);

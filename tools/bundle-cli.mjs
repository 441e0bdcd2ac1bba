#!/usr/bin/env node
// Builds dist/bin/liveprobe.js, the file package.json's `bin` runs: the CLI
// and everything of lib/ it imports in one CommonJS file (esbuild). Start-up
// is most of a short run's cost (issue 16 §5), and loading ~70 separate
// modules costs Node a file-system walk per require (resolution, stat,
// package.json scope lookups) before any of them is compiled; one file has
// none of that. `npm run prepare` (so `npm install`) runs it after tsc;
// dist/lib/cli/main.js stays the same program, unbundled.
//
// What stays outside the bundle, required at run time from node_modules as
// usual: every dependency (`packages: 'external'`): `bindings` finds the
// addon from its module_root, which lib/package-root.ts gives, echarts'
// script is read as a file by the report, and prom-client and log-update
// load only with the commands that use them.
//
// The bundle sits two directories under the package root, as dist/lib/*.js
// do, so lib/package-root.ts's `__dirname/../..` holds in both.
//
//   node tools/bundle-cli.mjs [outfile]
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.resolve(process.argv[2] ?? path.join(root, 'dist', 'bin', 'liveprobe.js'));
if (path.resolve(path.dirname(outfile), '..', '..') !== root) {
  console.error(`bundle-cli: ${outfile} must be two directories under ${root} (lib/package-root.ts)`);
  process.exit(2);
}

await build({
  absWorkingDir: root,
  entryPoints: ['lib/cli/main.ts'],
  outfile,
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

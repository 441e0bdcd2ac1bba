#!/usr/bin/env node
// liveprobe's bin (written to dist/bin/liveprobe.js by tools/bundle-cli.mjs,
// which fills in BUNDLE and CACHE). It runs the one-file CLI beside it with a
// V8 code cache: compiling the bundle and then, lazily, each function it
// calls is most of what liveprobe's start-up costs beyond Node's own (issue
// 16 §5; docs/architecture.md, "Start-up"). Node 20 has no compile cache of
// its own (module.enableCompileCache arrives in 22), so this is the one that
// vm.Script offers: the first run writes the code of every function it
// compiled, later runs start from it.
//
// V8 accepts a cache for any source of the same length, so the cache's name
// carries a hash of the bundle's content (CACHE): a rebuilt bundle never
// meets an old cache. A cache V8 rejects (another Node, other V8 flags) is
// replaced at exit; one that cannot be written (a read-only install) is
// simply not used. Nothing here may fail the CLI: without a cache it runs
// as it would without this file.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { wrap } = require('node:module');

const bundle = path.join(__dirname, BUNDLE);
const cache = path.join(__dirname, CACHE);
let cachedData;
try {
  cachedData = fs.readFileSync(cache);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(wrap(fs.readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
if (cachedData === undefined || script.cachedDataRejected) {
  // At exit, so the cache holds every function this run compiled.
  process.once('exit', () => {
    const tmp = `${cache}.${process.pid}`;
    try {
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cache);
    } catch {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // nothing to clean, or not ours to clean
      }
    }
  });
}
// The bundle runs as this module: its require.main === module test holds,
// and its require finds the dependencies from here, beside it.
script.runInThisContext().call(module.exports, module.exports, require, module, bundle, __dirname);

// The installed package's root: package.json, build/ with the addon. Two
// directories above this file's compiled form, both where tsc writes it
// (dist/lib/package-root.js) and where tools/bundle-cli.mjs inlines it into
// the CLI's one file (dist/bin/liveprobe.js).
import path from 'node:path';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

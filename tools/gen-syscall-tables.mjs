#!/usr/bin/env node
// Generates lib/syscalls/table-x86_64.ts and lib/syscalls/table-aarch64.ts
// from the kernel's own UAPI headers on this machine (linux-libc-dev), so the
// syscall numbers in the tree are never typed by hand.
//
//   node tools/gen-syscall-tables.mjs           write the two files
//   node tools/gen-syscall-tables.mjs --check   exit 1 if they are stale
//
// x86_64 reads asm/unistd_64.h, which is a flat list of `#define __NR_x n`.
// aarch64 has no header of its own on an x86_64 machine, but arm64's
// uapi/asm/unistd.h is only a few `#define __ARCH_WANT_*` lines followed by
// `#include <asm-generic/unistd.h>`. So we read the generic header and run a
// small preprocessor over it with arm64's configuration (below) to get exactly
// the numbers an arm64 kernel built from these headers has.
//
// Plain Node, no dependencies: it must run before `npm install` has.

import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'lib', 'syscalls');
const GENERATOR = relative(ROOT, fileURLToPath(import.meta.url));

const X86_64_HEADER = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
const GENERIC_HEADER = '/usr/include/asm-generic/unistd.h';
const VERSION_HEADER = '/usr/include/linux/version.h';

// What arch/arm64/include/uapi/asm/unistd.h defines before including the
// generic table (Linux 6.1), plus the 64-bit, non-compat ABI facts that
// asm/bitsperlong.h and the compiler supply.
//  - __ARCH_WANT_TIME32_SYSCALLS is defined by arm64 for its 32-bit compat
//    personality; on the 64-bit ABI every block it guards is already enabled
//    by `__BITS_PER_LONG != 32`, and the *_time64 block (403..423) is off
//    because it requires `__BITS_PER_LONG == 32 || __SYSCALL_COMPAT`. So
//    leaving it undefined cannot change the table; we leave it out so that
//    the "no time32 syscalls" intent is visible here.
//  - __ARCH_WANT_MEMFD_SECRET: arm64 wires memfd_secret (447) since 5.14.
//  - Not defined, as on arm64: __ARCH_WANT_SYNC_FILE_RANGE2 (so 84 is
//    sync_file_range), __ARCH_NOMMU, __SYSCALL_COMPAT.
const AARCH64_PREDEFINED = {
  __BITS_PER_LONG: '64',
  __ARCH_WANT_RENAMEAT: '',
  __ARCH_WANT_NEW_STAT: '',
  __ARCH_WANT_SET_GET_RLIMIT: '',
  __ARCH_WANT_SYS_CLONE3: '',
  __ARCH_WANT_MEMFD_SECRET: '',
};

// `__NR_*` macros in the generic header that are not system calls.
const NOT_SYSCALLS = new Set(['syscalls', 'arch_specific_syscall']);

// Known numbers we refuse to generate without: a wrong #if evaluation or a
// changed header layout must fail here, not in a trace.
const ANCHORS = {
  x86_64: { read: 0, mmap: 9, clone: 56, execve: 59, exit_group: 231, rseq: 334, clone3: 435 },
  aarch64: {
    io_setup: 0, sync_file_range: 84, exit_group: 94, fcntl: 25, lseek: 62, newfstatat: 79,
    fstat: 80, clone: 220, execve: 221, mmap: 222, fadvise64: 223, renameat: 38,
    getrlimit: 163, wait4: 260, rseq: 293, clone3: 435, memfd_secret: 447,
  },
};
// Names that must not appear for an arch (legacy calls arm64 never had).
const ABSENT = {
  x86_64: [],
  aarch64: ['fork', 'vfork', 'open', 'stat', 'fstatat64', 'mmap2', 'clock_gettime64', 'sync_file_range2'],
};

/** Strip C comments and join backslash-continued lines. */
function logicalLines(text) {
  const noComments = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
  return noComments.replace(/\\\n/g, ' ').split('\n');
}

/** Tokenizer + recursive-descent evaluator for the #if subset these headers use. */
function evaluate(expr, macros, depth = 0) {
  if (depth > 32) throw new Error(`macro recursion too deep in "${expr}"`);
  const tokens = expr.match(/\|\||&&|==|!=|[!()]|\d+|[A-Za-z_]\w*|\S/g) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (want) => {
    const t = tokens[pos++];
    if (want !== undefined && t !== want) throw new Error(`expected "${want}" in #if ${expr}`);
    return t;
  };
  const primary = () => {
    const t = take();
    if (t === undefined) throw new Error(`truncated #if ${expr}`);
    if (t === '(') { const v = or(); take(')'); return v; }
    if (t === '!') return primary() ? 0 : 1;
    if (t === 'defined') {
      const paren = peek() === '(';
      if (paren) take('(');
      const name = take();
      if (paren) take(')');
      return macros.has(name) ? 1 : 0;
    }
    if (/^\d+$/.test(t)) return Number(t);
    if (/^[A-Za-z_]\w*$/.test(t)) {
      // C: an undefined identifier in #if is 0; a defined one expands.
      const body = macros.get(t);
      return body === undefined || body === '' ? 0 : evaluate(body, macros, depth + 1);
    }
    throw new Error(`unsupported token "${t}" in #if ${expr}`);
  };
  const eq = () => {
    let v = primary();
    while (peek() === '==' || peek() === '!=') {
      const op = take();
      const r = primary();
      v = (op === '==' ? v === r : v !== r) ? 1 : 0;
    }
    return v;
  };
  const and = () => { let v = eq(); while (peek() === '&&') { take(); const r = eq(); v = v && r ? 1 : 0; } return v; };
  const or = () => { let v = and(); while (peek() === '||') { take(); const r = and(); v = v || r ? 1 : 0; } return v; };
  const v = or();
  if (pos !== tokens.length) throw new Error(`trailing tokens in #if ${expr}`);
  return v;
}

/**
 * Run the conditional-compilation part of the preprocessor over a unistd
 * header and collect the active `#define __NR_name value` lines, resolving
 * aliases such as `#define __NR_mmap __NR3264_mmap`.
 */
function parseUnistd(path, predefined) {
  const macros = new Map(Object.entries(predefined));
  const stack = []; // { outer: boolean, taken: boolean, active: boolean }
  const active = () => stack.length === 0 || stack[stack.length - 1].active;
  const byName = new Map();

  const resolve = (body, seen = new Set()) => {
    const b = body.trim();
    if (/^\d+$/.test(b)) return Number(b);
    if (/^[A-Za-z_]\w*$/.test(b) && macros.has(b) && !seen.has(b)) {
      seen.add(b);
      return resolve(macros.get(b), seen);
    }
    return undefined;
  };

  for (const line of logicalLines(readFileSync(path, 'utf8'))) {
    const m = /^\s*#\s*(\w+)\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, directive, rest] = m;
    switch (directive) {
      case 'if': case 'ifdef': case 'ifndef': {
        const outer = active();
        let cond = false;
        if (outer) {
          if (directive === 'if') cond = evaluate(rest, macros) !== 0;
          else cond = macros.has(rest.split(/\s/)[0]) === (directive === 'ifdef');
        }
        stack.push({ outer, taken: cond, active: outer && cond });
        break;
      }
      case 'elif': {
        const top = stack[stack.length - 1];
        if (!top) throw new Error(`${path}: #elif without #if`);
        const cond = top.outer && !top.taken && evaluate(rest, macros) !== 0;
        top.active = cond;
        top.taken ||= cond;
        break;
      }
      case 'else': {
        const top = stack[stack.length - 1];
        if (!top) throw new Error(`${path}: #else without #if`);
        top.active = top.outer && !top.taken;
        top.taken = true;
        break;
      }
      case 'endif':
        if (!stack.pop()) throw new Error(`${path}: unbalanced #endif`);
        break;
      case 'define': {
        if (!active()) break;
        const d = /^([A-Za-z_]\w*)(\([^)]*\))?\s*(.*)$/.exec(rest);
        if (!d) throw new Error(`${path}: cannot parse #define ${rest}`);
        const [, name, params, body] = d;
        macros.set(name, params ? '' : body);
        const nr = /^__NR_(\w+)$/.exec(name);
        if (!nr || params || NOT_SYSCALLS.has(nr[1])) break;
        const value = resolve(body);
        if (value === undefined) throw new Error(`${path}: cannot resolve __NR_${nr[1]} = ${body}`);
        const prev = byName.get(nr[1]);
        if (prev !== undefined && prev !== value) throw new Error(`${path}: __NR_${nr[1]} defined twice`);
        byName.set(nr[1], value);
        break;
      }
      case 'undef':
        if (active()) macros.delete(rest.split(/\s/)[0]);
        break;
      case 'include': case 'error': case 'warning': case 'pragma':
        // Only asm/bitsperlong.h is included; AARCH64_PREDEFINED stands in.
        break;
      default:
        throw new Error(`${path}: unsupported directive #${directive}`);
    }
  }
  if (stack.length !== 0) throw new Error(`${path}: unterminated #if`);
  return byName;
}

/** name→nr map into a dense array indexed by nr, checking for collisions. */
function toNames(arch, byName) {
  const names = [];
  for (const [name, nr] of byName) {
    if (names[nr] !== undefined) throw new Error(`${arch}: ${names[nr]} and ${name} both ${nr}`);
    names[nr] = name;
  }
  for (const [name, nr] of Object.entries(ANCHORS[arch])) {
    if (byName.get(name) !== nr) throw new Error(`${arch}: expected ${name}=${nr}, got ${byName.get(name)}`);
  }
  for (const name of ABSENT[arch]) {
    if (byName.has(name)) throw new Error(`${arch}: ${name} must not exist`);
  }
  return names;
}

function kernelVersion() {
  if (!existsSync(VERSION_HEADER)) return 'unknown';
  const text = readFileSync(VERSION_HEADER, 'utf8');
  const part = (k) => new RegExp(`#define\\s+LINUX_VERSION_${k}\\s+(\\d+)`).exec(text)?.[1];
  const [maj, min, sub] = ['MAJOR', 'PATCHLEVEL', 'SUBLEVEL'].map(part);
  return maj !== undefined ? `${maj}.${min}.${sub}` : 'unknown';
}

function render(arch, constName, sources, names) {
  const width = String(names.length - 1).length;
  const rows = [];
  for (let nr = 0; nr < names.length; nr++) {
    const name = names[nr];
    rows.push(`    /* ${String(nr).padStart(width)} */ ${name === undefined ? 'undefined' : `'${name}'`},`);
  }
  const count = names.filter((n) => n !== undefined).length;
  return [
    `// GENERATED by ${GENERATOR} — do not edit; re-run the generator instead.`,
    `// Source: ${sources} (Linux UAPI headers ${kernelVersion()}).`,
    `// ${count} named syscalls; names[nr] is undefined where the kernel assigns nothing.`,
    '',
    "import type { SyscallTable } from './arch';",
    '',
    `export const ${constName}: SyscallTable = {`,
    `  arch: '${arch}',`,
    '  names: [',
    ...rows,
    '  ],',
    '};',
    '',
  ].join('\n');
}

function main() {
  const check = process.argv.includes('--check');
  const outputs = [
    {
      file: join(OUT_DIR, 'table-x86_64.ts'),
      text: render('x86_64', 'X86_64', X86_64_HEADER, toNames('x86_64', parseUnistd(X86_64_HEADER, {}))),
    },
    {
      file: join(OUT_DIR, 'table-aarch64.ts'),
      text: render(
        'aarch64',
        'AARCH64',
        `${GENERIC_HEADER} as configured by arm64's uapi/asm/unistd.h`,
        toNames('aarch64', parseUnistd(GENERIC_HEADER, AARCH64_PREDEFINED)),
      ),
    },
  ];
  let stale = false;
  for (const { file, text } of outputs) {
    const rel = relative(ROOT, file);
    if (check) {
      const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
      if (current !== text) { stale = true; console.error(`${rel} is stale; run node ${GENERATOR}`); }
    } else {
      writeFileSync(file, text);
      console.log(`wrote ${rel}`);
    }
  }
  if (stale) process.exitCode = 1;
}

main();

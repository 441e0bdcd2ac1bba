// Named syscall classes usable as `%name` in a trace filter. strace's classes
// come from its own tables (lib/syscalls/strace-classes.ts, generated from
// strace 6.1 by tools/gen-strace-classes.mjs); `%thread` is liveprobe's. A
// class is a list of names, the same on every arch; a name missing from an
// arch's table (fork on aarch64) is simply not selected there, as in strace,
// where each personality's table decides membership.
import { STRACE_CLASS_FLAGS } from './strace-classes';

/** strace 6.1's class names (src/basic_filters.c) and the flag each selects. */
const STRACE_CLASSES: Readonly<Record<string, string>> = {
  '%desc': 'TD',
  '%file': 'TF',
  '%memory': 'TM',
  '%process': 'TP',
  '%creds': 'TC',
  '%signal': 'TS',
  '%ipc': 'TI',
  '%net': 'TN',
  '%network': 'TN',
  '%stat': 'TST',
  '%lstat': 'TLST',
  '%fstat': 'TFST',
  '%%stat': 'TSTA',
  '%statfs': 'TSF',
  '%fstatfs': 'TFSF',
  '%%statfs': 'TSFA',
  '%pure': 'PU',
  '%clock': 'TCL',
};

/**
 * liveprobe's own class (strace has none): what a runtime such as Go does to
 * create, set up and retire an OS thread, so thread birth and death can be
 * attributed without tracing everything.
 */
const THREAD = [
  'arch_prctl', 'clone', 'clone3', 'exit', 'exit_group', 'fork', 'gettid', 'prctl', 'rseq',
  'set_robust_list', 'set_tid_address', 'sigaltstack', 'vfork',
] as const;

const members = (flag: string): readonly string[] =>
  Object.keys(STRACE_CLASS_FLAGS).filter((name) => STRACE_CLASS_FLAGS[name]!.includes(flag));

/**
 * Each class's names. A strace class's list is computed the first time it is
 * read: a run uses two or three of them, and filtering the whole table for
 * all 18 at every start-up cost milliseconds (docs/architecture.md, "Start-up").
 */
export const SYSCALL_CLASSES: Readonly<Record<string, readonly string[]>> = (() => {
  const classes: Record<string, readonly string[]> = {};
  for (const [cls, flag] of Object.entries(STRACE_CLASSES)) {
    Object.defineProperty(classes, cls, {
      enumerable: true,
      configurable: true,
      get: () => {
        const names = members(flag);
        Object.defineProperty(classes, cls, { value: names, enumerable: true });
        return names;
      },
    });
  }
  classes['%thread'] = THREAD;
  return classes;
})();

/** Class names strace also accepts without the `%` (its legacy spelling), and liveprobe's thread. */
const BARE_CLASS_NAMES = new Set(['desc', 'file', 'memory', 'process', 'signal', 'ipc', 'network', 'thread']);

/** What liveprobe traces when no `-e trace=` is given. */
export const DEFAULT_TRACE: readonly string[] = ['%memory', '%process', '%thread'];

export function isSyscallClass(token: string): boolean {
  return Object.prototype.hasOwnProperty.call(SYSCALL_CLASSES, token);
}

/** The class a filter token names: `%file`, or strace's bare `file`; undefined for a syscall name. */
export function classOfToken(token: string): string | undefined {
  if (token.startsWith('%')) return isSyscallClass(token) ? token : undefined;
  return BARE_CLASS_NAMES.has(token) ? `%${token}` : undefined;
}

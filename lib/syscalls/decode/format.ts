// strace's printing primitives, so every decoder spells values the way
// strace 6.1 does (src/print_fields.h, xlat.c, util.c): addresses as NULL or
// 0x…, raw values as C's %#lx (0 stays "0"), flag sets in table order with
// unknown bits as one trailing hex number, unknown enum values as
// `0x… /* PREFIX_??? */`.

/** One entry of a flag or value table: a name and its bits. */
export type XlatEntry = readonly [name: string, value: bigint];

/**
 * A named table of flags or values, in strace's table order (which decides
 * the order flags are printed in), with the `dflt` it prints next to bits it
 * does not know.
 */
export interface Xlat {
  readonly entries: readonly XlatEntry[];
  /** e.g. "PROT_???"; null where strace prints unknown bits without a comment. */
  readonly unknown: string | null;
  /** Decoded flag sets by value: a trace repeats a handful of values endlessly. */
  readonly cache: Map<bigint, DecodedFlags>;
  /** lookup's index, built at its first use: the first name of each value, as a scan of entries finds it. */
  byValue?: Map<bigint, string>;
}

/** A flag set as names (for args) and as strace prints it (for text). */
export interface DecodedFlags {
  readonly names: readonly string[];
  readonly text: string;
}

export function xlat(unknown: string | null, entries: readonly XlatEntry[]): Xlat {
  return { entries, unknown, cache: new Map() };
}

export const MASK32 = 0xffffffffn;

/**
 * How named constants print (strace's -X): `abbrev` the names (strace's
 * default), `raw` the numbers only, `verbose` the number with the names in a
 * comment. One setting for the process, as in strace: a decoded event keeps
 * the text of the style it was first rendered in.
 */
export type XlatStyle = 'abbrev' | 'raw' | 'verbose';
let xlatStyle: XlatStyle = 'abbrev';

export function setXlatStyle(style: XlatStyle): void {
  xlatStyle = style;
}

export function getXlatStyle(): XlatStyle {
  return xlatStyle;
}

/**
 * strace's abbreviation of arrays and structures, which -v (`--no-abbrev`)
 * turns off: for the calls liveprobe decodes, execve's argv past 32 entries
 * and its envp, printed as its strings instead of `/* N vars *\/`, arrays
 * past 32 elements (lib/syscalls/decode/print-array.ts) and a seccomp
 * filter's program (lib/syscalls/decode/bpf.ts). One
 * setting for the process, like the style.
 */
let abbrev = true;

export function setAbbrev(on: boolean): void {
  abbrev = on;
}

export function getAbbrev(): boolean {
  return abbrev;
}

/**
 * strace's -y: an fd prints with the path it stands for,
 * `3</usr/lib/libc.so.6>`; -yy (`'all'`) also says which process a pidfd
 * refers to, `3<pid:1234>`. One setting for the process, like the style.
 */
export type FdPaths = false | 'path' | 'all';
let fdPaths: FdPaths = false;

export function setFdPaths(how: FdPaths): void {
  fdPaths = how;
}

/**
 * A pidfd clone/clone3 just made, for the child `pid` they returned: under -y
 * it is the anonymous inode every pidfd is (strace reads that link from
 * /proc; liveprobe knows it by construction), under -yy the child's pid.
 */
export function formatPidfd(fd: number, pid: bigint): string {
  if (!fdPaths) return String(fd);
  return fdPaths === 'all' ? `${fd}<pid:${pid}>` : `${fd}<anon_inode:[pidfd]>`;
}

const ANGLE_BRACKETS = new Set([0x3c, 0x3e]);

/**
 * strace's printfd: the fd, and under -y the path it stood for (read from
 * /proc/PID/fd when the call was made: ev.path), quoted without the quotes,
 * `<` and `>` escaped, a deleted file's `(deleted)` after the brackets.
 */
export function formatFd(fd: number, path: string | undefined): string {
  if (!fdPaths || path === undefined || fd < 0) return String(fd);
  const deleted = path.endsWith(' (deleted)');
  const name = deleted ? path.slice(0, -' (deleted)'.length) : path;
  const quoted = quoteBytes(utf8.encode(name), Number.MAX_SAFE_INTEGER, false, ANGLE_BRACKETS);
  return `${fd}<${quoted.slice(1, -1)}>${deleted ? '(deleted)' : ''}`;
}

/**
 * A constant strace prints with its own name rather than from a table
 * (print_xlat_ex: AT_FDCWD, PR_SET_PTRACER_ANY, a signal): the name, the
 * number (raw), or both (verbose). A constant without a name is its number.
 */
export function formatNamed(number: string, name: string | undefined): string {
  if (name === undefined || xlatStyle === 'raw') return number;
  return xlatStyle === 'verbose' ? `${number} /* ${name} */` : name;
}

/**
 * A text strace prints whole under -X raw as the number and under -X
 * verbose as the number with the text in a comment (print_mmap_flags,
 * sprint_sve_val and the like).
 */
export function formatComposite(value: bigint, text: string): string {
  if (xlatStyle === 'abbrev') return text;
  return xlatStyle === 'raw' ? hexVal(value) : `${hexVal(value)} /* ${text} */`;
}

/** C's printf("%#lx"): 0 is "0", anything else 0x-prefixed lowercase hex. */
export function hexVal(v: bigint): string {
  return v === 0n ? '0' : '0x' + v.toString(16);
}

/** strace's printaddr(): a null pointer is NULL. */
export function addr(v: bigint): string {
  return v === 0n ? 'NULL' : '0x' + v.toString(16);
}

/** The low 32 bits as a C int (fd, pid, exit status, pkey arguments). */
export function int32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

/** The low 32 bits as a C unsigned int (flags strace prints with printflags/printxval, not the 64-bit variants). */
export function uint32(v: bigint): bigint {
  return v & MASK32;
}

/** Bound on each table's cache, so hostile or random values cannot grow it without end. */
const CACHE_MAX = 256;

/**
 * A flag set decoded as strace's printflags: names in table order, unknown
 * bits as one trailing hex number (`A|B|0x40`), `0x40 /* X_??? *\/` when
 * nothing is known, the zero entry's name or `0` for an empty set.
 */
export function decodeFlags(table: Xlat, value: bigint): DecodedFlags {
  const hit = table.cache.get(value);
  if (hit !== undefined) return hit;
  let names: string[];
  let text: string;
  if (value === 0n) {
    const zero = table.entries.find((e) => e[1] === 0n);
    names = zero ? [zero[0]] : [];
    text = zero ? zero[0] : '0';
  } else {
    names = [];
    let rest = value;
    for (const [name, bits] of table.entries) {
      if (bits !== 0n && (rest & bits) === bits) {
        names.push(name);
        rest &= ~bits;
      }
    }
    if (rest !== 0n) names.push('0x' + rest.toString(16));
    text =
      names.length === 1 && rest !== 0n && table.unknown !== null ? `${names[0]} /* ${table.unknown} */` : names.join('|');
  }
  const decoded: DecodedFlags = { names: Object.freeze(names), text };
  if (table.cache.size < CACHE_MAX) table.cache.set(value, decoded);
  return decoded;
}

/** Decoded names of a flag set; unknown bits as one hex string, as strace appends them. */
export function flagNames(table: Xlat, value: bigint): readonly string[] {
  return decodeFlags(table, value).names;
}

/**
 * strace's printflags: `A|B|0x40`, `0x40 /* X_??? *\/` when nothing is
 * known, `0` when empty; in the raw style the number, in the verbose style
 * the number and the names in a comment (printflags_ex).
 */
export function formatFlags(table: Xlat, value: bigint): string {
  const d = decodeFlags(table, value);
  if (xlatStyle === 'abbrev') return d.text;
  if (xlatStyle === 'raw') return hexVal(value);
  if (value === 0n) return d.names.length ? `0 /* ${d.names[0]!} */` : '0';
  const known = d.names.some((n) => !n.startsWith('0x'));
  if (known) return `${hexVal(value)} /* ${d.names.join('|')} */`;
  return table.unknown === null ? hexVal(value) : `${hexVal(value)} /* ${table.unknown} */`;
}

/**
 * Named values from a table, by name without the prefix: the decoders' case
 * labels come from the same tables that print them. Throws on a name the
 * table lacks, so a typo cannot become `undefined` at run time.
 */
export function namedValues<K extends string>(table: Xlat, prefix: string, keys: readonly K[]): Record<K, bigint> {
  const out = {} as Record<K, bigint>;
  for (const k of keys) out[k] = valueOf(table, prefix + k);
  return out;
}

/** One named value of a table (throws when the table lacks it). */
export function valueOf(table: Xlat, name: string): bigint {
  const e = table.entries.find(([n]) => n === name);
  if (!e) throw new Error(`liveprobe: ${name} is not in its table`);
  return e[1];
}

/** A value's name in an enum-like table, or undefined. */
export function lookup(table: Xlat, value: bigint): string | undefined {
  // A Map, not a scan: comparing BigInts one by one made madvise's advice,
  // the commonest call of a malloc-heavy program, the decoder's costliest line.
  let index = table.byValue;
  if (!index) {
    index = new Map();
    for (const [name, v] of table.entries) if (!index.has(v)) index.set(v, name);
    table.byValue = index;
  }
  return index.get(value);
}

/** strace's printxval: the name, or `0x5 /* X_??? *\/`; `0x2 /* NAME *\/` in the verbose style, the number in the raw one. */
export function formatValue(table: Xlat, value: bigint): string {
  const raw = hexVal(value);
  if (xlatStyle === 'raw') return raw;
  const name = lookup(table, value);
  if (name !== undefined) return xlatStyle === 'verbose' ? `${raw} /* ${name} */` : name;
  return table.unknown === null ? raw : `${raw} /* ${table.unknown} */`;
}

/** A value as a structured field: its name, or the hex string strace would print. */
export function valueName(table: Xlat, value: bigint): string {
  return lookup(table, value) ?? hexVal(value);
}

const SIGNAL_NAMES: readonly string[] = [
  '0', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL',
  'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT',
  'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF',
  'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

/**
 * strace's printsignal (x86_64 and arm64 share the generic numbering): names
 * up to 31, SIGRTMIN for 32, SIGRT_n above it up to 64, else the number.
 */
export function signalName(sig: number): string {
  if (sig >= 0 && sig < SIGNAL_NAMES.length) return SIGNAL_NAMES[sig]!;
  if (sig === 32) return 'SIGRTMIN';
  if (sig > 32 && sig <= 64) return `SIGRT_${sig - 32}`;
  return String(sig);
}

/** strace's printsignal: the name; `17` under -X raw, `17 /* SIGCHLD *\/` under -X verbose; a number without a name as is. */
export function formatSignal(sig: number): string {
  const name = signalName(sig);
  return formatNamed(String(sig), name === String(sig) ? undefined : name);
}

/** The number of a signal named as signalName names it (SIGURG → 23). */
export function signalNumber(name: string): number {
  const sig = SIGNAL_NAMES.indexOf(name);
  if (sig <= 0) throw new Error(`liveprobe: no signal named ${name}`);
  return sig;
}

/** strace's default string limit (-s 32). */
export const MAX_STRLEN = 32;

const utf8 = new TextEncoder();

/**
 * strace's string_quote for a C string: printable ASCII as is, \" and \\,
 * the C escapes \t \n \v \f \r, any other byte in octal (3 digits when an
 * octal digit follows, so the escape stays unambiguous). Strings longer than
 * `max` bytes are cut and marked with `...` after the closing quote.
 */
export function quoteString(s: string, max: number = MAX_STRLEN, forceEllipsis = false): string {
  return quoteBytes(utf8.encode(s), max, forceEllipsis);
}

/** quoteString for bytes as they came from the tracee (not necessarily UTF-8). */
export function quoteBytes(bytes: Uint8Array, max: number = MAX_STRLEN, forceEllipsis = false, escape?: ReadonlySet<number>): string {
  const n = Math.min(bytes.length, max);
  let out = '"';
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (escape?.has(c)) out += octal(c, i + 1 < n ? bytes[i + 1]! : -1);
    else if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0b) out += '\\v';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0d) out += '\\r';
    else out += octal(c, i + 1 < n ? bytes[i + 1]! : -1);
  }
  out += '"';
  return bytes.length > max || forceEllipsis ? out + '...' : out;
}

/** A byte as an octal escape, 3 digits when an octal digit follows. */
function octal(c: number, next: number): string {
  const oct = c.toString(8);
  return '\\' + (next >= 0x30 && next <= 0x37 ? oct.padStart(3, '0') : oct);
}

/**
 * A C string copied from the tracee with its NUL kept (lib/syscalls/
 * memory-reads.ts): the bytes before the NUL, and whether there was one
 * (no NUL: the copy stopped at its bound first).
 */
export function cString(mem: Uint8Array): { bytes: Uint8Array; terminated: boolean } {
  const nul = mem.indexOf(0);
  return nul < 0 ? { bytes: mem, terminated: false } : { bytes: mem.subarray(0, nul), terminated: true };
}

/** Little-endian readers for copies of tracee memory. */
export function memU64(mem: Uint8Array, off: number): bigint {
  return new DataView(mem.buffer, mem.byteOffset, mem.byteLength).getBigUint64(off, true);
}
export function memU32(mem: Uint8Array, off: number): number {
  return new DataView(mem.buffer, mem.byteOffset, mem.byteLength).getUint32(off, true);
}

/** strace's printflags_ex in the verbose style: `0x7 /* A|B *\/`, `0` when empty (the number alone under -X raw). */
export function formatFlagsVerbose(table: Xlat, value: bigint): string {
  if (value === 0n || xlatStyle === 'raw') return hexVal(value);
  const d = decodeFlags(table, value);
  const known = d.names.filter((n) => !n.startsWith('0x'));
  return `${hexVal(value)} /* ${known.length ? d.names.join('|') : table.unknown} */`;
}

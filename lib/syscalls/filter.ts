// strace's `-e trace=` syntax, resolved against one architecture's table so
// the native side gets plain syscall numbers.
//
// Semantics follow strace 6.1 (src/filter_qualify.c, basic_filters.c):
//  - comma-separated tokens; empty tokens are skipped, but at least one is needed
//  - each leading `!` inverts the whole set: `!mmap,munmap` = all but those two
//  - `all` and `none` only as the whole expression (after any `!`s)
//  - a token is a `%class` (or its bare legacy spelling), a name, a decimal
//    number, or `/regex` over names; a leading `?` makes a token that matches
//    nothing on this arch silently ignored instead of an error
// Only the `trace=` qualifier is handled here; the prefix is optional.

import { DEFAULT_TRACE, SYSCALL_CLASSES, classOfToken } from './classes';
import { ARCHES, type Arch, syscallName, syscallNumber, syscallTable } from './table';

export class FilterError extends Error {
  readonly code = 'EINVAL';

  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

export interface TraceFilter {
  /**
   * True iff every syscall number is selected, including ones this table does
   * not name; the native side can then skip installing a seccomp filter.
   */
  readonly all: boolean;
  /**
   * Selected numbers among those the table names (plus any number given
   * explicitly). A negated filter also selects numbers beyond the table;
   * `matches` is authoritative for those.
   */
  readonly numbers: ReadonlySet<number>;
  /** syscallName() of each of `numbers`, ascending by number. */
  readonly names: readonly string[];
  matches(nr: number): boolean;
}

const CLASS_HINT = `classes: ${Object.keys(SYSCALL_CLASSES).join(', ')}`;

export function parseTraceFilter(expr: string, arch: Arch): TraceFilter {
  let body = stripQualifier(expr.trim());
  let negated = false;
  while (body.startsWith('!')) {
    negated = !negated;
    body = body.slice(1);
  }

  const picked = new Set<number>();
  if (body === 'all') {
    negated = !negated; // strace: "all" == "!none"
  } else if (body !== 'none') {
    const tokens = body.split(',').map((t) => t.trim()).filter((t) => t !== '');
    if (tokens.length === 0) {
      throw new FilterError(`empty trace filter; list syscall names or classes, e.g. trace=%memory,clone (${CLASS_HINT})`);
    }
    for (const token of tokens) addToken(token, arch, picked);
  }
  return buildFilter(arch, negated, picked);
}

/** memory + process + thread: liveprobe's default when no filter is given. */
export function defaultTraceFilter(arch: Arch): TraceFilter {
  return parseTraceFilter(DEFAULT_TRACE.join(','), arch);
}

function stripQualifier(expr: string): string {
  const eq = expr.indexOf('=');
  if (eq < 0) return expr;
  const qualifier = expr.slice(0, eq);
  // strace spells the qualifier `trace` or `t`; `!` may only follow the `=`.
  if (qualifier === 'trace' || qualifier === 't') return expr.slice(eq + 1).trim();
  throw new FilterError(`only trace= filters are supported, got "${qualifier}="; write e.g. trace=%memory,clone`);
}

function addToken(raw: string, arch: Arch, into: Set<number>): void {
  let token = raw;
  let optional = false;
  while (token.startsWith('?')) {
    optional = true;
    token = token.slice(1);
  }
  const found = resolveToken(token, arch, optional);
  for (const nr of found) into.add(nr);
}

/** Numbers a token stands for; throws unless it names something (or is `?`-optional). */
function resolveToken(token: string, arch: Arch, optional: boolean): number[] {
  const names = syscallTable(arch).names;
  const fail = (message: string): number[] => {
    if (optional) return [];
    throw new FilterError(message);
  };

  const className = classOfToken(token);
  if (className !== undefined) {
    // Like strace, a known class is valid even if this arch has none of its calls.
    return numbersOf(SYSCALL_CLASSES[className] ?? [], arch);
  }
  if (token.startsWith('%')) {
    return fail(`unknown syscall class "${token}" in trace filter; ${CLASS_HINT}`);
  }

  if (/^[0-9]+$/.test(token)) {
    const nr = Number(token);
    if (nr < names.length) return [nr];
    return fail(`syscall number ${token} is beyond the ${arch} table (0-${names.length - 1}) in trace filter; use a name as in strace`);
  }

  if (token.startsWith('/')) {
    let re: RegExp;
    try {
      re = new RegExp(token.slice(1));
    } catch (err) {
      // Not excused by `?`, as in strace: the expression itself is broken.
      throw new FilterError(`invalid regular expression "${token}" in trace filter (${err instanceof Error ? err.message : String(err)}); write e.g. /^mmap`);
    }
    const hits: number[] = [];
    names.forEach((name, nr) => {
      if (name !== undefined && re.test(name)) hits.push(nr);
    });
    return hits.length > 0 ? hits : fail(`regular expression "${token}" in trace filter matches no ${arch} syscall; prefix it with ? to allow that`);
  }

  const nr = syscallNumber(arch, token);
  if (nr !== undefined) return [nr];
  if (token === 'all' || token === 'none') {
    return fail(`"${token}" must be the whole trace filter (e.g. trace=${token} or trace=!${token}), not one item of a list`);
  }
  const elsewhere = ARCHES.filter((a) => a !== arch && syscallNumber(a, token) !== undefined);
  if (elsewhere.length > 0) {
    return fail(`syscall "${token}" does not exist on ${arch} (only ${elsewhere.join(', ')}); drop it or write ?${token} to ignore it`);
  }
  return fail(`unknown syscall "${token}" in trace filter; names are as in strace, ${CLASS_HINT}`);
}

function numbersOf(members: readonly string[], arch: Arch): number[] {
  const out: number[] = [];
  for (const name of members) {
    const nr = syscallNumber(arch, name);
    if (nr !== undefined) out.push(nr);
  }
  return out;
}

function buildFilter(arch: Arch, negated: boolean, picked: ReadonlySet<number>): TraceFilter {
  const selected = new Set<number>();
  if (negated) {
    syscallTable(arch).names.forEach((name, nr) => {
      if (name !== undefined && !picked.has(nr)) selected.add(nr);
    });
  } else {
    for (const nr of picked) selected.add(nr);
  }
  const sorted = [...selected].sort((a, b) => a - b);
  const excluded = new Set(picked);
  return {
    all: negated && excluded.size === 0,
    numbers: selected,
    names: sorted.map((nr) => syscallName(arch, nr)),
    matches: negated
      ? (nr: number): boolean => Number.isSafeInteger(nr) && !excluded.has(nr)
      : (nr: number): boolean => selected.has(nr),
  };
}

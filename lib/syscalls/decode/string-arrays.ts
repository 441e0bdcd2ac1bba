// execve's argv and envp as strace 6.1 prints them (src/execve.c printargv):
// the native tracer copies each array as far as it was readable, as entries
// (lib/wire.ts ARRAY_ENTRY, native/src/tracee_memory.cc
// readTraceePointerArray); which element prints as a string, which as its
// pointer, and where `...` goes is decided here.

import { ARRAY_ENTRY, ARRAY_ENTRY_HEADER } from '../../wire';
import { MAX_STRLEN, addr, getAbbrev, quoteBytes } from './format';

export interface ArrayElement {
  /** The string's address. */
  readonly ptr: bigint;
  /** Its bytes as far as they were copied, without the NUL. */
  readonly bytes: Uint8Array;
  /** 'string': up to its NUL; 'cut': liveprobe's bound came first; 'fault': unreadable after `bytes`. */
  readonly kind: 'string' | 'cut' | 'fault';
}

export interface StringArray {
  readonly elements: readonly ArrayElement[];
  /** 'null': the array's NULL; 'fault': the pointer at `endAt` was unreadable; 'bound': liveprobe's bound on entries or bytes. */
  readonly end: 'null' | 'fault' | 'bound';
  readonly endAt: bigint;
}

const ELEMENT_KIND = new Map<number, ArrayElement['kind']>([
  [ARRAY_ENTRY.string, 'string'], [ARRAY_ENTRY.stringCut, 'cut'], [ARRAY_ENTRY.stringFault, 'fault'],
]);
const END_KIND = new Map<number, StringArray['end']>([
  [ARRAY_ENTRY.end, 'null'], [ARRAY_ENTRY.fault, 'fault'], [ARRAY_ENTRY.bound, 'bound'],
]);

/** The arrays of a blob, in order (execve: argv, then envp). A blob cut short ends its last array at the bound. */
export function parseStringArrays(blob: Uint8Array): StringArray[] {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const out: StringArray[] = [];
  let elements: ArrayElement[] = [];
  let at = 0;
  while (at + ARRAY_ENTRY_HEADER <= blob.length) {
    const kind = blob[at]!;
    const len = view.getUint32(at + 1, true);
    const ptr = view.getBigUint64(at + 5, true);
    const start = at + ARRAY_ENTRY_HEADER;
    at = start + len;
    if (at > blob.length) break;
    const element = ELEMENT_KIND.get(kind);
    if (element !== undefined) {
      elements.push({ ptr, bytes: blob.subarray(start, at), kind: element });
      continue;
    }
    out.push({ elements, end: END_KIND.get(kind) ?? 'bound', endAt: ptr });
    elements = [];
  }
  if (elements.length > 0) out.push({ elements, end: 'bound', endAt: 0n });
  return out;
}

/** The strings before the first element that is not one whole string: what `argv` gives the API. */
export function leadingStrings(a: StringArray | undefined): string[] {
  const out: string[] = [];
  const utf8 = new TextDecoder();
  for (const e of a?.elements ?? []) {
    if (e.kind !== 'string') break;
    out.push(utf8.decode(e.bytes));
  }
  return out;
}

/**
 * One element as strace's printstr: it reads max_strlen + 1 bytes and prints
 * the string if its NUL came within them or all of them were readable (cut
 * at max_strlen, with `...`), else the pointer.
 */
function elementText(e: ArrayElement): string {
  if (e.kind === 'string') return quoteBytes(e.bytes, MAX_STRLEN);
  if (e.bytes.length > MAX_STRLEN) return quoteBytes(e.bytes, MAX_STRLEN, true);
  // liveprobe's bytes bound came within strace's read: not strace's form (docs/strace-parity.md).
  if (e.kind === 'cut') return quoteBytes(e.bytes, MAX_STRLEN, true);
  return addr(e.ptr);
}

/**
 * printargv: `[…]`, at most max_strlen elements then `...` unless -v; an
 * element strace cannot read as its pointer; an array that becomes
 * unreadable ends `, ... /* 0x… *\/]`, or is its address if that happens at
 * once. `undefined` (nothing copied) prints the address.
 */
export function formatStringArray(ptr: bigint, a: StringArray | undefined): string {
  if (ptr === 0n) return 'NULL';
  if (a === undefined) return addr(ptr);
  const abbrev = getAbbrev();
  const parts: string[] = [];
  const n = a.elements.length;
  for (let i = 0; i <= n; i++) {
    if (i === n) {
      if (a.end === 'fault') {
        if (i === 0) return addr(ptr);
        parts.push(`... /* ${addr(a.endAt)} */`);
      } else if (a.end === 'bound') {
        // liveprobe's bound: strace would go on (docs/strace-parity.md).
        parts.push('...');
      }
      break;
    }
    if (abbrev && i >= MAX_STRLEN) {
      parts.push('...');
      break;
    }
    parts.push(elementText(a.elements[i]!));
  }
  return `[${parts.join(', ')}]`;
}

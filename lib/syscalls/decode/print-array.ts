// strace's print_array (src/util.c print_array_ex) over a copy of tracee
// memory: arrays strace reads element by element, as far as they are
// readable (mincore's vector, process_madvise's iovecs, clone3's set_tid).

import { addr, getAbbrev, MAX_STRLEN } from './format';

const U64 = 1n << 64n;

/**
 * `[e0, e1, …]` for `count` elements of `size` bytes at `ptr`, from `mem`,
 * the copy of as many bytes as were readable there: NULL, `[]` when empty,
 * the address when the array wraps around or its first element was not
 * readable, `... /* 0x… *\/` where it stopped being readable, and at most
 * max_strlen elements then `...` unless -v. An element past the copy's own
 * bound (`bound` bytes) prints as `...` too (docs/strace-parity.md).
 */
export function formatArray(ptr: bigint, count: bigint, size: number, mem: Uint8Array | undefined, element: (at: number) => string,
  bound = Infinity): string {
  if (ptr === 0n) return 'NULL';
  if (count === 0n) return '[]';
  if (ptr + count * BigInt(size) >= U64) return addr(ptr);
  const readable = Math.floor((mem?.length ?? 0) / size);
  const abbrev = getAbbrev();
  const parts: string[] = [];
  for (let i = 0; BigInt(i) < count; i++) {
    if (i >= readable) {
      if (i === 0) return addr(ptr);
      parts.push(i * size >= bound ? '...' : `... /* ${addr(ptr + BigInt(i * size))} */`);
      break;
    }
    if (abbrev && i >= MAX_STRLEN) {
      parts.push('...');
      break;
    }
    parts.push(element(i * size));
  }
  return `[${parts.join(', ')}]`;
}

import { ERRNO_TABLE } from './errno-table';

const NAMES = new Map<number, string>();
const TEXTS = new Map<number, string>();
for (const [num, name, text] of ERRNO_TABLE) {
  NAMES.set(num, name);
  TEXTS.set(num, text);
}

/** The errno's name as strace 6.1 prints it; undefined for a number it has no name for. */
export function errnoName(num: number): string | undefined {
  return NAMES.get(num);
}

export function errnoText(num: number): string {
  return TEXTS.get(num) ?? `Unknown error ${num}`;
}

/** The number of a named errno (throws for a name the table lacks, so a typo fails at load). */
export function errnoNumber(name: string): number {
  const e = ERRNO_TABLE.find(([, n]) => n === name);
  if (!e) throw new Error(`liveprobe: ${name} is not in the errno table`);
  return e[0];
}

// Resident memory per mapping, from /proc/PID/smaps.

export interface SmapsRegion {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  /** kB, as the kernel reports them. */
  sizeKb: number;
  rssKb: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/;

export function parseSmaps(text: string): SmapsRegion[] {
  const out: SmapsRegion[] = [];
  let cur: SmapsRegion | undefined;
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      cur = { start: BigInt('0x' + h[1]), end: BigInt('0x' + h[2]), perms: h[3]!, name: h[4] ?? '', sizeKb: 0, rssKb: 0 };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith('Size:')) cur.sizeKb = parseInt(line.slice(5), 10);
    else if (line.startsWith('Rss:')) cur.rssKb = parseInt(line.slice(4), 10);
  }
  return out;
}

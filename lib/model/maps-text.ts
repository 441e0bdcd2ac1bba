// The model printed in /proc/PID/maps layout (for --maps and verify's
// reports), with a class column between the inode and the name unless asked
// not to. Files mapped while traced carry only their path: their device and
// inode are looked up here, once per path.
import fs from 'node:fs';
import { formatMapsLine, permsOf } from './region';
import type { RegionNode } from './region-map';

export function mapsText(nodes: Iterable<RegionNode>, classColumn: boolean): string {
  const lines: string[] = [];
  const stats = new Map<string, { dev: string; inode: bigint } | null>();
  for (const n of nodes) {
    const a = n.attrs;
    let dev = a.dev;
    let inode = a.inode;
    if (a.kind === 'file' && dev === '' && a.name.startsWith('/') && !a.name.endsWith(' (deleted)')) {
      let st = stats.get(a.name);
      if (st === undefined) {
        st = statDevInode(a.name);
        stats.set(a.name, st);
      }
      if (st) ({ dev, inode } = st);
    }
    const cls = classColumn ? (a.class ?? '-') : undefined;
    lines.push(formatMapsLine(n.start, n.end, permsOf(a.prot, a.shared), n.offset, dev, inode, a.name, cls));
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

function statDevInode(path: string): { dev: string; inode: bigint } | null {
  try {
    const st = fs.statSync(path, { bigint: true });
    // Linux's dev_t encoding (huge_encode_dev): 12-bit major, 20-bit minor, split.
    const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
    const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
    return { dev: `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`, inode: st.ino };
  } catch {
    return null;
  }
}

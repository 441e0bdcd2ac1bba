// The few /proc reads the model makes besides the snapshots the tracer sends:
// facts no syscall record carries.
import fs from 'node:fs';

/**
 * start_brk of a process (field 47 of /proc/PID/stat): where its brk heap
 * begins, needed when the first brk seen after a snapshot grows a heap that
 * did not exist yet. undefined if unreadable (gone, or no ptrace access: the
 * kernel shows 0 then, which we treat as unknown too).
 */
export function readStartBrk(pid: number): bigint | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: fields restart after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const v = fields[47 - 3];
  if (v === undefined || !/^\d+$/.test(v) || v === '0') return undefined;
  return BigInt(v);
}

export interface ShmSegment {
  key: number;
  /** Bytes, as shmget was asked (not page-rounded). */
  size: bigint;
}

/**
 * System V segments by shmid, from /proc/sysvipc/shm. shmat returns only an
 * address: the mapping's size and the key in its name ("/SYSV<key>") are
 * facts of the segment, read here.
 */
export function readShmSegments(): Map<number, ShmSegment> {
  const out = new Map<number, ShmSegment>();
  let text: string;
  try {
    text = fs.readFileSync('/proc/sysvipc/shm', 'utf8');
  } catch {
    return out;
  }
  const lines = text.split('\n');
  const header = (lines[0] ?? '').trim().split(/\s+/);
  const iKey = header.indexOf('key');
  const iId = header.indexOf('shmid');
  const iSize = header.indexOf('size');
  if (iKey < 0 || iId < 0 || iSize < 0) return out;
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length <= Math.max(iKey, iId, iSize)) continue;
    // key is printed as a signed int (%10d).
    out.set(Number(f[iId]), { key: Number(f[iKey]) >>> 0, size: BigInt(f[iSize]!) });
  }
  return out;
}

export interface MountFacts {
  /** Mounted noexec: mappings of its files lack VM_MAYEXEC (mprotect(PROT_EXEC) fails with EACCES). */
  noexec: boolean;
  /** 'ext4', 'tmpfs', … */
  fsType: string;
}

/**
 * The mount holding `path` in the namespace of process pid
 * (/proc/PID/mountinfo, longest mount-point prefix wins). undefined when
 * unreadable.
 */
export function mountOf(pid: number, path: string): MountFacts | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return undefined;
  }
  const file = path.endsWith(' (deleted)') ? path.slice(0, -' (deleted)'.length) : path;
  let best = -1;
  let found: MountFacts | undefined;
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || dash + 1 >= f.length) continue;
    // Mount points escape spaces etc. as \040 (octal).
    const mnt = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const under = mnt === '/' || file === mnt || file.startsWith(mnt + '/');
    // Later lines of the same mount point are mounts stacked on top: >= keeps the last.
    if (under && mnt.length >= best) {
      best = mnt.length;
      found = { noexec: f[5]!.split(',').includes('noexec'), fsType: f[dash + 1]! };
    }
  }
  return found;
}

/**
 * Whether fd of process pid is open for writing, if it still names `path`
 * (the fd may have been closed or reused since the record was made; then
 * undefined). Decides VM_MAYWRITE of a shared file mapping made read-only.
 */
export function fdOpenForWriting(pid: number, fd: number, path: string): boolean | undefined {
  try {
    if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== path) return undefined;
    const m = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    if (!m) return undefined;
    // O_ACCMODE: 0 O_RDONLY, 1 O_WRONLY, 2 O_RDWR; mmap needs read access, so only O_RDWR maps writable.
    return (parseInt(m[1]!, 8) & 3) === 2;
  } catch {
    return undefined;
  }
}

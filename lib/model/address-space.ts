// One address space (one mm: the threads of a process, and a vfork child
// until it execs) as an interval map of regions, updated by the memory
// syscalls the tracer reports. Every update applies what the kernel did, from
// the *returned* values (ground-truth.md §2: glibc's mmap hint is not where
// the memory goes), and costs O(log n) per region it touches.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { LiveprobeError } from '../errors';
import {
  EACCES,
  EFAULT,
  ENOMEM,
  MADV_DOFORK,
  MADV_DONTFORK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_HUGETLB,
  MAP_PRIVATE,
  MAP_TYPE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_READ,
  PROT_RWX,
  PROT_WRITE,
  SHM_EXEC,
  SHM_RDONLY,
  SHM_REMAP,
} from './linux-constants';
import { pageSize } from './page';
import { type MountFacts, type ShmSegment, mountOf, readShmSegments } from './proc';
import {
  type Provenance,
  type Region,
  type RegionAttrs,
  type RegionClass,
  formatMapsLine,
  isGate,
  kindOfName,
  parseMaps,
  permsOf,
} from './region';
import { RegionMap, type RegionNode } from './region-map';
import { type VerifyResult, compareWithMaps } from './verify';

/** Emitted as 'change' after every update of the model. */
export interface ModelChange {
  /** The syscall that changed it ('mmap', 'mremap', …), or 'snapshot' (seeded), 'exec' (emptied), 'class'. */
  readonly cause: string;
  readonly seq: number;
  readonly tid: number;
  readonly time: number;
  /** The range changed (mremap: the destination). [0, 0) for exec and snapshot. */
  readonly start: bigint;
  readonly end: bigint;
  /** mremap: the source range. */
  readonly from?: { readonly start: bigint; readonly end: bigint };
}

export interface AddressSpace {
  on(event: 'change', listener: (change: ModelChange) => void): this;
  once(event: 'change', listener: (change: ModelChange) => void): this;
  off(event: 'change', listener: (change: ModelChange) => void): this;
}

const DEV_ZERO_SHARED = '/dev/zero (deleted)';

/** A range a thread's syscall found free while the model still had it (returned at `time`, by `tid`). */
interface FreedRange {
  start: bigint;
  end: bigint;
  time: number;
  tid: number;
}

function attrsEqual(a: RegionAttrs, b: RegionAttrs): boolean {
  return (
    a === b ||
    (a.prot === b.prot &&
      a.shared === b.shared &&
      a.kind === b.kind &&
      a.name === b.name &&
      a.dev === b.dev &&
      a.inode === b.inode &&
      a.shmid === b.shmid &&
      a.dontFork === b.dontFork &&
      a.mayWrite === b.mayWrite &&
      a.class === b.class &&
      a.origin.seq === b.origin.seq)
  );
}

/** Offsets matter for memory that is a window on a file (or a shmem file). */
function hasOffset(a: RegionAttrs): boolean {
  return a.kind === 'file' || a.kind === 'shm';
}

export class AddressSpace extends EventEmitter {
  /** The process this address space belongs to (a vfork child shares its parent's). */
  readonly pid: number;
  /** Set once a /proc/PID/maps snapshot seeded it (at attach, after exec) or it was copied at fork. */
  seeded = false;
  /** The process has exited: the model shows its last state. */
  exited = false;
  /** seq of the last record applied. */
  lastSeq = -1;
  /** Records the model could not apply (it may be wrong from there on); verify() reports them. */
  readonly faults: string[] = [];

  readonly #map = new RegionMap();
  readonly #page: bigint;
  #bytes = 0n;
  /** Page-aligned end of the brk heap (= PAGE_ALIGN(mm->brk)); undefined until known. */
  #brkEnd: bigint | undefined;
  /** Ranges the model still had when another thread's syscall found them free; see #claimFree. */
  #freedEarly: FreedRange[] = [];
  /** Mount facts of mapped files, by path: looked up only when a failed mprotect needs them. */
  readonly #mounts = new Map<string, MountFacts | null>();
  /** Segment sizes learnt at seed time, for shmdt of segments attached before tracing. */
  #shm: Map<number, ShmSegment> | undefined;

  constructor(pid: number) {
    super();
    this.pid = pid;
    this.#page = pageSize();
  }

  // ------------------------------------------------------------ queries

  /** VmSize in bytes: every region but the [vsyscall] gate page. */
  get size(): bigint {
    return this.#bytes;
  }

  /** Number of regions the model holds (pieces made by different syscalls stay apart: often more than the kernel's VMAs). */
  get count(): number {
    return this.#map.count;
  }

  /** PAGE_ALIGN of the program break, once a snapshot or a brk call told it. */
  get brk(): bigint | undefined {
    return this.#brkEnd;
  }

  /** The region containing addr. */
  find(addr: bigint): Region | undefined {
    const n = this.#map.find(addr);
    return n ? toRegion(n) : undefined;
  }

  /** Every region, in address order. */
  regions(): Region[] {
    const out: Region[] = [];
    for (const n of this.#map.nodes()) out.push(toRegion(n));
    return out;
  }

  /** Regions overlapping [start, end), whole (not clipped). */
  regionsIn(start: bigint, end: bigint): Region[] {
    const out: Region[] = [];
    for (let n = this.#map.firstEndingAfter(start); n && n.start < end; n = n.next[0]!) out.push(toRegion(n));
    return out;
  }

  /**
   * Reads /proc/PID/maps and compares it with the model (see verify.ts for
   * what counts as equal and the two declared allowances). Synchronous on
   * purpose: no batch can update the model between the read and the
   * comparison. Only meaningful at a point where the process cannot change
   * its mappings (stopped, or blocked after a marker the caller has seen).
   */
  verify(): VerifyResult {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${this.pid}/maps`, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new LiveprobeError(
        code === 'EACCES' ? 'EACCES' : 'ESRCH',
        `cannot read /proc/${this.pid}/maps (${code ?? 'error'}): the process is gone or not ours to read`,
      );
    }
    return this.compare(text);
  }

  /** compare /proc/PID/maps text (read by the caller) with the model. */
  compare(mapsText: string): VerifyResult {
    const result = compareWithMaps(this.regions(), parseMaps(mapsText), mapsText);
    if (this.faults.length) {
      result.faults = [...this.faults];
      result.equal = false;
    }
    return result;
  }

  /**
   * The model in /proc/PID/maps layout, with a class column between the
   * inode and the name ('-' until a detector classifies the region) unless
   * classColumn is false (then it parses as /proc/PID/maps). Inodes of
   * files mapped while traced are looked up now (the tracer sends the path
   * only).
   */
  toMapsText(opts: { classColumn?: boolean } = {}): string {
    const classColumn = opts.classColumn ?? true;
    const lines: string[] = [];
    const stats = new Map<string, { dev: string; inode: bigint } | null>();
    for (const n of this.#map.nodes()) {
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

  /** Labels the regions overlapping [start, end) (for lib/detect). Splits nothing. */
  setClass(start: bigint, end: bigint, cls: RegionClass | null, cause: Provenance): void {
    for (let n = this.#map.firstEndingAfter(start); n && n.start < end; n = n.next[0]!) {
      if (n.attrs.class !== cls) n.attrs = { ...n.attrs, class: cls };
    }
    this.#emit('class', cause, start, end);
  }

  // ------------------------------------------------------------ updates
  // Each takes the syscall's arguments and result as the kernel saw them
  // and the provenance of the record. Callers pass only successful calls,
  // except where a failure can still have changed mappings (said there).

  /** Empties the model: an exec replaced the address space; its snapshot follows. */
  reset(cause: Provenance): void {
    this.#map.clear();
    this.#bytes = 0n;
    this.#brkEnd = undefined;
    this.#shm = undefined;
    this.seeded = false;
    this.exited = false;
    this.faults.length = 0;
    this.#freedEarly = [];
    this.lastSeq = cause.seq;
    this.#emit('exec', cause, 0n, 0n);
  }

  /**
   * Seeds from a /proc/PID/maps snapshot taken while every thread was
   * stopped. startBrk (from /proc/PID/stat) places the heap when the
   * snapshot shows none yet.
   */
  seed(mapsText: string, cause: Provenance, startBrk?: bigint): void {
    this.#map.clear();
    this.#bytes = 0n;
    this.#brkEnd = undefined;
    const entries = parseMaps(mapsText);
    if (entries.some((e) => kindOfName(e.name) === 'shm')) this.#shm = readShmSegments();
    for (const e of entries) {
      const kind = kindOfName(e.name);
      // A SysV segment's inode number is its shmid (ipc/shm.c newseg).
      const shmid = kind === 'shm' ? Number(e.inode) : -1;
      const attrs: RegionAttrs = {
        prot: e.prot,
        shared: e.shared,
        kind,
        name: e.name,
        dev: e.dev,
        inode: e.inode,
        shmid,
        shmSize: (shmid >= 0 ? this.#shm?.get(shmid)?.size : undefined) ?? -1n,
        // A shared mapping that is writable now may be; a read-only one may
        // be read-only for good (O_RDONLY fd, SHM_RDONLY): unknown.
        mayWrite: !e.shared || e.prot & PROT_WRITE ? true : null,
        dontFork: false,
        origin: cause,
        class: null,
      };
      this.#link(e.start, e.end, kind === 'file' || kind === 'shm' ? e.offset : 0n, attrs);
      if (e.name === '[heap]') this.#brkEnd = e.end;
    }
    this.#brkEnd ??= startBrk;
    this.seeded = true;
    this.lastSeq = cause.seq;
    this.#emit('snapshot', cause, 0n, 0n);
  }

  /** A copy for a forked child: everything but MADV_DONTFORK ranges (the kernel's VM_DONTCOPY). */
  forkCopy(childPid: number, cause: Provenance): AddressSpace {
    const child = new AddressSpace(childPid);
    for (const n of this.#map.nodes()) {
      if (!n.attrs.dontFork) child.#link(n.start, n.end, n.offset, n.attrs);
    }
    child.#brkEnd = this.#brkEnd;
    child.#shm = this.#shm;
    child.seeded = this.seeded;
    child.lastSeq = cause.seq;
    return child;
  }

  /**
   * mmap returned addr: [addr, addr + len rounded up to pages) now holds the
   * new mapping, replacing whatever the model had there (MAP_FIXED does that;
   * for any other mmap an overlap means two threads' stops came out of order).
   * path: the file behind the fd at return, from the tracer. fdWritable:
   * whether that fd was open for writing, when known.
   */
  applyMmap(
    addr: bigint,
    len: bigint,
    prot: number,
    flags: number,
    path: string | undefined,
    offset: bigint,
    cause: Provenance,
    fdWritable?: boolean,
  ): void {
    const shared = (flags & MAP_TYPE) !== MAP_PRIVATE; // MAP_SHARED or MAP_SHARED_VALIDATE
    let kind: RegionAttrs['kind'] = 'anon';
    let name = '';
    let off = 0n;
    let size = this.#pageAlign(len);
    if (flags & MAP_HUGETLB) {
      // hugetlbfs rounds to its page size: MAP_HUGE_SHIFT (26) encodes log2
      // of it, 0 = the default, 2 MiB on x86_64 and on 4K-page aarch64.
      const log2 = (flags >>> 26) & 0x3f;
      const huge = log2 ? 1n << BigInt(log2) : 2n * 1024n * 1024n;
      size = ((len + huge - 1n) / huge) * huge;
      if (flags & MAP_ANONYMOUS) {
        kind = 'file';
        name = '/anon_hugepage (deleted)';
      }
    }
    if (kind === 'anon') {
      if (flags & MAP_ANONYMOUS || path === '/dev/zero') {
        // Shared anonymous memory is a shmem file (shmem_zero_setup); private
        // /dev/zero is plain anonymous memory (mmap_zero).
        if (shared) {
          kind = 'file';
          name = DEV_ZERO_SHARED;
          off = flags & MAP_ANONYMOUS ? 0n : offset;
        }
      } else {
        kind = 'file';
        name = path ?? '';
        off = offset;
      }
    } else if (!(flags & MAP_ANONYMOUS)) {
      name = path ?? '';
      off = offset;
    }
    const attrs: RegionAttrs = {
      prot: prot & PROT_RWX,
      shared,
      kind,
      name,
      dev: '',
      inode: 0n,
      shmid: -1,
      shmSize: -1n,
      // Shared file memory mapped without PROT_WRITE: the fd's mode decides, unseen.
      mayWrite: !shared || kind !== 'file' || name === DEV_ZERO_SHARED || prot & PROT_WRITE ? true : (fdWritable ?? null),
      dontFork: false,
      origin: cause,
      class: null,
    };
    // Without MAP_FIXED (a hint, none, or MAP_FIXED_NOREPLACE) the kernel
    // returns only free memory.
    if (!(flags & MAP_FIXED) || flags & MAP_FIXED_NOREPLACE) this.#claimFree(addr, addr + size, cause);
    this.#carve(addr, addr + size);
    this.#link(addr, addr + size, off, attrs);
    this.#done('mmap', cause, addr, addr + size);
  }

  applyMunmap(addr: bigint, len: bigint, cause: Provenance): void {
    const end = addr + this.#pageAlign(len);
    for (const [lo, hi] of this.#removable(addr, end, cause)) this.#carve(lo, hi);
    this.#done('munmap', cause, addr, end);
  }

  /**
   * mprotect / pkey_mprotect. errno 0 = success. On ENOMEM (a hole in the
   * range) the kernel has already changed every VMA from addr up to the
   * hole (mm/mprotect.c do_mprotect_pkey), so that prefix is applied too.
   */
  applyMprotect(addr: bigint, len: bigint, prot: number, errno: number, cause: Provenance): void {
    if (errno !== 0 && errno !== ENOMEM && errno !== EACCES) return;
    let start = addr;
    let end = addr + this.#pageAlign(len);
    if (prot & PROT_GROWSDOWN) {
      // The change reaches down to the bottom of the grows-down mapping.
      const n = this.#map.find(addr);
      if (n) start = n.start;
    }
    const p = prot & PROT_RWX;
    if (errno === EACCES) {
      // Refused by one VMA (no VM_MAYWRITE / VM_MAYEXEC) after the ones
      // before it were changed: apply up to the first region that refuses.
      let cursor = start;
      for (let n = this.#map.find(start); n && n.start <= cursor && cursor < end; n = n.next[0]!) {
        if (this.#refuses(n.attrs, p)) break;
        cursor = n.end;
      }
      if (cursor < end) end = cursor;
      if (end <= start) return;
    }
    const changed = this.#update(
      start,
      end,
      (a) => (a.prot === p && (a.mayWrite || !(p & PROT_WRITE)) ? a : { ...a, prot: p, mayWrite: a.mayWrite || (p & PROT_WRITE) !== 0 }),
      true,
    );
    this.#done(cause.cause, cause, start, changed);
  }

  /**
   * Whether mprotect(prot) fails on this region with EACCES: writing to a
   * shared mapping without VM_MAYWRITE, or executing a file on a noexec
   * mount. A shared region of unknown write permission counts as refusing:
   * some region in the range did refuse, and that is the likely one.
   */
  #refuses(a: RegionAttrs, prot: number): boolean {
    if (prot & PROT_WRITE && a.shared && a.mayWrite !== true) return true;
    if (prot & PROT_EXEC && a.kind === 'file' && a.name.startsWith('/')) return this.#mount(a.name)?.noexec ?? false;
    return false;
  }

  #mount(path: string): MountFacts | null {
    let m = this.#mounts.get(path);
    if (m === undefined) {
      m = mountOf(this.pid, path) ?? null;
      this.#mounts.set(path, m);
    }
    return m;
  }

  /**
   * A failed mremap that still moved memory. Since Linux 6.17 an mremap with
   * MREMAP_FIXED and old_len == new_len moves the source VMA by VMA
   * (mm/mremap.c remap_move). A VMA that cannot join such a batch (one whose
   * file places its mappings itself, shm_get_unmapped_area: a SysV segment)
   * fails the call with EFAULT after the VMAs before it have moved, or
   * before anything moved if it is the first (measured on 6.18: anonymous,
   * shmem and ext4-file VMAs move in a batch, SysV ones do not).
   */
  applyFailedMremap(oldAddr: bigint, oldLen: bigint, newLen: bigint, flags: number, newAddr: bigint, errno: number, cause: Provenance): void {
    const size = this.#pageAlign(oldLen);
    if (errno !== EFAULT || !(flags & MREMAP_FIXED) || size === 0n || size !== this.#pageAlign(newLen)) return;
    const end = oldAddr + size;
    const first = this.#map.find(oldAddr);
    if (!first) return; // no VMA at the start: refused up front
    let stop: bigint | undefined;
    for (let n: RegionNode | null = first; n && n.start < end; n = n.next[0]!) {
      if (!this.#batchMovable(n.attrs)) {
        stop = n.start > oldAddr ? n.start : oldAddr;
        break;
      }
    }
    if (stop === undefined || stop === oldAddr) return; // failed for a reason we cannot see, or at the first VMA
    this.applyMremap(oldAddr, stop - oldAddr, stop - oldAddr, flags, newAddr, cause);
  }

  #batchMovable(a: RegionAttrs): boolean {
    // Device files with their own get_unmapped_area would refuse too; the
    // tracer does not tell them apart, and programs do not mremap them.
    return a.kind !== 'shm';
  }

  /**
   * mremap that returned newAddr. Covers shrink and grow in place, MAYMOVE
   * and FIXED moves (the destination is replaced), DONTUNMAP (the source
   * stays mapped), and old_len 0 (a second mapping of shared memory).
   */
  applyMremap(oldAddr: bigint, oldLen: bigint, newLen: bigint, flags: number, newAddr: bigint, cause: Provenance): void {
    const oldSize = this.#pageAlign(oldLen);
    const newSize = this.#pageAlign(newLen);
    const from = { start: oldAddr, end: oldAddr + oldSize };
    if (oldSize === 0n) {
      const src = this.#map.find(oldAddr);
      if (src) {
        this.#carve(newAddr, newAddr + newSize);
        this.#link(newAddr, newAddr + newSize, this.#offsetAt(src, oldAddr), { ...src.attrs, origin: cause });
      }
      this.#done('mremap', cause, newAddr, newAddr + newSize, from);
      return;
    }
    if (newAddr === oldAddr) {
      if (newSize < oldSize) {
        for (const [lo, hi] of this.#removable(oldAddr + newSize, oldAddr + oldSize, cause)) this.#carve(lo, hi);
      } else if (newSize > oldSize) {
        // Grown in place: the VMA was extended, so the new pages are more of
        // the same mapping (file offsets continue). Made by this mremap.
        const last = this.#map.find(oldAddr + oldSize - 1n);
        if (last) {
          this.#carve(oldAddr + oldSize, oldAddr + newSize);
          this.#link(oldAddr + oldSize, oldAddr + newSize, this.#offsetAt(last, oldAddr + oldSize), { ...last.attrs, origin: cause });
        }
      }
      this.#done('mremap', cause, oldAddr, oldAddr + (newSize > oldSize ? newSize : oldSize), from);
      return;
    }
    // Moved. The kernel unmaps the destination (MREMAP_FIXED), drops the
    // source's tail when shrinking, then moves the VMA, then extends it.
    const moveSize = newSize < oldSize ? newSize : oldSize;
    if (newSize < oldSize) {
      for (const [lo, hi] of this.#removable(oldAddr + newSize, oldAddr + oldSize, cause)) this.#carve(lo, hi);
    }
    // Without MREMAP_FIXED the kernel picked a free destination.
    if (!(flags & MREMAP_FIXED)) this.#claimFree(newAddr, newAddr + newSize, cause);
    const pieces: { start: bigint; end: bigint; offset: bigint; attrs: RegionAttrs }[] = [];
    if (flags & MREMAP_DONTUNMAP) {
      for (let n = this.#map.firstEndingAfter(oldAddr); n && n.start < oldAddr + moveSize; n = n.next[0]!) {
        const s = n.start > oldAddr ? n.start : oldAddr;
        const e = n.end < oldAddr + moveSize ? n.end : oldAddr + moveSize;
        pieces.push({ start: s, end: e, offset: this.#offsetAt(n, s), attrs: n.attrs });
      }
    } else {
      for (const [lo, hi] of this.#removable(oldAddr, oldAddr + moveSize, cause)) {
        for (const n of this.#carve(lo, hi)) pieces.push(n);
      }
    }
    if (flags & MREMAP_FIXED && oldSize === newSize) {
      // A pure move (Linux ≥ 6.17 remap_move): each VMA of the source moves
      // on its own, replacing only its own destination range; gaps between
      // source VMAs leave the destination's mappings there alone. (Older
      // kernels refuse a source of several VMAs, so this is also right for them.)
      for (const p of pieces) {
        const dst = newAddr + (p.start - oldAddr);
        this.#carve(dst, dst + (p.end - p.start));
        this.#link(dst, dst + (p.end - p.start), p.offset, p.attrs);
      }
      this.#done('mremap', cause, newAddr, newAddr + newSize, from);
      return;
    }
    this.#carve(newAddr, newAddr + newSize);
    for (const p of pieces) {
      this.#link(newAddr + (p.start - oldAddr), newAddr + (p.end - oldAddr), p.offset, p.attrs);
    }
    const last = pieces[pieces.length - 1];
    if (newSize > oldSize && last) {
      const ext = newAddr + oldSize;
      const off = hasOffset(last.attrs) ? last.offset + (last.end - last.start) : 0n;
      this.#link(ext, newAddr + newSize, off, { ...last.attrs, origin: cause });
    }
    this.#done('mremap', cause, newAddr, newAddr + newSize, from);
  }

  /**
   * brk returned ret: the new break on success, the old one on failure (so a
   * failure changes nothing here). The heap is [start_brk, PAGE_ALIGN(brk));
   * the first brk seen only tells where the break is, unless a snapshot did.
   */
  applyBrk(ret: bigint, cause: Provenance): void {
    const end = this.#pageAlign(ret);
    const old = this.#brkEnd;
    this.#brkEnd = end;
    if (old === undefined || end === old) {
      this.lastSeq = cause.seq;
      return;
    }
    if (end > old) {
      // One heap region from the first brk on: the kernel extends the heap
      // VMA (do_brk_flags), so growth extends the brk-made region.
      const prev = this.#map.find(old - 1n);
      this.#claimFree(old, end, cause);
      this.#carve(old, end);
      if (
        prev &&
        prev.end === old &&
        prev.attrs.origin.cause === 'brk' &&
        prev.attrs.name === '[heap]' &&
        prev.attrs.prot === (PROT_READ | PROT_WRITE)
      ) {
        prev.end = end;
        this.#bytes += end - old;
      } else {
        this.#link(old, end, 0n, {
          prot: PROT_READ | PROT_WRITE,
          shared: false,
          kind: 'anon',
          name: '[heap]',
          dev: '',
          inode: 0n,
          shmid: -1,
          shmSize: -1n,
          mayWrite: true,
          dontFork: false,
          origin: cause,
          class: null,
        });
      }
      this.#done('brk', cause, old, end);
    } else {
      for (const [lo, hi] of this.#removable(end, old, cause)) this.#carve(lo, hi);
      this.#done('brk', cause, end, old);
    }
  }

  /**
   * shmat returned addr. The segment (size, key) comes from
   * /proc/sysvipc/shm: the caller looks it up. Unknown (the segment was
   * already destroyed when the record was read): one page is recorded, and
   * verify() will show the rest as a difference.
   */
  applyShmat(addr: bigint, shmid: number, shmflg: number, segment: ShmSegment | undefined, cause: Provenance): void {
    const size = segment ? this.#pageAlign(segment.size) : this.#page;
    const prot = (shmflg & SHM_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE) | (shmflg & SHM_EXEC ? PROT_EXEC : 0);
    const key = segment ? segment.key.toString(16).padStart(8, '0') : '00000000';
    if (!(shmflg & SHM_REMAP)) this.#claimFree(addr, addr + size, cause);
    this.#carve(addr, addr + size);
    this.#link(addr, addr + size, 0n, {
      prot,
      shared: true,
      kind: 'shm',
      name: `/SYSV${key} (deleted)`,
      dev: '',
      inode: BigInt(shmid),
      shmid,
      shmSize: segment ? segment.size : -1n,
      mayWrite: !(shmflg & SHM_RDONLY),
      dontFork: false,
      origin: cause,
      class: null,
    });
    this.#done('shmat', cause, addr, addr + size);
  }

  /**
   * shmdt(addr) succeeded. As ipc/shm.c ksys_shmdt: the first piece of a
   * segment at or above addr whose offset equals its distance from addr
   * names the segment; then every piece of that segment, at that distance,
   * ending within the segment's size from addr goes.
   */
  applyShmdt(addr: bigint, cause: Provenance): void {
    let n = this.#map.firstEndingAfter(addr);
    let shmid = -1;
    let size = -1n;
    for (; n; n = n.next[0]!) {
      if (n.attrs.kind === 'shm' && n.start >= addr && n.start - addr === n.offset) {
        shmid = n.attrs.shmid;
        size = n.attrs.shmSize >= 0n ? n.attrs.shmSize : (this.#shmSize(shmid) ?? -1n);
        break;
      }
    }
    if (!n) return;
    const limit = size >= 0n ? this.#pageAlign(size) : undefined;
    // Pieces another thread's later-reported call found free are gone already.
    const allowed = this.#removable(addr, limit !== undefined ? addr + limit : this.#lastEnd(), cause);
    const inAllowed = (x: RegionNode) => allowed.some(([lo, hi]) => x.start >= lo && x.end <= hi);
    let last = n.end;
    while (n) {
      const next: RegionNode | null = n.next[0]!;
      if (limit !== undefined && n.end - addr > limit) break;
      if (n.attrs.kind === 'shm' && n.attrs.shmid === shmid && n.start - addr === n.offset) {
        last = n.end;
        if (inAllowed(n)) this.#unlink(n);
      } else if (limit === undefined) {
        // Size unknown: stop at the first piece of anything else.
        break;
      }
      n = next;
    }
    this.#done('shmdt', cause, addr, last);
  }

  /**
   * remap_file_pages(start, size, prot, pgoff) succeeded: since Linux 4.0 it
   * is an mmap(MAP_SHARED|MAP_FIXED) of the same file over [start, start +
   * size) at page offset pgoff, with the VMA's protections. Bounds are
   * rounded down.
   */
  applyRemapFilePages(start: bigint, size: bigint, pgoff: bigint, cause: Provenance): void {
    const lo = start - (start % this.#page);
    const hi = lo + (size - (size % this.#page));
    const src = this.#map.find(lo);
    if (!src || hi <= lo) return;
    const attrs = { ...src.attrs, origin: cause };
    this.#carve(lo, hi);
    this.#link(lo, hi, pgoff * this.#page, attrs);
    this.#done('remap_file_pages', cause, lo, hi);
  }

  /**
   * madvise: only MADV_DONTFORK / MADV_DOFORK matter (they decide what a fork
   * copies); the rest never changes what maps shows. The kernel applies
   * advice to the mapped parts even when it returns ENOMEM for holes.
   */
  applyMadvise(addr: bigint, len: bigint, advice: number, errno: number, cause: Provenance): void {
    if (advice !== MADV_DONTFORK && advice !== MADV_DOFORK) return;
    if (errno !== 0 && errno !== ENOMEM) return;
    const v = advice === MADV_DONTFORK;
    const end = addr + this.#pageAlign(len);
    this.#update(addr, end, (a) => (a.dontFork === v ? a : { ...a, dontFork: v }), false);
    this.#done('madvise', cause, addr, end);
  }

  /** prctl(PR_SET_VMA_ANON_NAME): anonymous regions in range get "[anon:name]" (no name: unnamed again). */
  applyAnonName(addr: bigint, len: bigint, name: string | null, cause: Provenance): void {
    const end = addr + this.#pageAlign(len);
    this.#update(
      addr,
      end,
      (a) => {
        // The kernel names only anonymous VMAs; [heap] and [stack] keep their names in maps.
        if (a.kind !== 'anon' || a.name === '[heap]') return a;
        const n = name === null || name === '' ? '' : `[anon:${name}]`;
        return a.name === n ? a : { ...a, name: n };
      },
      false,
    );
    this.#done('prctl', cause, addr, end);
  }

  // ------------------------------------------------------------ internals

  /**
   * A syscall that the kernel lets use only free memory (mmap without
   * MAP_FIXED, mremap without MREMAP_FIXED, shmat without SHM_REMAP, brk
   * growth) got [lo, hi). If the model still has memory there, another
   * thread freed it first (munmap, mremap, shmdt, brk) and the tracer has
   * not reported that call yet: records come in the order the tracer saw
   * the syscalls return, which for two threads can differ from the order the
   * kernel applied them (glibc's arena set-up races like this, ground-truth
   * §2). The range is remembered so that the late removal leaves the new
   * mapping alone; see #removable.
   */
  #claimFree(lo: bigint, hi: bigint, cause: Provenance): void {
    for (let n = this.#map.firstEndingAfter(lo); n && n.start < hi; n = n.next[0]!) {
      this.#freedEarly.push({ start: n.start > lo ? n.start : lo, end: n.end < hi ? n.end : hi, time: cause.time, tid: cause.tid });
    }
    // Stale entries are harmless (see #removable's time test); keep the list short.
    if (this.#freedEarly.length > 256) this.#freedEarly.splice(0, this.#freedEarly.length - 256);
  }

  /**
   * The parts of [lo, hi) a removal may take out: not those another thread
   * found free while this call was under way (it entered before that
   * thread's call returned, so it may be the call that freed them). Those
   * parts are consumed.
   */
  #removable(lo: bigint, hi: bigint, cause: Provenance): [bigint, bigint][] {
    if (this.#freedEarly.length === 0 || cause.entered === undefined) return [[lo, hi]];
    let ranges: [bigint, bigint][] = [[lo, hi]];
    const keep: FreedRange[] = [];
    for (const t of this.#freedEarly) {
      if (t.tid === cause.tid || cause.entered >= t.time || t.end <= lo || t.start >= hi) {
        keep.push(t);
        continue;
      }
      ranges = ranges.flatMap(([a, b]): [bigint, bigint][] => {
        if (t.end <= a || t.start >= b) return [[a, b]];
        const out: [bigint, bigint][] = [];
        if (t.start > a) out.push([a, t.start]);
        if (t.end < b) out.push([t.end, b]);
        return out;
      });
      if (t.start < lo) keep.push({ ...t, end: lo });
      if (t.end > hi) keep.push({ ...t, start: hi });
    }
    this.#freedEarly = keep;
    return ranges;
  }

  #lastEnd(): bigint {
    let end = 0n;
    for (let n = this.#map.first(); n; n = n.next[0]!) end = n.end;
    return end;
  }

  #pageAlign(len: bigint): bigint {
    const rem = len % this.#page;
    return rem === 0n ? len : len + (this.#page - rem);
  }

  #offsetAt(n: RegionNode, addr: bigint): bigint {
    return hasOffset(n.attrs) ? n.offset + (addr - n.start) : 0n;
  }

  #link(start: bigint, end: bigint, offset: bigint, attrs: RegionAttrs): RegionNode {
    if (!isGate(attrs.name)) this.#bytes += end - start;
    return this.#map.insert(start, end, offset, attrs);
  }

  #unlink(n: RegionNode): void {
    if (!isGate(n.attrs.name)) this.#bytes -= n.end - n.start;
    this.#map.remove(n);
  }

  /** Splits n at addr (n.start < addr < n.end): n keeps the low part; returns the high part. */
  #splitAt(n: RegionNode, addr: bigint): RegionNode {
    const right = this.#map.insert(addr, n.end, this.#offsetAt(n, addr), n.attrs);
    n.end = addr;
    return right;
  }

  /** Unmaps [lo, hi) in the model; returns the pieces taken out, in order. */
  #carve(lo: bigint, hi: bigint): RegionNode[] {
    const removed: RegionNode[] = [];
    let n = this.#map.firstEndingAfter(lo);
    if (n && n.start < lo) n = this.#splitAt(n, lo);
    while (n && n.start < hi) {
      if (n.end > hi) this.#splitAt(n, hi);
      const next: RegionNode | null = n.next[0]!;
      this.#unlink(n);
      removed.push(n);
      n = next;
    }
    return removed;
  }

  /**
   * Applies change to the mapped parts of [lo, hi), splitting at the ends.
   * stopAtHole: stop at the first unmapped page (mprotect's behaviour).
   * Returns where the change stopped. Neighbours that became alike are merged.
   */
  #update(lo: bigint, hi: bigint, change: (a: RegionAttrs) => RegionAttrs, stopAtHole: boolean): bigint {
    let n = this.#map.firstEndingAfter(lo);
    let cursor = lo;
    if (stopAtHole && (!n || n.start > lo)) return lo;
    if (n && n.start < lo) n = this.#splitAt(n, lo);
    // Pieces of one mapping share one attrs object; keep them sharing one after the change.
    let lastIn: RegionAttrs | undefined;
    let lastOut: RegionAttrs | undefined;
    while (n && n.start < hi) {
      if (stopAtHole && n.start !== cursor) break;
      if (n.end > hi) this.#splitAt(n, hi);
      if (n.attrs !== lastIn) {
        lastIn = n.attrs;
        lastOut = change(n.attrs);
      }
      n.attrs = lastOut!;
      cursor = n.end;
      n = n.next[0]!;
    }
    this.#mergeAround(lo, cursor > lo ? cursor : hi);
    return cursor;
  }

  /** Merges alike neighbours from the region before lo to the region after hi: same mapping, same origin, contiguous. */
  #mergeAround(lo: bigint, hi: bigint): void {
    let n = lo > 0n ? this.#map.floor(lo - 1n) : null;
    n ??= this.#map.first();
    while (n) {
      const next: RegionNode | null = n.next[0]!;
      if (!next || n.start > hi) break;
      if (
        n.end === next.start &&
        attrsEqual(n.attrs, next.attrs) &&
        (!hasOffset(n.attrs) || next.offset === n.offset + (n.end - n.start))
      ) {
        n.end = next.end;
        this.#map.remove(next);
      } else {
        n = next;
      }
    }
  }

  #shmSize(shmid: number): bigint | undefined {
    const known = this.#shm?.get(shmid);
    if (known) return known.size;
    this.#shm = readShmSegments();
    return this.#shm.get(shmid)?.size;
  }

  #done(what: string, cause: Provenance, start: bigint, end: bigint, from?: ModelChange['from']): void {
    this.lastSeq = cause.seq;
    this.#emit(what, cause, start, end, from);
  }

  #emit(what: string, cause: Provenance, start: bigint, end: bigint, from?: ModelChange['from']): void {
    // No listener, no object: the model runs for every record of every batch.
    if (this.listenerCount('change') === 0) return;
    const change: ModelChange = { cause: what, seq: cause.seq, tid: cause.tid, time: cause.time, start, end, ...(from ? { from } : {}) };
    this.emit('change', change);
  }
}

function toRegion(n: RegionNode): Region {
  return { ...n.attrs, start: n.start, end: n.end, offset: n.offset, perms: permsOf(n.attrs.prot, n.attrs.shared) };
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

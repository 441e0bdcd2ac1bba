// One address space (one mm: the threads of a process, and a vfork child
// until it execs) as an interval map of regions, updated by the memory
// syscalls the tracer reports. Every update applies what the kernel did, from
// the *returned* values (glibc's mmap hint is not where the memory goes:
// docs/go-glibc-musl.md), and costs O(log n) per region it touches.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { LiveprobeError } from '../errors';
import {
  EACCES, ENOMEM, MADV_DOFORK, MADV_DONTFORK, MAP_FIXED, MAP_FIXED_NOREPLACE, PROT_EXEC, PROT_GROWSDOWN, PROT_RW, PROT_RWX, PROT_WRITE,
} from '../syscalls/abi';
import type { MmapCall } from '../syscalls/calls';
import { DEV_ZERO_SHARED, mappingOf } from './mmap';
import { applyFailedMremap, applyMremap } from './mremap';
import { pageSize } from './page';
import { type MountFacts, type ShmSegment, mountOf, readShmSegments } from './proc';
import { mapsText } from './maps-text';
import { type Provenance, type Region, type RegionAttrs, type RegionClass, kindOfName, parseMaps } from './region';
import { RegionStore, toRegion } from './region-store';
import { applyShmat, applyShmdt } from './shm';
import { type Difference, type VerifyResult, compareWithMaps } from './verify';

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

  readonly #s = new RegionStore(pageSize());
  /** Page-aligned end of the brk heap (= PAGE_ALIGN(mm->brk)); undefined until known. */
  #brkEnd: bigint | undefined;
  /** Mount facts of mapped files, by path: looked up only when a failed mprotect needs them. */
  readonly #mounts = new Map<string, MountFacts | null>();
  /** Segment sizes learnt at seed time, for shmdt of segments attached before tracing. */
  #shm: Map<number, ShmSegment> | undefined;

  constructor(pid: number) {
    super();
    this.pid = pid;
  }

  // ------------------------------------------------------------ queries

  /** VmSize in bytes: every region but the [vsyscall] gate page. */
  get size(): bigint {
    return this.#s.bytes;
  }

  /** Number of regions the model holds (pieces made by different syscalls stay apart: often more than the kernel's VMAs). */
  get count(): number {
    return this.#s.map.count;
  }

  /** PAGE_ALIGN of the program break, once a snapshot or a brk call told it. */
  get brk(): bigint | undefined {
    return this.#brkEnd;
  }

  /** The region containing addr. */
  find(addr: bigint): Region | undefined {
    const n = this.#s.map.find(addr);
    return n ? toRegion(n) : undefined;
  }

  /** Every region, in address order. */
  regions(): Region[] {
    const out: Region[] = [];
    for (const n of this.#s.map.nodes()) out.push(toRegion(n));
    return out;
  }

  /** Regions overlapping [start, end), whole (not clipped). */
  regionsIn(start: bigint, end: bigint): Region[] {
    const out: Region[] = [];
    for (let n = this.#s.map.firstEndingAfter(start); n && n.start < end; n = n.next[0]!) out.push(toRegion(n));
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
    return mapsText(this.#s.map.nodes(), opts.classColumn ?? true);
  }

  /** Labels the regions overlapping [start, end) (for lib/detect). Splits nothing. */
  setClass(start: bigint, end: bigint, cls: RegionClass | null, cause: Provenance): void {
    for (let n = this.#s.map.firstEndingAfter(start); n && n.start < end; n = n.next[0]!) {
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
    this.#s.clear();
    this.#brkEnd = undefined;
    this.#shm = undefined;
    this.seeded = false;
    this.exited = false;
    this.faults.length = 0;
    this.lastSeq = cause.seq;
    this.#emit('exec', cause, 0n, 0n);
  }

  /**
   * Seeds from a /proc/PID/maps snapshot taken while every thread was
   * stopped. startBrk (from /proc/PID/stat) places the heap when the
   * snapshot shows none yet.
   */
  seed(mapsText: string, cause: Provenance, startBrk?: bigint): void {
    this.#s.map.clear();
    this.#s.bytes = 0n;
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
        changed: cause,
        class: null,
      };
      this.#s.link(e.start, e.end, kind === 'file' || kind === 'shm' ? e.offset : 0n, attrs);
      if (e.name === '[heap]') this.#brkEnd = e.end;
    }
    this.#brkEnd ??= startBrk;
    this.seeded = true;
    this.lastSeq = cause.seq;
    this.#emit('snapshot', cause, 0n, 0n);
  }

  /** Re-seeds after lost records (the perf engine's resync), keeping what did not change (RegionStore.keepingAttrs); how the model differed. */
  resync(mapsText: string, cause: Provenance, startBrk?: bigint): Difference[] {
    const differences = compareWithMaps(this.regions(), parseMaps(mapsText), mapsText).differences;
    this.faults.length = 0;
    this.#s.keepingAttrs(() => this.seed(mapsText, cause, startBrk));
    return differences;
  }

  /**
   * A copy for a forked child: everything but MADV_DONTFORK ranges (the
   * kernel's VM_DONTCOPY). Regions keep their origin, but not `made` and
   * `within`: no call of the child's made them, so the detectors prove
   * nothing in the child from its parent's calls.
   */
  forkCopy(childPid: number, cause: Provenance): AddressSpace {
    const child = new AddressSpace(childPid);
    const copies = new Map<RegionAttrs, RegionAttrs>();
    for (const n of this.#s.map.nodes()) {
      if (n.attrs.dontFork) continue;
      let attrs = copies.get(n.attrs);
      if (!attrs) copies.set(n.attrs, (attrs = n.attrs.made || n.attrs.within ? { ...n.attrs, made: undefined, within: undefined } : n.attrs));
      child.#s.link(n.start, n.end, n.offset, attrs);
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
    made?: MmapCall,
  ): void {
    const { shared, kind, name, offset: off, size } = mappingOf(len, flags, path, offset, this.#s.pageAlign(len));
    // Without MAP_FIXED (a hint, none, or MAP_FIXED_NOREPLACE) the kernel
    // returns only free memory. With it, the new mapping may be placed into
    // another (Go commits its heap inside PROT_NONE reservations): its
    // provenance says which, for the detectors.
    let within: Provenance | undefined;
    if (!(flags & MAP_FIXED) || flags & MAP_FIXED_NOREPLACE) {
      this.#s.claimFree(addr, addr + size, cause);
    } else {
      const under = this.#s.map.find(addr)?.attrs;
      if (under) within = under.within ?? under.origin;
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
      made,
      within,
      changed: cause,
      class: null,
    };
    this.#s.carve(addr, addr + size);
    this.#s.link(addr, addr + size, off, attrs);
    this.#done('mmap', cause, addr, addr + size);
  }

  applyMunmap(addr: bigint, len: bigint, cause: Provenance): void {
    const end = addr + this.#s.pageAlign(len);
    for (const [lo, hi] of this.#s.removable(addr, end, cause)) this.#s.carve(lo, hi);
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
    let end = addr + this.#s.pageAlign(len);
    if (prot & PROT_GROWSDOWN) {
      // The change reaches down to the bottom of the grows-down mapping.
      const n = this.#s.map.find(addr);
      if (n) start = n.start;
    }
    const p = prot & PROT_RWX;
    if (errno === EACCES) {
      // Refused by one VMA (no VM_MAYWRITE / VM_MAYEXEC) after the ones
      // before it were changed: apply up to the first region that refuses.
      let cursor = start;
      for (let n = this.#s.map.find(start); n && n.start <= cursor && cursor < end; n = n.next[0]!) {
        if (this.#refuses(n.attrs, p)) break;
        cursor = n.end;
      }
      if (cursor < end) end = cursor;
      if (end <= start) return;
    }
    const changed = this.#s.update(
      start,
      end,
      (a) => (a.prot === p && (a.mayWrite || !(p & PROT_WRITE)) ? a : { ...a, prot: p, mayWrite: a.mayWrite || (p & PROT_WRITE) !== 0, changed: cause }),
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

  /** A failed mremap that may still have moved memory (mremap.ts applyFailedMremap). */
  applyFailedMremap(oldAddr: bigint, oldLen: bigint, newLen: bigint, flags: number, newAddr: bigint, errno: number, cause: Provenance): void {
    const c = applyFailedMremap(this.#s, oldAddr, oldLen, newLen, flags, newAddr, errno, cause);
    if (c) this.#done('mremap', cause, c.start, c.end, c.from);
  }

  /** mremap that returned newAddr (mremap.ts applyMremap). */
  applyMremap(oldAddr: bigint, oldLen: bigint, newLen: bigint, flags: number, newAddr: bigint, cause: Provenance): void {
    const c = applyMremap(this.#s, oldAddr, oldLen, newLen, flags, newAddr, cause);
    this.#done('mremap', cause, c.start, c.end, c.from);
  }

  /**
   * brk returned ret: the new break on success, the old one on failure (so a
   * failure changes nothing here). The heap is [start_brk, PAGE_ALIGN(brk));
   * the first brk seen only tells where the break is, unless a snapshot did.
   */
  applyBrk(ret: bigint, cause: Provenance): void {
    const end = this.#s.pageAlign(ret);
    const old = this.#brkEnd;
    this.#brkEnd = end;
    if (old === undefined || end === old) {
      this.lastSeq = cause.seq;
      return;
    }
    if (end > old) {
      // One heap region from the first brk on: the kernel extends the heap
      // VMA (do_brk_flags), so growth extends the brk-made region.
      const prev = this.#s.map.find(old - 1n);
      this.#s.claimFree(old, end, cause);
      this.#s.carve(old, end);
      if (
        prev &&
        prev.end === old &&
        prev.attrs.origin.cause === 'brk' &&
        prev.attrs.name === '[heap]' &&
        prev.attrs.prot === PROT_RW
      ) {
        prev.end = end;
        this.#s.bytes += end - old;
      } else {
        this.#s.link(old, end, 0n, {
          prot: PROT_RW,
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
          changed: cause,
          class: null,
        });
      }
      this.#done('brk', cause, old, end);
    } else {
      for (const [lo, hi] of this.#s.removable(end, old, cause)) this.#s.carve(lo, hi);
      this.#done('brk', cause, end, old);
    }
  }

  /** shmat returned addr; the segment as /proc/sysvipc/shm lists it, if still there (shm.ts). */
  applyShmat(addr: bigint, shmid: number, shmflg: number, segment: ShmSegment | undefined, cause: Provenance): void {
    const c = applyShmat(this.#s, addr, shmid, shmflg, segment, cause);
    this.#done('shmat', cause, c.start, c.end);
  }

  /** shmdt(addr) succeeded (shm.ts). */
  applyShmdt(addr: bigint, cause: Provenance): void {
    const c = applyShmdt(this.#s, addr, cause, (id) => this.#shmSize(id));
    if (c) this.#done('shmdt', cause, c.start, c.end);
  }

  #shmSize(shmid: number): bigint | undefined {
    const known = this.#shm?.get(shmid);
    if (known) return known.size;
    this.#shm = readShmSegments();
    return this.#shm.get(shmid)?.size;
  }

  /**
   * remap_file_pages(start, size, prot, pgoff) succeeded: since Linux 4.0 it
   * is an mmap(MAP_SHARED|MAP_FIXED) of the same file over [start, start +
   * size) at page offset pgoff, with the VMA's protections. Bounds are
   * rounded down.
   */
  applyRemapFilePages(start: bigint, size: bigint, pgoff: bigint, cause: Provenance): void {
    const lo = start - (start % this.#s.page);
    const hi = lo + (size - (size % this.#s.page));
    const src = this.#s.map.find(lo);
    if (!src || hi <= lo) return;
    const attrs = { ...src.attrs, origin: cause, made: undefined, within: undefined, changed: cause };
    this.#s.carve(lo, hi);
    this.#s.link(lo, hi, pgoff * this.#s.page, attrs);
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
    const end = addr + this.#s.pageAlign(len);
    this.#s.update(addr, end, (a) => (a.dontFork === v ? a : { ...a, dontFork: v, changed: cause }), false);
    this.#done('madvise', cause, addr, end);
  }

  /** prctl(PR_SET_VMA_ANON_NAME): anonymous regions in range get "[anon:name]" (no name: unnamed again). */
  applyAnonName(addr: bigint, len: bigint, name: string | null, cause: Provenance): void {
    const end = addr + this.#s.pageAlign(len);
    this.#s.update(
      addr,
      end,
      (a) => {
        // The kernel names only anonymous VMAs; [heap] and [stack] keep their names in maps.
        if (a.kind !== 'anon' || a.name === '[heap]') return a;
        const n = name === null || name === '' ? '' : `[anon:${name}]`;
        return a.name === n ? a : { ...a, name: n, changed: cause };
      },
      false,
    );
    this.#done('prctl', cause, addr, end);
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

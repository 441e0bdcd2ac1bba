// The Linux ABI numbers that code outside the decoders reasons with (the
// model, the detectors, the explanation), each taken from the one table that
// also prints it (lib/syscalls/decode/flags.ts, lib/syscalls/errno-table.ts),
// so a value is written once in the repository. test/abi.test.ts checks every
// export against its table entry. x86_64 and aarch64 share all of them.
//
// Numbers for 32-bit flag words (prot, mmap/mremap/shmat flags, advice) so
// the model can use `&`; bigints for clone flags, which clone3 widens past
// 32 bits (CLONE_INTO_CGROUP is 1 << 33).
import { CLONE, CLONE3, CSIGNAL, MADV, MAP_FLAGS, MAP_HUGE_SHIFT as HUGE_SHIFT, MAP_TYPE as MAP_TYPES, MAP_TYPE_MASK, MREMAP, PRCTL, PROT, PR_SET_VMA as PR_SET_VMA_ATTRS, SHMAT } from './decode/flags';
import { valueOf } from './decode/format';
import { errnoNumber } from './errno';

const num = (table: Parameters<typeof valueOf>[0], name: string): number => Number(valueOf(table, name));

export const PROT_NONE = num(PROT, 'PROT_NONE');
export const PROT_READ = num(PROT, 'PROT_READ');
export const PROT_WRITE = num(PROT, 'PROT_WRITE');
export const PROT_EXEC = num(PROT, 'PROT_EXEC');
/** The three bits /proc/PID/maps shows; PROT_SEM and the rest leave no trace there. */
export const PROT_RWX = PROT_READ | PROT_WRITE | PROT_EXEC;
/** What malloc arenas, Go's heap commits and thread stacks are made: read and write. */
export const PROT_RW = PROT_READ | PROT_WRITE;
/** mprotect: extend the change down to the start of a grows-down mapping. */
export const PROT_GROWSDOWN = num(PROT, 'PROT_GROWSDOWN');

/** The sharing type is a value in the low bits (MAP_SHARED_VALIDATE = 3 contains MAP_SHARED's bit). */
export const MAP_TYPE = Number(MAP_TYPE_MASK);
export const MAP_SHARED = num(MAP_TYPES, 'MAP_SHARED');
export const MAP_PRIVATE = num(MAP_TYPES, 'MAP_PRIVATE');
export const MAP_FIXED = num(MAP_FLAGS, 'MAP_FIXED');
export const MAP_ANONYMOUS = num(MAP_FLAGS, 'MAP_ANONYMOUS');
export const MAP_NORESERVE = num(MAP_FLAGS, 'MAP_NORESERVE');
export const MAP_STACK = num(MAP_FLAGS, 'MAP_STACK');
export const MAP_HUGETLB = num(MAP_FLAGS, 'MAP_HUGETLB');
export const MAP_FIXED_NOREPLACE = num(MAP_FLAGS, 'MAP_FIXED_NOREPLACE');
/** log2 of a MAP_HUGETLB page size sits at this shift (0: the default size). */
export const MAP_HUGE_SHIFT = Number(HUGE_SHIFT);

export const MREMAP_MAYMOVE = num(MREMAP, 'MREMAP_MAYMOVE');
export const MREMAP_FIXED = num(MREMAP, 'MREMAP_FIXED');
export const MREMAP_DONTUNMAP = num(MREMAP, 'MREMAP_DONTUNMAP');

export const SHM_RDONLY = num(SHMAT, 'SHM_RDONLY');
export const SHM_REMAP = num(SHMAT, 'SHM_REMAP');
export const SHM_EXEC = num(SHMAT, 'SHM_EXEC');

/** madvise advice that changes what fork copies (VM_DONTCOPY). */
export const MADV_DONTFORK = num(MADV, 'MADV_DONTFORK');
export const MADV_DOFORK = num(MADV, 'MADV_DOFORK');

const clone = (name: string): bigint => valueOf(CLONE, name);
export const CLONE_VM = clone('CLONE_VM');
export const CLONE_FS = clone('CLONE_FS');
export const CLONE_FILES = clone('CLONE_FILES');
export const CLONE_SIGHAND = clone('CLONE_SIGHAND');
export const CLONE_VFORK = clone('CLONE_VFORK');
export const CLONE_THREAD = clone('CLONE_THREAD');
export const CLONE_SYSVSEM = clone('CLONE_SYSVSEM');
export const CLONE_SETTLS = clone('CLONE_SETTLS');
export const CLONE_PARENT_SETTID = clone('CLONE_PARENT_SETTID');
export const CLONE_CHILD_CLEARTID = clone('CLONE_CHILD_CLEARTID');
/** clone's low byte is the exit signal, not a flag (clone3 has a field for it). */
export const CLONE_EXIT_SIGNAL_MASK = CSIGNAL;
/** Every flag clone3 knows, for masking what a struct clone_args may carry. */
export const CLONE3_KNOWN = CLONE3.entries.reduce((m, [, v]) => m | v, 0n);

/** prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): names anonymous memory "[anon:name]". */
export const PR_SET_VMA = num(PRCTL, 'PR_SET_VMA');
export const PR_SET_VMA_ANON_NAME = num(PR_SET_VMA_ATTRS, 'PR_SET_VMA_ANON_NAME');

/** Errnos whose failures still changed the address space (partial mprotect/madvise/mremap). */
export const ENOMEM = errnoNumber('ENOMEM');
export const EACCES = errnoNumber('EACCES');
export const EFAULT = errnoNumber('EFAULT');
/** What the session tells apart when the tracer could not start. */
export const EPERM = errnoNumber('EPERM');
export const ESRCH = errnoNumber('ESRCH');
export const ENOENT = errnoNumber('ENOENT');
export const EBUSY = errnoNumber('EBUSY');
/** task->flags bit of a kernel thread (include/linux/sched.h), field 9 of /proc/PID/stat. */
export const PF_KTHREAD = 0x00200000;

/**
 * The kernel's MAX_ERRNO (include/linux/err.h): a return value in
 * [-MAX_ERRNO, -1] is an error, anything else a result (an mmap address above
 * 2^63 reads as negative but is not an error). native/src/tracer.cc has the
 * same number; test/wire.test.ts checks the two agree.
 */
export const MAX_ERRNO = 4095;
const MAX_ERRNO_BIG = BigInt(MAX_ERRNO);

/** Whether a returned value is an error (IS_ERR_VALUE). A call that never returned (null) is not an error: it is unknown. */
export function isErrorReturn(ret: bigint): boolean {
  return ret < 0n && ret >= -MAX_ERRNO_BIG;
}

/** The errno of an error return, 0 for a result. */
export function errnoOf(ret: bigint): number {
  return isErrorReturn(ret) ? Number(-ret) : 0;
}

/** A returned address as the unsigned 64-bit value it is. */
export function unsignedReturn(ret: bigint): bigint {
  return BigInt.asUintN(64, ret);
}

/** auxv tag of the page size (linux/auxvec.h); the only auxv entry liveprobe reads. */
export const AT_PAGESZ = 6;
/** auxv: the clock tick (sysconf(_SC_CLK_TCK)), the unit of /proc/PID/stat's CPU times. */
export const AT_CLKTCK = 17;

/** The kernel's ANON_VMA_NAME_MAX_LEN: the longest anonymous-mapping name with its NUL. */
export const ANON_VMA_NAME_MAX = 80;

// Linux ABI constants the address-space model needs to read raw syscall
// registers. Values are the kernel's UAPI (include/uapi/asm-generic/mman*.h,
// linux/mman.h, linux/shm.h, linux/sched.h, linux/prctl.h); x86_64 and
// aarch64 use the same values for every one of them. Kept in one module so
// lib/syscalls can share them later instead of repeating them.

/** mmap/mprotect prot bits. */
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
/** The three bits /proc/PID/maps shows; PROT_SEM and the rest leave no trace there. */
export const PROT_RWX = PROT_READ | PROT_WRITE | PROT_EXEC;
/** mprotect: extend the change down to the start of a grows-down mapping. */
export const PROT_GROWSDOWN = 0x01000000;

/** mmap flags. MAP_SHARED_VALIDATE (3) contains MAP_SHARED's bit. */
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_HUGETLB = 0x40000;
export const MAP_FIXED_NOREPLACE = 0x100000;

/** mremap flags. */
export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

/** shmat flags. */
export const SHM_RDONLY = 0o10000;
export const SHM_REMAP = 0o40000;
export const SHM_EXEC = 0o100000;

/** madvise advice that changes what fork copies (VM_DONTCOPY). */
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;

/** clone flags that decide whether a new task shares the address space. */
export const CLONE_VM = 0x100;
export const CLONE_VFORK = 0x4000;
export const CLONE_THREAD = 0x10000;

/** prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): names anonymous memory "[anon:name]". */
export const PR_SET_VMA = 0x53564d41;
export const PR_SET_VMA_ANON_NAME = 0;
/** The kernel's limit on an anon VMA name, NUL included (ANON_VMA_NAME_MAX_LEN). */
export const ANON_VMA_NAME_MAX = 80;

/** Errno values whose failures still changed the address space (partial mprotect/madvise). */
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;

/** Return values in [-4095, -1] are errors (the kernel's IS_ERR_VALUE). */
export const MAX_ERRNO = 4095n;

/** auxv tag of the page size. */
export const AT_PAGESZ = 6;

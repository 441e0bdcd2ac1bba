// Flag and value tables, one per concept, in strace 6.1's order (the order
// decides how a flag set is printed). Values are the kernel's UAPI numbers
// (x86_64 and arm64 agree on all of these). A table lists exactly what
// strace 6.1 knows, so a line of ours and a line of strace's for the same
// call are identical; newer kernel names show as unknown bits, as in strace.

import { type Xlat, xlat } from './format';

/** mmap/mprotect/pkey_mprotect prot (asm-generic/mman-common.h). */
export const PROT = xlat('PROT_???', [
  ['PROT_NONE', 0x0n],
  ['PROT_READ', 0x1n],
  ['PROT_WRITE', 0x2n],
  ['PROT_EXEC', 0x4n],
  ['PROT_SEM', 0x8n],
  ['PROT_GROWSDOWN', 0x01000000n],
  ['PROT_GROWSUP', 0x02000000n],
]);

/** The sharing type, mmap flags & MAP_TYPE: printed first, as a value. */
export const MAP_TYPE = xlat('MAP_???', [
  ['MAP_FILE', 0x0n],
  ['MAP_SHARED', 0x1n],
  ['MAP_PRIVATE', 0x2n],
  ['MAP_SHARED_VALIDATE', 0x3n],
]);
export const MAP_TYPE_MASK = 0xfn;

/** mmap flags beyond the type, in strace's (not numeric) order; unknown bits print without a comment. */
export const MAP_FLAGS = xlat(null, [
  ['MAP_FIXED', 0x10n],
  ['MAP_ANONYMOUS', 0x20n],
  ['MAP_32BIT', 0x40n],
  ['MAP_NORESERVE', 0x4000n],
  ['MAP_POPULATE', 0x8000n],
  ['MAP_NONBLOCK', 0x10000n],
  ['MAP_GROWSDOWN', 0x100n],
  ['MAP_DENYWRITE', 0x800n],
  ['MAP_EXECUTABLE', 0x1000n],
  ['MAP_LOCKED', 0x2000n],
  ['MAP_STACK', 0x20000n],
  ['MAP_HUGETLB', 0x40000n],
  ['MAP_SYNC', 0x80000n],
  ['MAP_FIXED_NOREPLACE', 0x100000n],
]);
/** MAP_HUGE_MASK << MAP_HUGE_SHIFT: the huge page size as log2, printed as N<<MAP_HUGE_SHIFT. */
export const MAP_HUGE_SHIFT = 26n;
export const MAP_HUGE_MASK = 0x3fn << MAP_HUGE_SHIFT;

export const MREMAP = xlat('MREMAP_???', [
  ['MREMAP_MAYMOVE', 0x1n],
  ['MREMAP_FIXED', 0x2n],
  ['MREMAP_DONTUNMAP', 0x4n],
]);

export const MADV = xlat('MADV_???', [
  ['MADV_NORMAL', 0n],
  ['MADV_RANDOM', 1n],
  ['MADV_SEQUENTIAL', 2n],
  ['MADV_WILLNEED', 3n],
  ['MADV_DONTNEED', 4n],
  ['MADV_FREE', 8n],
  ['MADV_REMOVE', 9n],
  ['MADV_DONTFORK', 10n],
  ['MADV_DOFORK', 11n],
  ['MADV_MERGEABLE', 12n],
  ['MADV_UNMERGEABLE', 13n],
  ['MADV_HUGEPAGE', 14n],
  ['MADV_NOHUGEPAGE', 15n],
  ['MADV_DONTDUMP', 16n],
  ['MADV_DODUMP', 17n],
  ['MADV_WIPEONFORK', 18n],
  ['MADV_KEEPONFORK', 19n],
  ['MADV_COLD', 20n],
  ['MADV_PAGEOUT', 21n],
  ['MADV_POPULATE_READ', 22n],
  ['MADV_POPULATE_WRITE', 23n],
  ['MADV_DONTNEED_LOCKED', 24n],
  ['MADV_COLLAPSE', 25n],
  ['MADV_HWPOISON', 100n],
  ['MADV_SOFT_OFFLINE', 101n],
]);

/** msync flags; strace's table starts with MS_SYNC. */
export const MSYNC = xlat('MS_???', [
  ['MS_SYNC', 0x4n],
  ['MS_ASYNC', 0x1n],
  ['MS_INVALIDATE', 0x2n],
]);

export const MLOCK2 = xlat('MLOCK_???', [['MLOCK_ONFAULT', 0x1n]]);

/** shmat flags (linux/shm.h). */
export const SHMAT = xlat('SHM_???', [
  ['SHM_RDONLY', 0x1000n],
  ['SHM_RND', 0x2000n],
  ['SHM_REMAP', 0x4000n],
  ['SHM_EXEC', 0x8000n],
]);

/** clone and clone3 flags known to clone(2) (linux/sched.h); CSIGNAL (0xff) is the exit signal in clone. */
export const CLONE = xlat('CLONE_???', [
  ['CLONE_VM', 0x100n],
  ['CLONE_FS', 0x200n],
  ['CLONE_FILES', 0x400n],
  ['CLONE_SIGHAND', 0x800n],
  ['CLONE_PIDFD', 0x1000n],
  ['CLONE_PTRACE', 0x2000n],
  ['CLONE_VFORK', 0x4000n],
  ['CLONE_PARENT', 0x8000n],
  ['CLONE_THREAD', 0x10000n],
  ['CLONE_NEWNS', 0x20000n],
  ['CLONE_SYSVSEM', 0x40000n],
  ['CLONE_SETTLS', 0x80000n],
  ['CLONE_PARENT_SETTID', 0x100000n],
  ['CLONE_CHILD_CLEARTID', 0x200000n],
  ['CLONE_UNTRACED', 0x800000n],
  ['CLONE_CHILD_SETTID', 0x1000000n],
  ['CLONE_NEWCGROUP', 0x2000000n],
  ['CLONE_NEWUTS', 0x4000000n],
  ['CLONE_NEWIPC', 0x8000000n],
  ['CLONE_NEWUSER', 0x10000000n],
  ['CLONE_NEWPID', 0x20000000n],
  ['CLONE_NEWNET', 0x40000000n],
  ['CLONE_IO', 0x80000000n],
]);
export const CSIGNAL = 0xffn;

/** Flags only clone3 accepts; strace prints them after the CLONE table's. */
export const CLONE3_ONLY = xlat('CLONE_???', [
  ['CLONE_NEWTIME', 0x80n],
  ['CLONE_CLEAR_SIGHAND', 0x100000000n],
  ['CLONE_INTO_CGROUP', 0x200000000n],
]);

/** clone3's flags: both tables, CLONE's names first, as strace's printflags_ex with two xlats. */
export const CLONE3 = xlat('CLONE_???', [...CLONE.entries, ...CLONE3_ONLY.entries]);

/** execveat flags (the AT_* set strace 6.1 knows). */
export const AT_FLAGS = xlat('AT_???', [
  ['AT_SYMLINK_NOFOLLOW', 0x100n],
  ['AT_REMOVEDIR', 0x200n],
  ['AT_SYMLINK_FOLLOW', 0x400n],
  ['AT_NO_AUTOMOUNT', 0x800n],
  ['AT_EMPTY_PATH', 0x1000n],
  ['AT_RECURSIVE', 0x8000n],
]);
export const AT_FDCWD = -100;

/** x86_64 arch_prctl codes (asm/prctl.h) as strace 6.1 names them. */
export const ARCH_PRCTL = xlat('ARCH_???', [
  ['ARCH_SET_GS', 0x1001n],
  ['ARCH_SET_FS', 0x1002n],
  ['ARCH_GET_FS', 0x1003n],
  ['ARCH_GET_GS', 0x1004n],
  ['ARCH_GET_CPUID', 0x1011n],
  ['ARCH_SET_CPUID', 0x1012n],
  ['ARCH_GET_XCOMP_SUPP', 0x1021n],
  ['ARCH_GET_XCOMP_PERM', 0x1022n],
  ['ARCH_REQ_XCOMP_PERM', 0x1023n],
  ['ARCH_GET_XCOMP_GUEST_PERM', 0x1024n],
  ['ARCH_REQ_XCOMP_GUEST_PERM', 0x1025n],
  ['ARCH_MAP_VDSO_X32', 0x2001n],
  ['ARCH_MAP_VDSO_32', 0x2002n],
  ['ARCH_MAP_VDSO_64', 0x2003n],
]);

/** prctl options (linux/prctl.h as of 6.1). */
export const PRCTL = xlat('PR_???', [
  ['PR_SET_PDEATHSIG', 1n],
  ['PR_GET_PDEATHSIG', 2n],
  ['PR_GET_DUMPABLE', 3n],
  ['PR_SET_DUMPABLE', 4n],
  ['PR_GET_UNALIGN', 5n],
  ['PR_SET_UNALIGN', 6n],
  ['PR_GET_KEEPCAPS', 7n],
  ['PR_SET_KEEPCAPS', 8n],
  ['PR_GET_FPEMU', 9n],
  ['PR_SET_FPEMU', 10n],
  ['PR_GET_FPEXC', 11n],
  ['PR_SET_FPEXC', 12n],
  ['PR_GET_TIMING', 13n],
  ['PR_SET_TIMING', 14n],
  ['PR_SET_NAME', 15n],
  ['PR_GET_NAME', 16n],
  ['PR_GET_ENDIAN', 19n],
  ['PR_SET_ENDIAN', 20n],
  ['PR_GET_SECCOMP', 21n],
  ['PR_SET_SECCOMP', 22n],
  ['PR_CAPBSET_READ', 23n],
  ['PR_CAPBSET_DROP', 24n],
  ['PR_GET_TSC', 25n],
  ['PR_SET_TSC', 26n],
  ['PR_GET_SECUREBITS', 27n],
  ['PR_SET_SECUREBITS', 28n],
  ['PR_SET_TIMERSLACK', 29n],
  ['PR_GET_TIMERSLACK', 30n],
  ['PR_TASK_PERF_EVENTS_DISABLE', 31n],
  ['PR_TASK_PERF_EVENTS_ENABLE', 32n],
  ['PR_MCE_KILL', 33n],
  ['PR_MCE_KILL_GET', 34n],
  ['PR_SET_MM', 35n],
  ['PR_SET_CHILD_SUBREAPER', 36n],
  ['PR_GET_CHILD_SUBREAPER', 37n],
  ['PR_SET_NO_NEW_PRIVS', 38n],
  ['PR_GET_NO_NEW_PRIVS', 39n],
  ['PR_GET_TID_ADDRESS', 40n],
  ['PR_SET_THP_DISABLE', 41n],
  ['PR_GET_THP_DISABLE', 42n],
  ['PR_MPX_ENABLE_MANAGEMENT', 43n],
  ['PR_MPX_DISABLE_MANAGEMENT', 44n],
  ['PR_SET_FP_MODE', 45n],
  ['PR_GET_FP_MODE', 46n],
  ['PR_CAP_AMBIENT', 47n],
  ['PR_SVE_SET_VL', 50n],
  ['PR_SVE_GET_VL', 51n],
  ['PR_GET_SPECULATION_CTRL', 52n],
  ['PR_SET_SPECULATION_CTRL', 53n],
  ['PR_PAC_RESET_KEYS', 54n],
  ['PR_SET_TAGGED_ADDR_CTRL', 55n],
  ['PR_GET_TAGGED_ADDR_CTRL', 56n],
  ['PR_SET_IO_FLUSHER', 57n],
  ['PR_GET_IO_FLUSHER', 58n],
  ['PR_SET_SYSCALL_USER_DISPATCH', 59n],
  ['PR_PAC_SET_ENABLED_KEYS', 60n],
  ['PR_PAC_GET_ENABLED_KEYS', 61n],
  ['PR_SCHED_CORE', 62n],
  ['PR_SME_SET_VL', 63n],
  ['PR_SME_GET_VL', 64n],
  ['PR_SET_VMA', 0x53564d41n],
  ['PR_SET_PTRACER', 0x59616d61n],
]);

export const PR_SET_VMA = xlat('PR_SET_VMA_???', [['PR_SET_VMA_ANON_NAME', 0n]]);

/** PR_SET_DUMPABLE's argument and PR_GET_DUMPABLE's result. */
export const SUID_DUMP = xlat('SUID_DUMP_???', [
  ['SUID_DUMP_DISABLE', 0n],
  ['SUID_DUMP_USER', 1n],
  ['SUID_DUMP_ROOT', 2n],
]);

/** stack_t.ss_flags (sigaltstack). */
export const SS_FLAGS = xlat('SS_???', [
  ['SS_ONSTACK', 1n],
  ['SS_DISABLE', 2n],
  ['SS_AUTODISARM', 0x80000000n],
]);

/** PR_GET_TSC's result (strace's pr_tsc). */
export const PR_TSC = xlat('PR_TSC_???', [
  ['PR_TSC_ENABLE', 1n],
  ['PR_TSC_SIGSEGV', 2n],
]);

/** PR_GET_UNALIGN's result (strace's pr_unalign_flags). */
export const PR_UNALIGN = xlat('PR_UNALIGN_???', [
  ['PR_UNALIGN_NOPRINT', 1n],
  ['PR_UNALIGN_SIGBUS', 2n],
]);

/** x86 XSAVE feature masks, ARCH_GET_XCOMP_*'s result (strace's x86_xfeatures; the combined masks first). */
export const XFEATURE_MASK = xlat('XFEATURE_MASK_???', [
  ['XFEATURE_MASK_FPSSE', 0x3n],
  ['XFEATURE_MASK_FP', 1n << 0n],
  ['XFEATURE_MASK_SSE', 1n << 1n],
  ['XFEATURE_MASK_YMM', 1n << 2n],
  ['XFEATURE_MASK_BNDREGS', 1n << 3n],
  ['XFEATURE_MASK_BNDCSR', 1n << 4n],
  ['XFEATURE_MASK_AVX512', 0xe0n],
  ['XFEATURE_MASK_OPMASK', 1n << 5n],
  ['XFEATURE_MASK_ZMM_Hi256', 1n << 6n],
  ['XFEATURE_MASK_Hi16_ZMM', 1n << 7n],
  ['XFEATURE_MASK_PT', 1n << 8n],
  ['XFEATURE_MASK_PKRU', 1n << 9n],
  ['XFEATURE_MASK_PASID', 1n << 10n],
  ['XFEATURE_MASK_LBR', 1n << 15n],
  ['XFEATURE_MASK_XTILE', 0x60000n],
  ['XFEATURE_MASK_XTILE_CFG', 1n << 17n],
  ['XFEATURE_MASK_XTILE_DATA', 1n << 18n],
]);

/** Every table, by concept: the test that no two tables share a name iterates this. */
export const TABLES: Readonly<Record<string, Xlat>> = {
  PROT, MAP_TYPE, MAP_FLAGS, MREMAP, MADV, MSYNC, MLOCK2, SHMAT, CLONE, CLONE3_ONLY,
  AT_FLAGS, ARCH_PRCTL, PRCTL, PR_SET_VMA, SUID_DUMP, SS_FLAGS, PR_TSC, PR_UNALIGN, XFEATURE_MASK,
};

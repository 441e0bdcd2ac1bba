// Flag and value tables, one per concept, in strace 6.1's order (the order
// decides how a flag set is printed). Values are the kernel's UAPI numbers
// (x86_64 and arm64 agree on all of these). A table lists exactly what
// strace 6.1 knows, so a line of ours and a line of strace's for the same
// call are identical; newer kernel names show as unknown bits, as in strace.

import { type Xlat, valueOf, xlat } from './format';

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

/** x86 XSAVE features by bit number (asm/fpu/types.h): ARCH_REQ_XCOMP_PERM's argument (strace's x86_xfeature_bits). */
export const XFEATURE = xlat('XFEATURE_???', [
  ['XFEATURE_FP', 0n],
  ['XFEATURE_SSE', 1n],
  ['XFEATURE_YMM', 2n],
  ['XFEATURE_BNDREGS', 3n],
  ['XFEATURE_BNDCSR', 4n],
  ['XFEATURE_OPMASK', 5n],
  ['XFEATURE_ZMM_Hi256', 6n],
  ['XFEATURE_Hi16_ZMM', 7n],
  ['XFEATURE_PT_UNIMPLEMENTED_SO_FAR', 8n],
  ['XFEATURE_PKRU', 9n],
  ['XFEATURE_PASID', 10n],
  ['XFEATURE_LBR', 15n],
  ['XFEATURE_XTILE_CFG', 17n],
  ['XFEATURE_XTILE_DATA', 18n],
]);
const xfeature = (name: string): bigint => 1n << valueOf(XFEATURE, name);

/** x86 XSAVE feature masks, ARCH_GET_XCOMP_*'s result (strace's x86_xfeatures; the combined masks first). */
export const XFEATURE_MASK = xlat('XFEATURE_MASK_???', [
  ['XFEATURE_MASK_FPSSE', xfeature('XFEATURE_FP') | xfeature('XFEATURE_SSE')],
  ['XFEATURE_MASK_FP', xfeature('XFEATURE_FP')],
  ['XFEATURE_MASK_SSE', xfeature('XFEATURE_SSE')],
  ['XFEATURE_MASK_YMM', xfeature('XFEATURE_YMM')],
  ['XFEATURE_MASK_BNDREGS', xfeature('XFEATURE_BNDREGS')],
  ['XFEATURE_MASK_BNDCSR', xfeature('XFEATURE_BNDCSR')],
  ['XFEATURE_MASK_AVX512', xfeature('XFEATURE_OPMASK') | xfeature('XFEATURE_ZMM_Hi256') | xfeature('XFEATURE_Hi16_ZMM')],
  ['XFEATURE_MASK_OPMASK', xfeature('XFEATURE_OPMASK')],
  ['XFEATURE_MASK_ZMM_Hi256', xfeature('XFEATURE_ZMM_Hi256')],
  ['XFEATURE_MASK_Hi16_ZMM', xfeature('XFEATURE_Hi16_ZMM')],
  ['XFEATURE_MASK_PT', xfeature('XFEATURE_PT_UNIMPLEMENTED_SO_FAR')],
  ['XFEATURE_MASK_PKRU', xfeature('XFEATURE_PKRU')],
  ['XFEATURE_MASK_PASID', xfeature('XFEATURE_PASID')],
  ['XFEATURE_MASK_LBR', xfeature('XFEATURE_LBR')],
  ['XFEATURE_MASK_XTILE', xfeature('XFEATURE_XTILE_CFG') | xfeature('XFEATURE_XTILE_DATA')],
  ['XFEATURE_MASK_XTILE_CFG', xfeature('XFEATURE_XTILE_CFG')],
  ['XFEATURE_MASK_XTILE_DATA', xfeature('XFEATURE_XTILE_DATA')],
]);

/** mlockall flags (asm-generic/mman-common.h; the values x86_64 and arm64 use). */
export const MCL = xlat('MCL_???', [
  ['MCL_CURRENT', 1n],
  ['MCL_FUTURE', 2n],
  ['MCL_ONFAULT', 4n],
]);

/** pkey_alloc's access rights (asm-generic/mman-common.h). */
export const PKEY_ACCESS = xlat('PKEY_???', [
  ['PKEY_DISABLE_ACCESS', 0x1n],
  ['PKEY_DISABLE_WRITE', 0x2n],
  ['PKEY_DISABLE_EXECUTE', 0x4n],
]);

/** Capabilities by number (linux/capability.h), the ones strace 6.1 knows: PR_CAPBSET_*, PR_CAP_AMBIENT. */
export const CAP = xlat('CAP_???', [
  ['CAP_CHOWN', 0n], ['CAP_DAC_OVERRIDE', 1n], ['CAP_DAC_READ_SEARCH', 2n],
  ['CAP_FOWNER', 3n], ['CAP_FSETID', 4n], ['CAP_KILL', 5n],
  ['CAP_SETGID', 6n], ['CAP_SETUID', 7n], ['CAP_SETPCAP', 8n],
  ['CAP_LINUX_IMMUTABLE', 9n], ['CAP_NET_BIND_SERVICE', 10n], ['CAP_NET_BROADCAST', 11n],
  ['CAP_NET_ADMIN', 12n], ['CAP_NET_RAW', 13n], ['CAP_IPC_LOCK', 14n],
  ['CAP_IPC_OWNER', 15n], ['CAP_SYS_MODULE', 16n], ['CAP_SYS_RAWIO', 17n],
  ['CAP_SYS_CHROOT', 18n], ['CAP_SYS_PTRACE', 19n], ['CAP_SYS_PACCT', 20n],
  ['CAP_SYS_ADMIN', 21n], ['CAP_SYS_BOOT', 22n], ['CAP_SYS_NICE', 23n],
  ['CAP_SYS_RESOURCE', 24n], ['CAP_SYS_TIME', 25n], ['CAP_SYS_TTY_CONFIG', 26n],
  ['CAP_MKNOD', 27n], ['CAP_LEASE', 28n], ['CAP_AUDIT_WRITE', 29n],
  ['CAP_AUDIT_CONTROL', 30n], ['CAP_SETFCAP', 31n], ['CAP_MAC_OVERRIDE', 32n],
  ['CAP_MAC_ADMIN', 33n], ['CAP_SYSLOG', 34n], ['CAP_WAKE_ALARM', 35n],
  ['CAP_BLOCK_SUSPEND', 36n], ['CAP_AUDIT_READ', 37n], ['CAP_PERFMON', 38n],
  ['CAP_BPF', 39n], ['CAP_CHECKPOINT_RESTORE', 40n],
]);

/** PR_CAP_AMBIENT's sub-commands. */
export const PR_CAP_AMBIENT = xlat('PR_CAP_AMBIENT_???', [
  ['PR_CAP_AMBIENT_IS_SET', 1n],
  ['PR_CAP_AMBIENT_RAISE', 2n],
  ['PR_CAP_AMBIENT_LOWER', 3n],
  ['PR_CAP_AMBIENT_CLEAR_ALL', 4n],
]);

/** PR_MCE_KILL's sub-commands. */
export const PR_MCE_KILL = xlat('PR_MCE_KILL_???', [
  ['PR_MCE_KILL_CLEAR', 0n],
  ['PR_MCE_KILL_SET', 1n],
]);

/** PR_MCE_KILL_SET's policy and PR_MCE_KILL_GET's result. */
export const PR_MCE_KILL_POLICY = xlat('PR_MCE_KILL_???', [
  ['PR_MCE_KILL_LATE', 0n],
  ['PR_MCE_KILL_EARLY', 1n],
  ['PR_MCE_KILL_DEFAULT', 2n],
]);

/** PR_SET_SECCOMP's mode (linux/seccomp.h). */
export const SECCOMP_MODE = xlat('SECCOMP_MODE_???', [
  ['SECCOMP_MODE_DISABLED', 0n],
  ['SECCOMP_MODE_STRICT', 1n],
  ['SECCOMP_MODE_FILTER', 2n],
]);

/** Securebits (linux/securebits.h): PR_SET_SECUREBITS' argument, PR_GET_SECUREBITS' result. */
export const SECBITS = xlat('SECBIT_???', [
  ['SECBIT_NOROOT', 1n << 0n],
  ['SECBIT_NOROOT_LOCKED', 1n << 1n],
  ['SECBIT_NO_SETUID_FIXUP', 1n << 2n],
  ['SECBIT_NO_SETUID_FIXUP_LOCKED', 1n << 3n],
  ['SECBIT_KEEP_CAPS', 1n << 4n],
  ['SECBIT_KEEP_CAPS_LOCKED', 1n << 5n],
  ['SECBIT_NO_CAP_AMBIENT_RAISE', 1n << 6n],
  ['SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED', 1n << 7n],
]);

/** PR_SET_SYSCALL_USER_DISPATCH's switch. */
export const PR_SYS_DISPATCH = xlat('PR_SYS_DISPATCH_???', [
  ['PR_SYS_DISPATCH_OFF', 0n],
  ['PR_SYS_DISPATCH_ON', 1n],
]);

/** PR_SCHED_CORE's sub-commands. */
export const PR_SCHED_CORE = xlat('PR_SCHED_CORE_???', [
  ['PR_SCHED_CORE_GET', 0n],
  ['PR_SCHED_CORE_CREATE', 1n],
  ['PR_SCHED_CORE_SHARE_TO', 2n],
  ['PR_SCHED_CORE_SHARE_FROM', 3n],
]);

/** PR_SCHED_CORE's pid type (the kernel's enum pid_type). */
export const PIDTYPE = xlat('PIDTYPE_???', [
  ['PIDTYPE_PID', 0n],
  ['PIDTYPE_TGID', 1n],
  ['PIDTYPE_PGID', 2n],
  ['PIDTYPE_SID', 3n],
]);

/** arm64 pointer-authentication keys: the four PR_PAC_*_ENABLED_KEYS take, then the one only PR_PAC_RESET_KEYS adds. */
export const PR_PAC_ENABLED_KEYS = xlat('PR_PAC_???', [
  ['PR_PAC_APIAKEY', 1n << 0n],
  ['PR_PAC_APIBKEY', 1n << 1n],
  ['PR_PAC_APDAKEY', 1n << 2n],
  ['PR_PAC_APDBKEY', 1n << 3n],
]);
export const PR_PAC_RESET = xlat('PR_PAC_???', [...PR_PAC_ENABLED_KEYS.entries, ['PR_PAC_APGAKEY', 1n << 4n]]);

/** PR_GET/SET_SPECULATION_CTRL's subject. */
export const PR_SPEC_CMD = xlat('PR_SPEC_???', [
  ['PR_SPEC_STORE_BYPASS', 0n],
  ['PR_SPEC_INDIRECT_BRANCH', 1n],
  ['PR_SPEC_L1D_FLUSH', 2n],
]);

/** PR_GET_SPECULATION_CTRL's result bits; PR_SET_SPECULATION_CTRL takes one of the last four as a value. */
export const PR_SPEC_STATE = xlat('PR_SPEC_???', [
  ['PR_SPEC_NOT_AFFECTED', 0n],
  ['PR_SPEC_PRCTL', 1n << 0n],
  ['PR_SPEC_ENABLE', 1n << 1n],
  ['PR_SPEC_DISABLE', 1n << 2n],
  ['PR_SPEC_FORCE_DISABLE', 1n << 3n],
  ['PR_SPEC_DISABLE_NOEXEC', 1n << 4n],
]);
export const PR_SPEC_SET = xlat('PR_SPEC_???', PR_SPEC_STATE.entries.filter(([, v]) => v > 1n));

/** PR_SET/GET_FP_MODE's bits (MIPS). */
export const PR_FP_MODE = xlat('PR_FP_MODE_???', [
  ['PR_FP_MODE_FR', 1n << 0n],
  ['PR_FP_MODE_FRE', 1n << 1n],
]);

/** PR_SET_MM's sub-commands. */
export const PR_SET_MM = xlat('PR_SET_MM_???', [
  ['PR_SET_MM_START_CODE', 1n],
  ['PR_SET_MM_END_CODE', 2n],
  ['PR_SET_MM_START_DATA', 3n],
  ['PR_SET_MM_END_DATA', 4n],
  ['PR_SET_MM_START_STACK', 5n],
  ['PR_SET_MM_START_BRK', 6n],
  ['PR_SET_MM_BRK', 7n],
  ['PR_SET_MM_ARG_START', 8n],
  ['PR_SET_MM_ARG_END', 9n],
  ['PR_SET_MM_ENV_START', 10n],
  ['PR_SET_MM_ENV_END', 11n],
  ['PR_SET_MM_AUXV', 12n],
  ['PR_SET_MM_EXE_FILE', 13n],
  ['PR_SET_MM_MAP', 14n],
  ['PR_SET_MM_MAP_SIZE', 15n],
]);

/** Flags above a vector length (PR_SVE_VL_LEN_MASK, PR_SME_VL_LEN_MASK: the low 16 bits). */
export const PR_SVE_VL_FLAGS = xlat('PR_SVE_???', [
  ['PR_SVE_SET_VL_ONEXEC', 1n << 18n],
  ['PR_SVE_VL_INHERIT', 1n << 17n],
]);
export const PR_SME_VL_FLAGS = xlat('PR_SME_???', [
  ['PR_SME_SET_VL_ONEXEC', 1n << 18n],
  ['PR_SME_VL_INHERIT', 1n << 17n],
]);
export const PR_VL_LEN_MASK = 0xffffn;

/** PR_SET/GET_TAGGED_ADDR_CTRL: the enable bit, then the MTE fault mode (a value in bits 1-2), then the tag mask at bit 3. */
export const PR_TAGGED_ADDR = xlat(null, [
  ['!PR_TAGGED_ADDR_ENABLE', 0n],
  ['PR_TAGGED_ADDR_ENABLE', 1n],
]);
export const PR_MTE_TCF = xlat(null, [
  ['PR_MTE_TCF_NONE', 0n],
  ['PR_MTE_TCF_SYNC', 1n << 1n],
  ['PR_MTE_TCF_ASYNC', 1n << 2n],
  ['PR_MTE_TCF_MASK', 3n << 1n],
]);
export const PR_MTE_TCF_MASK = valueOf(PR_MTE_TCF, 'PR_MTE_TCF_MASK');
export const PR_TAGGED_ADDR_ENABLE = valueOf(PR_TAGGED_ADDR, 'PR_TAGGED_ADDR_ENABLE');
export const PR_MTE_TAG_SHIFT = 3n;
export const PR_MTE_TAG_MASK = 0xffffn << PR_MTE_TAG_SHIFT;

/** Every table, by concept: the test that no two tables share a name iterates this. */
export const TABLES: Readonly<Record<string, Xlat>> = {
  PROT, MAP_TYPE, MAP_FLAGS, MREMAP, MADV, MSYNC, MLOCK2, SHMAT, CLONE, CLONE3_ONLY,
  AT_FLAGS, ARCH_PRCTL, PRCTL, PR_SET_VMA, SUID_DUMP, SS_FLAGS, PR_TSC, PR_UNALIGN, XFEATURE, XFEATURE_MASK,
  MCL, PKEY_ACCESS, CAP, PR_CAP_AMBIENT, PR_MCE_KILL, PR_MCE_KILL_POLICY, SECCOMP_MODE, SECBITS, PR_SYS_DISPATCH, PR_SCHED_CORE,
  PIDTYPE, PR_SPEC_CMD, PR_SPEC_STATE, PR_FP_MODE, PR_SET_MM, PR_PAC_ENABLED_KEYS, PR_SVE_VL_FLAGS, PR_SME_VL_FLAGS, PR_TAGGED_ADDR, PR_MTE_TCF,
};

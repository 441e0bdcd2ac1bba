// The fallback for calls liveprobe does not decode: the name and the raw
// argument registers in hex (C's %#lx, so 0 stays "0"), as many as the call
// takes. The counts are the kernel's, as listed in strace 6.1's syscallent
// tables; a name that is not listed (a new call, an unknown number) gets 6,
// which is also what strace prints for a number it does not know.

import { hexVal } from './format';
import type { Decoded, DecodeInput } from './types';

const BY_COUNT: readonly string[] = [
  /* 0 */ 'rt_sigreturn sched_yield pause getpid fork vfork getuid getgid geteuid getegid getppid getpgrp setsid ' +
    'munlockall vhangup sync gettid restart_syscall inotify_init',
  /* 1 */ 'close pipe alarm exit uname shmdt fsync fdatasync chdir fchdir rmdir unlink umask sysinfo times setuid ' +
    'setgid getpgid setfsuid setfsgid getsid personality mlockall brk _sysctl adjtimex chroot acct swapoff iopl ' +
    'get_kernel_syms time set_thread_area io_destroy get_thread_area epoll_create set_tid_address timer_getoverrun ' +
    'timer_delete exit_group mq_unlink unshare eventfd epoll_create1 inotify_init1 syncfs userfaultfd pkey_free ' +
    'uselib dup memfd_secret',
  /* 2 */ 'stat fstat lstat munmap access dup2 nanosleep getitimer shutdown listen kill msgget flock truncate ' +
    'ftruncate getcwd rename mkdir creat link symlink chmod fchmod gettimeofday getrlimit getrusage setpgid ' +
    'setreuid setregid getgroups setgroups capget capset rt_sigpending rt_sigsuspend sigaltstack utime ustat ' +
    'statfs fstatfs getpriority sched_setparam sched_getparam sched_rr_get_interval mlock munlock pivot_root ' +
    'arch_prctl setrlimit settimeofday umount2 swapon sethostname setdomainname create_module delete_module ' +
    'removexattr lremovexattr fremovexattr tkill io_setup clock_settime clock_gettime clock_getres utimes ' +
    'ioprio_get inotify_rm_watch set_robust_list timerfd_create eventfd2 pipe2 timerfd_gettime fanotify_init ' +
    'setns memfd_create pkey_alloc timer_gettime mq_notify clone3 pidfd_open fsopen process_mrelease ' +
    'io_uring_setup landlock_restrict_self clock_adjtime',
  /* 3 */ 'read write open poll lseek mprotect ioctl readv writev msync mincore madvise shmget shmat shmctl ' +
    'setitimer socket connect accept sendmsg recvmsg bind getsockname getpeername execve semget semop msgctl ' +
    'fcntl getdents readlink chown fchown lchown syslog setresuid getresuid setresgid getresgid rt_sigqueueinfo ' +
    'mknod sysfs setpriority sched_setscheduler modify_ldt init_module ioperm nfsservctl tuxcall security ' +
    'readahead listxattr llistxattr flistxattr sched_setaffinity sched_getaffinity io_submit io_cancel ' +
    'lookup_dcookie getdents64 timer_create tgkill set_mempolicy mq_getsetattr ioprio_set inotify_add_watch ' +
    'mkdirat futimesat unlinkat symlinkat fchmodat faccessat get_robust_list signalfd dup3 getcpu finit_module ' +
    'sched_setattr seccomp getrandom bpf membarrier mlock2 open_tree fsmount fspick close_range pidfd_getfd ' +
    'landlock_create_ruleset open_by_handle_at',
  /* 4 */ 'rt_sigaction rt_sigprocmask pread64 pwrite64 sendfile socketpair wait4 semctl msgsnd ptrace quotactl ' +
    'getxattr lgetxattr fgetxattr rt_sigtimedwait reboot epoll_ctl_old epoll_wait_old semtimedop fadvise64 ' +
    'timer_settime clock_nanosleep epoll_wait epoll_ctl mq_open kexec_load request_key migrate_pages openat ' +
    'mknodat newfstatat renameat readlinkat tee sync_file_range vmsplice utimensat fallocate timerfd_settime ' +
    'accept4 signalfd4 preadv pwritev rt_tgsigqueueinfo prlimit64 sendmmsg sched_getattr pkey_mprotect rseq ' +
    'pidfd_send_signal io_uring_register openat2 faccessat2 quotactl_fd landlock_add_rule set_mempolicy_home_node',
  /* 5 */ 'select mremap clone getsockopt setsockopt msgrcv prctl mount query_module getpmsg putpmsg afs_syscall ' +
    'setxattr lsetxattr fsetxattr remap_file_pages io_getevents vserver get_mempolicy mq_timedsend ' +
    'mq_timedreceive waitid add_key keyctl fchownat linkat ppoll perf_event_open recvmmsg fanotify_mark ' +
    'name_to_handle_at kcmp renameat2 kexec_file_load execveat statx move_mount fsconfig process_madvise ' +
    'mount_setattr futex_waitv',
  /* 6 */ 'mmap sendto recvfrom futex mbind pselect6 splice move_pages epoll_pwait process_vm_readv ' +
    'process_vm_writev copy_file_range preadv2 pwritev2 io_pgetevents io_uring_enter epoll_pwait2',
];

const ARG_COUNT: ReadonlyMap<string, number> = new Map(
  BY_COUNT.flatMap((names, count) => names.split(' ').map((name): [string, number] => [name, count])),
);

/** How many arguments `name` takes (6 when unknown). */
export function argCount(name: string): number {
  return ARG_COUNT.get(name) ?? 6;
}

const NO_ARGS = Object.freeze({});

export function decodeRaw(ev: DecodeInput): Decoded {
  const n = argCount(ev.name);
  let entry = '';
  for (let i = 0; i < n; i++) entry += (i ? ', ' : '') + hexVal(ev.raw[i]!);
  return { args: NO_ARGS, entry, exit: '', returns: 'decimal' };
}

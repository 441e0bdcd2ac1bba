// The measured shapes behind the detectors and the shape classifier
// (docs/go-glibc-musl.md has the sequences they come from). Flag values come
// from lib/syscalls/abi.ts; sizes that change across versions are not here:
// the detectors match by sequence and position instead.
import {
  CLONE_CHILD_CLEARTID, CLONE_FILES, CLONE_FS, CLONE_PARENT_SETTID, CLONE_SETTLS, CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD,
  CLONE_VM,
} from '../syscalls/abi';
import { KiB, MiB } from '../units';

/** Go's runtime.newosproc: VM|FS|FILES|SIGHAND|SYSVSEM|THREAD (cloneFlags in runtime/os_linux.go); amd64 adds SETTLS. */
export const GO_CLONE_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_SYSVSEM | CLONE_THREAD;
/** glibc's pthread_create (sysdeps/unix/sysv/linux/createthread.c): Go's set plus SETTLS|PARENT_SETTID|CHILD_CLEARTID (0x3d0f00). */
export const PTHREAD_CLONE_FLAGS = GO_CLONE_FLAGS | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;

/**
 * 64 MiB, for two reasons: glibc's HEAP_MAX_SIZE on 64-bit (2 ×
 * DEFAULT_MMAP_THRESHOLD_MAX), the size and alignment of a malloc arena heap,
 * reserved as twice that and trimmed; and Go's heapArenaBytes on 64-bit
 * Linux, the unit of its heap reservations.
 */
export const HEAP_WINDOW = 64n * MiB;
/** Go commits its heap in multiples of 4 MiB (heapArenaBytes / 16: a palloc chunk set). */
export const GO_COMMIT_STEP = 4n * MiB;

// The Go runtime's own structures (page summaries, indexes) are in lib/detect/go-runtime.ts.

/**
 * musl's pthread_create adds CLONE_DETACHED (0x400000) to glibc's flags
 * (src/thread/pthread_create.c: 0x7d0f00). The kernel ignores it and has no
 * name for it in its UAPI any more (strace prints the number), so it is a
 * musl signature rather than an ABI constant.
 */
export const MUSL_CLONE_DETACHED = 0x400000n;

/** glibc's guard is one page on x86_64 and up to 64 KiB on aarch64; musl's 8 KiB. */
export const MAX_THREAD_GUARD = 64n * KiB;
/** musl's default thread guard (glibc's is one page). */
export const MUSL_THREAD_GUARD = 8n * KiB;
/** No pthread stack is smaller than this (PTHREAD_STACK_MIN is 16 KiB; runtimes ask for far more). */
export const MIN_THREAD_STACK = 64n * KiB;
/** glibc's default thread stack: RLIMIT_STACK, 8 MiB unless `ulimit -s` says otherwise. */
export const GLIBC_DEFAULT_STACK = 8n * MiB;

// Which threads sit in a C call right now, the evidence for the hint on
// threads held by blocking cgo calls (docs/go-glibc-musl.md, "Blocking cgo
// calls hold threads"). /proc/PID/task/TID/syscall gives a blocked thread's
// call and its pc, the instruction after the syscall instruction: inside a
// shared library (libc's wrapper) when C code made the call, inside the
// executable when the Go runtime made it with its own raw syscall. A
// statically linked program has its libc in the executable: no thread is
// told apart there, and no hint is given.
import type { Region } from '../model';
import { taskSyscalls } from '../proc';
import { SYSCALL_CLASSES, hostArch, syscallName } from '../syscalls';

export interface ThreadInC {
  tid: number;
  /** The syscall it is blocked in. */
  call: string;
}

/** The threads blocked in a syscall that a shared library made; exe is the executable's path as maps names it. */
export function threadsInC(pid: number, regions: readonly Region[], exe: string | undefined): ThreadInC[] {
  const out: ThreadInC[] = [];
  const arch = hostArch();
  // A memory call (mmap, mprotect, …) does not wait: a thread seen in one was
  // caught in passing (or held at a tracer's stop, as `run` holds traced
  // calls), not blocked. A full run saw pthread_create's mmap counted so.
  const memory = new Set(SYSCALL_CLASSES['%memory']);
  for (const [tid, s] of taskSyscalls(pid)) {
    if (s.nr < 0) continue;
    const call = syscallName(arch, s.nr);
    if (memory.has(call)) continue;
    const r = regions.find((x) => s.pc >= x.start && s.pc < x.end);
    if (r && r.kind === 'file' && r.name !== exe) out.push({ tid, call });
  }
  return out;
}

// What attach() checks before it asks the kernel: a pid that names a live
// process nobody else traces and that is not this Node's own child, with
// messages that say what to do (the kernel's EPERM/ESRCH come later, through
// lib/tracer-errors.ts).
import { LiveprobeError } from './errors';
import { readProc, statusField, taskStates } from './proc';
import { EBUSY, EPERM, ESRCH, PF_KTHREAD } from './syscalls/abi';

/** Checks that can be made before asking the kernel, with better messages. */
export function checkAttachable(pid: number): LiveprobeError | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    return new LiveprobeError('EINVAL', `invalid pid ${pid}; give the number of a running process`);
  }
  if (pid === process.pid || pid === process.ppid) {
    return new LiveprobeError('EINVAL', `refusing to trace pid ${pid}: it is liveprobe itself or its parent`);
  }
  const status = readProc(`/proc/${pid}/status`);
  if (status === undefined) return new LiveprobeError('ESRCH', `no process with pid ${pid}; check the pid with ps`, ESRCH);
  if (isKernelThread(pid)) {
    const comm = readProc(`/proc/${pid}/comm`)?.trim() ?? '?';
    return new LiveprobeError('EPERM', `process ${pid} (${comm}) is a kernel thread, which cannot be traced: it has no user-space memory or syscalls`, EPERM);
  }
  const tracer = statusField(status, 'TracerPid');
  if (tracer !== undefined && tracer !== '0') {
    // The tracer may just have gone away: then no name.
    const comm = readProc(`/proc/${tracer}/comm`)?.trim();
    const who = comm === undefined ? '' : ` (${comm})`;
    return new LiveprobeError('EBUSY', `process ${pid} is already traced by pid ${tracer}${who}; stop that tracer first`, EBUSY);
  }
  if (Number(statusField(status, 'PPid')) === process.pid) {
    // The kernel lets a tracee's real parent collect its ptrace stops when the
    // tracer is in the same process; libuv's waitpid() would steal them and
    // report the child as exited.
    return new LiveprobeError(
      'EINVAL',
      `process ${pid} is a child of this Node process, which would steal its ptrace stops; ` +
        `start it with liveprobe's run() instead, or from another process (e.g. sh -c)`,
    );
  }
  // A zombie leader may still have live threads (it called pthread_exit):
  // those can be traced.
  if (statusField(status, 'State')?.startsWith('Z') && !hasLiveThread(pid)) {
    return new LiveprobeError('ESRCH', `process ${pid} has exited (zombie); nothing to trace`, ESRCH);
  }
  return undefined;
}

function hasLiveThread(pid: number): boolean {
  return [...taskStates(pid).values()].some((state) => state !== 'Z' && state !== 'X');
}

function isKernelThread(pid: number): boolean {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return false;
  // The fields after the parenthesised comm (which may contain ')'): state is 3, flags 9.
  const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
  return Number.isFinite(flags) && (flags & PF_KTHREAD) !== 0;
}

// What the tracer's in-band error records mean for the person who asked:
// one line each, saying what to do (the error catalogue; lib/errors.ts has
// the error type and the errno codes).
import { LiveprobeError, codeForErrno, errnoText } from './errors';
import type { ErrorRecord } from './events';
import { attachPermissionFacts, explainAttachEperm } from './permissions';
import { EPERM, ESRCH } from './syscalls/abi';
import { ERROR_SITE } from './wire';

export function describeTracerError(r: ErrorRecord): LiveprobeError {
  const code = codeForErrno(r.errno);
  const text = errnoText(r.errno).toLowerCase();
  if (r.site === ERROR_SITE.seize) {
    if (r.errno === EPERM) return new LiveprobeError('EPERM', explainAttachEperm(r.pid, attachPermissionFacts(r.pid)), r.errno);
    if (r.errno === ESRCH) return new LiveprobeError('ESRCH', `no process with pid ${r.pid}; check the pid with ps`, r.errno);
  }
  if (r.site === ERROR_SITE.exec) {
    return new LiveprobeError(code, `cannot run ${r.detail}: ${text}; check the path and that it is an executable for this machine`, r.errno);
  }
  if (r.site === ERROR_SITE.seccomp) {
    return new LiveprobeError(code, `cannot install the seccomp filter (${text}); use -e trace=all to trace without one`, r.errno);
  }
  if (r.site === ERROR_SITE.chdir) {
    return new LiveprobeError(code, `cannot enter the working directory: ${text}; pass an existing cwd`, r.errno);
  }
  if (r.site === ERROR_SITE.perf) {
    return new LiveprobeError(code, `the perf engine could not open its tracepoint events (${r.detail}: ${text}); use --engine ptrace`, r.errno);
  }
  return new LiveprobeError(code, `tracer error in ${r.detail}: ${text}`, r.errno);
}

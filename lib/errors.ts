// Errors are values with a stable code and a message a person can act on.

export { errnoText } from './syscalls/errno';

export type LiveprobeErrorCode =
  | 'ENOENT' // no such file to run
  | 'EACCES' // the file is not executable
  | 'ESRCH' // no such process
  | 'EPERM' // not permitted to trace
  | 'EBUSY' // already traced by someone else
  | 'EINVAL' // a malformed option
  | 'ECHILD' // the target died before it started
  | 'EIO'; // anything else the tracer hit

export class LiveprobeError extends Error {
  readonly code: LiveprobeErrorCode;
  readonly errno: number | undefined;

  constructor(code: LiveprobeErrorCode, message: string, errno?: number) {
    super(message);
    this.name = 'LiveprobeError';
    this.code = code;
    this.errno = errno;
  }
}

const CODES_BY_ERRNO: Record<number, LiveprobeErrorCode> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  10: 'ECHILD',
  13: 'EACCES',
  16: 'EBUSY',
  22: 'EINVAL',
};

export function codeForErrno(errno: number): LiveprobeErrorCode {
  return CODES_BY_ERRNO[errno] ?? 'EIO';
}

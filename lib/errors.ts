// Errors are values with a stable code and a message a person can act on.

import { errnoName } from './syscalls/errno';

export { errnoText } from './syscalls/errno';

/** The codes liveprobe's errors use: errno names (lib/syscalls/errno-table). */
const CODES = [
  'ENOENT', // no such file to run
  'EACCES', // the file is not executable
  'ESRCH', // no such process
  'EPERM', // not permitted to trace
  'EBUSY', // already traced by someone else
  'EINVAL', // a malformed option
  'ECHILD', // the target died before it started
  'EIO', // anything else the tracer hit
] as const;

export type LiveprobeErrorCode = (typeof CODES)[number];

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

export function codeForErrno(errno: number): LiveprobeErrorCode {
  const name = errnoName(errno) ?? '';
  return (CODES as readonly string[]).includes(name) ? (name as LiveprobeErrorCode) : 'EIO';
}

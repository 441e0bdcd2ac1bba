// liveprobe's public API.
export { run, attach, Session } from './session';
export type { RunOptions, AttachOptions, ExitInfo, SessionStats, StdioSpec } from './session';
export type {
  TraceEvent,
  SyscallEvent,
  ThreadStartEvent,
  ThreadExitEvent,
  ExecEvent,
  SignalEvent,
  ExitEvent,
  SnapshotEvent,
  StartedEvent,
  DetachedEvent,
  WaitStatus,
  SyscallFields,
} from './events';
export { SyscallRecord } from './events';
export { DECODED_SYSCALLS, decodeSyscall, formatReturn, renderSyscall } from './syscalls/decode';
export type { ArgValue, Decoded, DecodeInput, SyscallArgs } from './syscalls/decode';
export { LiveprobeError } from './errors';
export type { LiveprobeErrorCode } from './errors';

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
} from './events';
export { LiveprobeError } from './errors';
export type { LiveprobeErrorCode } from './errors';

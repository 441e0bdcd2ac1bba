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
  Finding,
  FindingKind,
} from './events';
export { SyscallRecord } from './events';
export { DECODED_SYSCALLS, decodeSyscall, formatReturn, renderSyscall } from './syscalls/decode';
export { setAbbrev, setFdPaths, setXlatStyle } from './syscalls/decode/format';
export type { XlatStyle } from './syscalls/decode/format';
export type { ArgValue, Decoded, DecodeInput, SyscallArgs } from './syscalls/decode';
export { LiveprobeError } from './errors';
export type { LiveprobeErrorCode } from './errors';
export type { AddressSpace, ModelChange, Region, RegionClass, VerifyResult, Difference } from './model';
export { REGION_CLASSES } from './model';
export { Analysis } from './analysis';
export type { Explanation, ClassLine, ThreadLine } from './explain/explain';
export type { BinaryFacts } from './explain/binary-facts';
export type { SessionEvent } from './session';

// What the detectors report. The type itself is an event (lib/events.ts):
// findings travel in the same stream as the syscalls that prove them.
export type { Finding, FindingKind } from '../events';

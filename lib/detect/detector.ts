// What a detector is given: each event after the model applied it, the
// event's numeric call view, and a context to report through and to ask the
// model with. Detectors keep only their proof state (a clone waiting for its
// thread's start, a reservation's evidence); where memory is and what made
// it, they ask the model (docs/architecture.md, "Detectors ask the model").
import type { Finding, TraceEvent } from '../events';
import type { AddressSpace, RegionClass } from '../model';
import type { Call } from '../syscalls/calls';

export interface DetectorContext {
  emit(f: Finding): void;
  /** Labels [start, end) of the process's model; `by` is the event that proved it. */
  classify(pid: number, start: bigint, end: bigint, cls: RegionClass, by: TraceEvent): void;
  /** The process's model with this event applied; undefined before its first snapshot. */
  model(pid: number): AddressSpace | undefined;
}

export interface Detector {
  onEvent(ev: TraceEvent, call: Call | undefined, ctx: DetectorContext): void;
}

// NDJSON: one object per event, bigint as decimal strings (JSON has no 64-bit integers).
import type { TraceEvent } from '../events';

export function toJsonLine(ev: TraceEvent): string {
  return JSON.stringify(ev, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
    return value;
  });
}

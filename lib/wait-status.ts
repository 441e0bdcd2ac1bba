// A wait(2) status and a signal number as the events name them (Node's own
// signal table, node:os constants.signals).
import { constants } from 'node:os';

export interface WaitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(constants.signals)) {
  if (!SIGNAL_NAMES.has(num)) SIGNAL_NAMES.set(num, name as NodeJS.Signals);
}

export function signalName(signo: number): NodeJS.Signals | `SIG${number}` {
  return SIGNAL_NAMES.get(signo) ?? `SIG${signo}`;
}

export function decodeWaitStatus(status: number): WaitStatus {
  const termsig = status & 0x7f;
  if (termsig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: (SIGNAL_NAMES.get(termsig) ?? null) };
}

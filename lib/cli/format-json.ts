// NDJSON: one object per event, bigint as decimal strings (JSON has no 64-bit
// integers), bytes as hex.
import { SyscallRecord, type TraceEvent } from '../events';
import type { ArgValue } from '../syscalls/decode';

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}

function argJson(v: ArgValue): string {
  return typeof v === 'bigint' ? `"${v}"` : JSON.stringify(v);
}

/**
 * Syscall events are most of a trace, so they are written field by field,
 * in toJSON's order, instead of through JSON.stringify with a replacer
 * (about 5x faster; the output is the same).
 */
function syscallJson(ev: SyscallRecord): string {
  let args = '';
  // Argument names are C identifiers: nothing to escape.
  for (const [k, v] of Object.entries(ev.args)) args += `${args ? ',' : ''}"${k}":${argJson(v)}`;
  let s =
    `{"type":"syscall","seq":${ev.seq},"time":${JSON.stringify(ev.time)},"pid":${ev.pid},"tid":${ev.tid},` +
    `"name":${JSON.stringify(ev.name)},"nr":${ev.nr},"arch":"${ev.arch}","raw":["${ev.raw.join('","')}"],` +
    `"args":{${args}},"text":${JSON.stringify(ev.text)},"ret":${ev.ret === null ? 'null' : `"${ev.ret}"`},` +
    `"unfinished":${ev.unfinished},"entryTime":${JSON.stringify(ev.entryTime)}`;
  if (ev.cloneArgs !== undefined) s += `,"cloneArgs":"${Buffer.from(ev.cloneArgs).toString('hex')}"`;
  if (ev.path !== undefined) s += `,"path":${JSON.stringify(ev.path)}`;
  if (ev.argv !== undefined) s += `,"argv":${JSON.stringify(ev.argv)}`;
  if (ev.envc !== undefined) s += `,"envc":${ev.envc}`;
  if (ev.envUnterminated !== undefined) s += `,"envUnterminated":${ev.envUnterminated}`;
  if (ev.entryMem !== undefined) s += `,"entryMem":"${Buffer.from(ev.entryMem).toString('hex')}"`;
  if (ev.exitMem !== undefined) s += `,"exitMem":"${Buffer.from(ev.exitMem).toString('hex')}"`;
  if (ev.truncated !== undefined) s += `,"truncated":${ev.truncated}`;
  if (ev.readFailed !== undefined) s += `,"readFailed":${ev.readFailed}`;
  return s + '}';
}

export function toJsonLine(ev: TraceEvent): string {
  if (ev instanceof SyscallRecord) return syscallJson(ev);
  return JSON.stringify(ev, replacer);
}

/** The generic path, also for syscall events: the reference syscallJson must equal. */
export function toJsonLineGeneric(ev: TraceEvent): string {
  return JSON.stringify(ev, replacer);
}

/** Any other object the CLI writes (explanation, usage, maps): the same encoding. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

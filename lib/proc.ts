// Reading /proc, the one way: a file that cannot be read (the process is
// gone, or not ours to read) is undefined, never an exception. Everything
// liveprobe learns from /proc besides the tracer's own snapshots comes
// through here.
import fs from 'node:fs';

/** A /proc file's text, or undefined. latin1 for byte strings such as environ. */
export function readProc(path: string, encoding: 'utf8' | 'latin1' = 'utf8'): string | undefined {
  try {
    return fs.readFileSync(path, encoding);
  } catch {
    return undefined;
  }
}

/** A /proc symlink's target (exe, fd/N), or undefined. */
export function readProcLink(path: string): string | undefined {
  try {
    return fs.readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** The entries of a /proc directory (task, fd), or []. */
export function listProc(path: string): string[] {
  try {
    return fs.readdirSync(path);
  } catch {
    return [];
  }
}

/** One field of /proc/PID/status text, as written after its colon, trimmed. */
export function statusField(status: string | undefined, field: string): string | undefined {
  if (status === undefined) return undefined;
  const at = status.indexOf(`\n${field}:`);
  const start = status.startsWith(`${field}:`) ? field.length + 1 : at < 0 ? -1 : at + field.length + 2;
  if (start < 0) return undefined;
  const end = status.indexOf('\n', start);
  return status.slice(start, end < 0 ? undefined : end).trim();
}

/**
 * The fields of /proc/PID/stat (or task/TID/stat) after comm, which may hold
 * spaces and parentheses: fields restart after the last ')'. Index 0 is field
 * 3 (state).
 */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Each thread's state letter (R, S, D, Z, t, …), by tid; empty once the process is gone. */
export function taskStates(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const t of listProc(`/proc/${pid}/task`)) {
    const stat = readProc(`/proc/${pid}/task/${t}/stat`);
    if (stat !== undefined) out.set(Number(t), statFields(stat)[0] ?? '?');
  }
  return out;
}

/** Where a thread is, as /proc/PID/task/TID/syscall tells: the call it is blocked in (nr; -1 outside any), its stack pointer and pc. */
export interface TaskSyscall {
  nr: number;
  sp: bigint;
  pc: bigint;
}

/**
 * Each blocked thread's TaskSyscall, without a ptrace stop: the kernel reads
 * it from a task that is not on a CPU ("nr a1 … a6 sp pc", or "-1 sp pc"
 * outside a syscall) and says "running" for one that is (left out).
 */
export function taskSyscalls(pid: number): Map<number, TaskSyscall> {
  const out = new Map<number, TaskSyscall>();
  for (const t of listProc(`/proc/${pid}/task`)) {
    const f = readProc(`/proc/${pid}/task/${t}/syscall`)?.trim().split(' ');
    if (!f || f.length < 3) continue;
    const [sp, pc] = f.slice(-2) as [string, string];
    if (/^0x[0-9a-f]+$/.test(sp) && /^0x[0-9a-f]+$/.test(pc)) out.set(Number(t), { nr: Number(f[0]), sp: BigInt(sp), pc: BigInt(pc) });
  }
  return out;
}

/** The process's environment as it was at exec (NAME=value each). */
export function readEnviron(pid: number): string[] {
  return (readProc(`/proc/${pid}/environ`, 'latin1') ?? '').split('\0').filter(Boolean);
}

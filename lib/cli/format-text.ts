// One strace-like line per event.
import type { SyscallEvent, TraceEvent, WaitStatus } from '../events';
import { errnoName, errnoText } from '../syscalls/errno';

function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

export function formatReturn(ret: bigint | null, unfinished: boolean): string {
  if (unfinished) return ' <unfinished ...>';
  if (ret === null) return ' = ?';
  if (ret < 0n && ret >= -4095n) {
    const e = Number(-ret);
    return ` = -1 ${errnoName(e)} (${errnoText(e)})`;
  }
  return ` = ${ret >= 0n && ret < 0x10000n ? ret.toString() : hex(BigInt.asUintN(64, ret))}`;
}

function formatSyscall(ev: SyscallEvent): string {
  let args: string;
  if ((ev.name === 'execve' || ev.name === 'execveat') && ev.path !== undefined) {
    args = `${JSON.stringify(ev.path)}, ${JSON.stringify(ev.argv ?? [])}`;
  } else {
    args = ev.args.map(hex).join(', ');
  }
  return `${ev.name}(${args})${formatReturn(ev.ret, ev.unfinished)}`;
}

function formatStatus(s: WaitStatus): string {
  return s.signal ? `killed by ${s.signal}` : `exited with ${s.code}`;
}

export function formatEvent(ev: TraceEvent): string {
  const who = `[pid ${String(ev.tid).padStart(6)}] `;
  switch (ev.type) {
    case 'syscall':
      return who + formatSyscall(ev);
    case 'thread-start':
      return ev.how === 'attach'
        ? `${who}+++ attached (process ${ev.pid}) +++`
        : `${who}+++ started by ${ev.how} from ${ev.parentTid} (process ${ev.pid})${ev.followed ? '' : ', not followed'} +++`;
    case 'thread-exit':
      return `${who}+++ thread ${formatStatus(ev)} +++`;
    case 'exit':
      return `${who}+++ process ${ev.pid} ${formatStatus(ev)} +++`;
    case 'exec':
      return `${who}+++ exec ${ev.path}${ev.formerTid !== ev.tid ? ` (by thread ${ev.formerTid})` : ''} +++`;
    case 'signal':
      return ev.groupStop
        ? `${who}--- stopped by ${ev.signal} ---`
        : `${who}--- ${ev.signal} {si_signo=${ev.signal}, si_code=${ev.code}, si_pid=${ev.senderPid}} ---`;
    case 'snapshot':
      return `${who}+++ snapshot of /proc/${ev.pid}/maps: ${ev.maps.split('\n').filter(Boolean).length} regions +++`;
    case 'started':
      return `${who}+++ tracing ${ev.tasks} thread${ev.tasks === 1 ? '' : 's'} of process ${ev.pid} +++`;
    case 'detached':
      return `${who}+++ detached from process ${ev.pid} +++`;
  }
}

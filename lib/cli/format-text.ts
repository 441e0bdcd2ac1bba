// One strace-like line per event: syscalls exactly as strace prints them
// (after a `[pid N]` prefix), the rest in strace's +++/--- style.
import type { TraceEvent, WaitStatus } from '../events';
import { renderSyscall } from '../syscalls/decode';

function formatStatus(s: WaitStatus): string {
  return s.signal ? `killed by ${s.signal}` : `exited with ${s.code}`;
}

/** ANSI colour for findings on a terminal; NO_COLOR (no-color.org) or a file turns it off. */
export function useColour(stream: NodeJS.WritableStream & { isTTY?: boolean }): boolean {
  return Boolean(stream.isTTY) && process.env.NO_COLOR === undefined;
}

/**
 * One event as a line. `column` is strace's -a: the ` = ` of a syscall line
 * is padded out to that column of the line, the `[pid N] ` prefix counted,
 * as strace counts its own; 0 pads nothing.
 */
export function formatEvent(ev: TraceEvent, colour = false, column = 0): string {
  const who = `[pid ${String(ev.tid).padStart(6)}] `;
  switch (ev.type) {
    case 'syscall':
      return who + (column > 0 ? renderSyscall(ev, undefined, column - who.length) : ev.text);
    case 'thread-start':
      return ev.how === 'attach'
        ? `${who}+++ attached (process ${ev.pid}) +++`
        : `${who}+++ started by ${ev.call ?? ev.how} from ${ev.parentTid} (process ${ev.pid})${ev.followed ? '' : ', not followed'} +++`;
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
    case 'resync':
      return `${who}+++ resync after ${ev.lost} lost records: model re-read from /proc/${ev.pid}/maps, ${ev.differing} range${ev.differing === 1 ? '' : 's'} differed +++` +
        ev.differences.map((d) => `\n${who}    ${d}`).join('');
    case 'detached':
      return `${who}+++ detached from process ${ev.pid} +++`;
    case 'finding': {
      // A marker no strace line starts with, so findings stand out and grep well.
      const gap = ev.lostInProof ? ` (${ev.lostInProof} record${ev.lostInProof === 1 ? '' : 's'} lost during its proof)` : '';
      const line = `${who}>>> ${ev.kind}: ${ev.summary} [evidence: ${ev.evidence.join(', ')}]${gap}`;
      return colour ? `\x1b[1;33m${line}\x1b[0m` : line;
    }
  }
}

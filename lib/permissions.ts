// Why the kernel refused to let us trace a process (PTRACE_SEIZE → EPERM), in
// words a person can act on, after strace's diagnose_attach_eperm/hint_yama
// (docs/ordering-and-races.md, "Attach permissions"). Facts are read from
// /proc; the wording is a pure function of them, so every branch can be
// tested on any machine.
import { readProc } from './proc';

export interface AttachPermissionFacts {
  /** kernel.yama.ptrace_scope, or undefined when the Yama LSM is not there. */
  yamaScope: number | undefined;
  /** CAP_SYS_PTRACE is in liveprobe's effective capability set. */
  capSysPtrace: boolean;
  ourUid: number;
  /** The target's real, effective and saved uids; [] if they could not be read. */
  targetUids: number[];
  /** The target descends from liveprobe (what Yama's scope 1 allows). */
  descendant: boolean;
}

const CAP_SYS_PTRACE = 19n;

function readStatus(pid: number | 'self'): string {
  return readProc(`/proc/${pid}/status`) ?? '';
}

export function attachPermissionFacts(pid: number): AttachPermissionFacts {
  const scope = readProc('/proc/sys/kernel/yama/ptrace_scope');
  const yamaScope = scope === undefined ? undefined : Number(scope.trim());
  const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(readStatus('self'))?.[1];
  const capSysPtrace = capEff !== undefined && ((BigInt(`0x${capEff}`) >> CAP_SYS_PTRACE) & 1n) === 1n;
  const uidLine = /^Uid:\s*(\d+)\s+(\d+)\s+(\d+)/m.exec(readStatus(pid));
  const targetUids = uidLine ? [Number(uidLine[1]), Number(uidLine[2]), Number(uidLine[3])] : [];
  let descendant = false;
  for (let p = pid, hops = 0; p > 1 && hops < 4096; hops++) {
    const ppid = Number(/^PPid:\s*(\d+)/m.exec(readStatus(p))?.[1] ?? 0);
    if (ppid === process.pid) descendant = true;
    if (descendant || ppid === p) break;
    p = ppid;
  }
  return { yamaScope, capSysPtrace, ourUid: process.getuid?.() ?? -1, targetUids, descendant };
}

/** One line: what was refused, why (as far as /proc tells), and what to do. */
export function explainAttachEperm(pid: number, f: AttachPermissionFacts): string {
  const head = `not permitted to trace process ${pid}`;
  if (f.yamaScope !== undefined && f.yamaScope >= 3) {
    return `${head}: kernel.yama.ptrace_scope is ${f.yamaScope}, which forbids ptrace to everyone, ` +
      `even with CAP_SYS_PTRACE, until the next reboot`;
  }
  const otherUser = f.targetUids.some((u) => u !== f.ourUid);
  if (!f.capSysPtrace) {
    const why: string[] = [];
    if (otherUser) why.push(`it runs as uid ${f.targetUids[1]} and liveprobe as uid ${f.ourUid}`);
    if (f.yamaScope === 2) why.push('kernel.yama.ptrace_scope is 2 (only CAP_SYS_PTRACE may trace)');
    if (f.yamaScope === 1 && !f.descendant) {
      why.push('kernel.yama.ptrace_scope is 1 (without CAP_SYS_PTRACE only descendants: use liveprobe run, or set it to 0)');
    }
    if (why.length === 0) why.push('it may be non-dumpable (a setuid program, or PR_SET_DUMPABLE 0)');
    return `${head}: ${why.join('; ')}; run liveprobe as root or with CAP_SYS_PTRACE ` +
      `(sudo; in a container, --cap-add SYS_PTRACE)`;
  }
  return `${head}, even with CAP_SYS_PTRACE: a security module (SELinux, AppArmor) or the container's ` +
    `seccomp profile forbids ptrace here; allow ptrace for liveprobe there`;
}

// The kernel's tracepoints as tracefs describes them: each event's id and
// where its fields lie in the raw record (events/<group>/<name>/format).
// The perf engine opens events by these ids and native/src/perf_events.cc
// reads the fields at these offsets; nothing is assumed about a layout.
import fs from 'node:fs';

/** Where tracefs is mounted: its own mount point, or under debugfs on older set-ups. */
export const TRACEFS_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'] as const;

export const MOUNT_COMMAND = 'mount -t tracefs nodev /sys/kernel/tracing';

export interface TracepointField {
  offset: number;
  size: number;
}

export interface Tracepoint {
  id: number;
  /** Every field by name, the common_* ones included. */
  fields: Map<string, TracepointField>;
  /** Field names in the order the format lists them. */
  order: string[];
}

/** Parses a format file's text ("field:unsigned long len;\toffset:24;\tsize:8;\tsigned:0;"). */
export function parseFormat(text: string): Tracepoint | undefined {
  const id = /^ID:\s*(\d+)/m.exec(text);
  if (!id) return undefined;
  const fields = new Map<string, TracepointField>();
  const order: string[] = [];
  for (const m of text.matchAll(/field:([^;]*);\s*offset:(\d+);\s*size:(\d+);/g)) {
    // The name is the declaration's last word, before any array suffix: "char comm[16]" → comm.
    const name = /([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$/.exec(m[1]!.trim())?.[1];
    if (!name) continue;
    fields.set(name, { offset: Number(m[2]), size: Number(m[3]) });
    order.push(name);
  }
  return { id: Number(id[1]), fields, order };
}

export type TracefsProblem = { kind: 'not-mounted' } | { kind: 'not-permitted'; root: string };

/** The first root whose syscall tracepoints can be read, or why none can. */
export function findTracefs(roots: readonly string[] = TRACEFS_ROOTS): string | TracefsProblem {
  let denied: string | undefined;
  for (const root of roots) {
    try {
      fs.readFileSync(`${root}/events/syscalls/sys_enter_mmap/id`, 'utf8');
      return root;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') denied ??= root;
    }
  }
  return denied ? { kind: 'not-permitted', root: denied } : { kind: 'not-mounted' };
}

/** One tracepoint's description, or undefined if this kernel has no such event. */
export function readTracepoint(root: string, group: string, name: string): Tracepoint | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`${root}/events/${group}/${name}/format`, 'utf8');
  } catch {
    return undefined;
  }
  return parseFormat(text);
}

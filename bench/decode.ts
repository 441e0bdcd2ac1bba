// bench/decode: how fast syscall events are decoded and rendered.
//
// Records the syscall events of real runs (arenas -n 8 and ex7, every
// syscall traced), then replays the recording: each replayed event is a fresh
// SyscallRecord built from the recorded fields, as the session builds them
// from the wire, and the bench reads what a consumer reads. Prints events per
// second for: building only (the floor, nothing decoded), `args` (structured
// decoding), `text` (decoding + strace rendering), and JSON (what --json
// writes), per second of wall time and of CPU time (steadier when the machine
// is busy). No pass/fail: the pipeline must keep well above 100k events/s.
//
//   node dist/bench/decode.js [--seconds S] [--save FILE | --load FILE]
import fs from 'node:fs';
import { run } from '../lib';
import { type SyscallFields, SyscallRecord } from '../lib/events';
import { toJsonLine } from '../lib/cli/format-json';
import { defaultTraceFilter, hostArch } from '../lib/syscalls';
import { hasDecoder } from '../lib/syscalls/decode';
import { fixture } from '../test/helpers/fixtures';

interface Options {
  seconds: number;
  save?: string;
  load?: string;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { seconds: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seconds') o.seconds = Number(argv[++i]);
    else if (a === '--save') o.save = argv[++i];
    else if (a === '--load') o.load = argv[++i];
    else throw new Error(`unknown option ${a}; use --seconds S, --save FILE or --load FILE`);
  }
  return o;
}

/** The recorded part of an event: everything but the decoded args and text. */
function fieldsOf(ev: SyscallRecord): SyscallFields {
  const f: SyscallFields = {
    type: 'syscall', seq: ev.seq, time: ev.time, pid: ev.pid, tid: ev.tid, name: ev.name, nr: ev.nr,
    arch: ev.arch, raw: ev.raw, ret: ev.ret, unfinished: ev.unfinished, entryTime: ev.entryTime,
  };
  if (ev.cloneArgs) f.cloneArgs = ev.cloneArgs;
  if (ev.path !== undefined) f.path = ev.path;
  if (ev.argv) f.argv = ev.argv;
  if (ev.truncated) f.truncated = true;
  if (ev.readFailed) f.readFailed = true;
  return f;
}

async function record(): Promise<SyscallFields[]> {
  const out: SyscallFields[] = [];
  for (const [name, args] of [['arenas', ['-n', '8']], ['ex7', ['-sleep', '200ms']]] as const) {
    const session = run(await fixture(name), [...args], { stdio: 'ignore', trace: 'all' });
    for await (const ev of session) if (ev instanceof SyscallRecord) out.push(fieldsOf(ev));
    await session.exited;
  }
  return out;
}

// A recording on disk: one JSON object per line, bigints as decimal strings
// tagged by key, bytes as hex.
function save(file: string, events: SyscallFields[]): void {
  const lines = events.map((e) =>
    JSON.stringify({ ...e, raw: e.raw.map(String), ret: e.ret === null ? null : String(e.ret), cloneArgs: e.cloneArgs && Buffer.from(e.cloneArgs).toString('hex') }),
  );
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

interface Stored extends Omit<SyscallFields, 'raw' | 'ret' | 'cloneArgs'> {
  raw: string[];
  ret: string | null;
  cloneArgs?: string;
}

function load(file: string): SyscallFields[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const s = JSON.parse(line) as Stored;
      // A literal of one fixed shape, as decodeRecord makes: objects straight
      // from JSON.parse would make every field read in the replay slow.
      const f: SyscallFields = {
        type: 'syscall', seq: s.seq, time: s.time, pid: s.pid, tid: s.tid, name: s.name, nr: s.nr, arch: s.arch,
        raw: s.raw.map((v) => BigInt(v)), ret: s.ret === null ? null : BigInt(s.ret), unfinished: s.unfinished,
        entryTime: s.entryTime,
      };
      if (s.cloneArgs !== undefined) f.cloneArgs = Uint8Array.from(Buffer.from(s.cloneArgs, 'hex'));
      if (s.path !== undefined) f.path = s.path;
      if (s.argv !== undefined) f.argv = s.argv;
      if (s.truncated) f.truncated = true;
      if (s.readFailed) f.readFailed = true;
      return f;
    });
}

interface Rate {
  /** Events per second of wall time. */
  wall: number;
  /** Events per second of this process's CPU time: steadier on a busy machine. */
  cpu: number;
}

/** Replays the recording until `seconds` have passed. */
function measure(events: readonly SyscallFields[], seconds: number, use: (ev: SyscallRecord) => unknown): Rate {
  let n = 0;
  let sink = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  do {
    for (const f of events) {
      const v = use(new SyscallRecord(f));
      if (typeof v === 'string') sink += v.length;
    }
    n += events.length;
    now = process.hrtime.bigint();
  } while (now < until);
  const cpu = process.cpuUsage(cpu0);
  if (sink < 0) console.log(sink); // keeps the work observable
  return { wall: n / (Number(now - start) / 1e9), cpu: n / ((cpu.user + cpu.system) / 1e6) };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const events = o.load ? load(o.load) : await record();
  if (o.save) save(o.save, events);
  // The default trace set is what a session delivers unless told otherwise:
  // nearly all of it goes through a decoder of its own.
  const filter = defaultTraceFilter(hostArch());
  const streams: [string, SyscallFields[]][] = [
    ['every syscall', events],
    ['default set (memory, process, thread)', events.filter((e) => filter.matches(e.nr))],
  ];
  // One warm-up pass so the JIT has seen every decoder.
  measure(events, 0.2, (ev) => ev.text);
  const num = (v: number): string => Math.round(v).toLocaleString('en-US').padStart(12);
  const fmt = (r: Rate): string => `${num(r.wall)} events/s wall, ${num(r.cpu)} per CPU second`;
  for (const [label, stream] of streams) {
    const own = stream.filter((e) => hasDecoder(e.name)).length;
    console.log(`${label}: ${stream.length} recorded events, ${own} with a decoder of their own`);
    console.log(`  build only           ${fmt(measure(stream, o.seconds, (ev) => ev.seq))}`);
    console.log(`  build + args         ${fmt(measure(stream, o.seconds, (ev) => ev.args))}`);
    console.log(`  build + args + text  ${fmt(measure(stream, o.seconds, (ev) => ev.text))}`);
    console.log(`  build + JSON line    ${fmt(measure(stream, o.seconds, (ev) => toJsonLine(ev)))}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});

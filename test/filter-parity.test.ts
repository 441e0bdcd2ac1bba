// The seccomp-filtered run sees every memory and thread syscall that the
// stop-on-every-syscall mode sees. Two runs of a Go program never make the
// same calls (thread counts, GC timing, arena alignment vary), so the
// comparison is on what is deterministic: the main thread's start-up up to its
// first thread, and the prologue of every other thread (start_thread, its
// arena, Go's minit), with the 0–2 arena-trimming munmaps that depend only on
// where the kernel put the reservation folded into one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { run } from '../lib';
import { defaultTraceFilter, hostArch } from '../lib/syscalls';
import { fixture } from './helpers/fixtures';
import { type TraceLine, canonicalGoLine, goHeapBaseVariance } from './helpers/strace';

const T = { timeout: 120_000 };
const filter = defaultTraceFilter(hostArch());

interface Shape {
  mainStartup: string;
  prologues: Set<string>;
  threads: number;
}

async function shape(bin: string, args: string[], trace: string | undefined): Promise<Shape> {
  const session = run(bin, args, { trace, stdio: ['ignore', 'ignore', 'inherit'] });
  const perThread = new Map<number, string[]>();
  const mainLines: TraceLine[] = [];
  for await (const ev of session) {
    if (ev.type !== 'syscall' || !filter.matches(ev.nr)) continue;
    let l = perThread.get(ev.tid);
    if (!l) perThread.set(ev.tid, (l = []));
    l.push(ev.name);
    if (ev.tid === session.pid) mainLines.push({ tid: ev.tid, name: ev.name, text: ev.text });
  }
  const pid = session.pid!;
  // Go's heap commits and arena reservations at init vary in number with its
  // random heap base, run to run: left out of the start-up compared.
  const varies = goHeapBaseVariance();
  const main = mainLines.filter((l) => !varies(canonicalGoLine(l))).map((l) => l.name);
  const firstThread = main.findIndex((n) => n === 'clone3' || n === 'clone');
  const prologues = new Set<string>();
  for (const [tid, names] of perThread) {
    if (tid === pid) continue;
    const end = names.findIndex((n) => n === 'gettid' || n === 'exit');
    prologues.add(
      names
        .slice(0, end + 1)
        .join(',')
        .replace(/(,munmap)+/g, ',munmap*'),
    );
  }
  return { mainStartup: main.slice(0, firstThread).join(','), prologues, threads: perThread.size - 1 };
}

for (const [name, args] of [
  ['ex7', ['-sleep', '200ms']],
  ['arenas', ['-n', '4']],
] as const) {
  describe(`seccomp-filtered run vs every-syscall run: ${name}`, () => {
    test('the same start-up and the same thread prologues, call by call', T, async () => {
      const bin = await fixture(name);
      // A pair of runs may still differ by chance (timing): up to 3 pairs. A
      // syscall the filter missed would be missing from every filtered run.
      const norm = (p: Set<string>) => [...new Set([...p].map((x) => x.replace('mmap,munmap*,', 'mmap,')))].sort();
      let last: unknown;
      for (let attempt = 0; attempt < 3; attempt++) {
        const filtered = await shape(bin, [...args], undefined);
        const all = await shape(bin, [...args], 'all');
        try {
          assert.ok(filtered.threads >= 3 && all.threads >= 3);
          assert.equal(filtered.mainStartup.replace(/,madvise/g, ''), all.mainStartup.replace(/,madvise/g, ''));
          assert.ok(filtered.mainStartup.split(',').length > 30, 'the start-up is long: ld.so, libc, the Go runtime');
          // Every kind of thread prologue one mode saw, the other saw too (the
          // arena's mmap may or may not need trimming: both forms are one kind).
          assert.deepEqual(norm(filtered.prologues), norm(all.prologues));
          return;
        } catch (err) {
          last = err;
        }
      }
      throw last;
    });
  });
}

// The live address-space model against the kernel's /proc/PID/maps, on real
// processes traced by the real addon. Every comparison happens at a point
// where the target cannot change its mappings: blocked after a marker
// syscall the consumer has seen (the C fixture), or group-stopped by SIGSTOP
// with every thread's stop seen (Go programs, which never stop by themselves).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { attach, run } from '../lib';
import type { SyscallEvent, TraceEvent } from '../lib/events';
import type { AddressSpace, ModelChange } from '../lib/model';
import { fixture } from './helpers/fixtures';
import { Quiescer, consume, explain, owning, vmSizeKb } from './helpers/model';
import { LineReader, glibcArenaHeaps, heldWithArenaCount } from './helpers/ready';
import { until } from './helpers/reliability';
import { startStranger } from './helpers/stranger';
import { readAll, runCli, tasksOf } from './helpers/trace';

const T = { timeout: 60_000 };
/** mmap_torture's marker mapping (exec and fork modes). */
const MARKER = 0x6a6a00000000n;
const PAGE = 4096n;

/** The fixture's "<label> <op> tried=N ok=M" lines. */
function opCounts(out: string, label: string): Map<string, { tried: number; ok: number }> {
  const m = new Map<string, { tried: number; ok: number }>();
  for (const line of out.split('\n')) {
    const r = new RegExp(`^${label} (\\w+) tried=(\\d+) ok=(\\d+)$`).exec(line);
    if (r) m.set(r[1]!, { tried: Number(r[2]), ok: Number(r[3]) });
  }
  return m;
}

function isSyscall(ev: TraceEvent, name: string): ev is SyscallEvent {
  return ev.type === 'syscall' && ev.name === name;
}

function succeeded(ev: SyscallEvent): boolean {
  return ev.ret !== null && !(ev.ret < 0n && ev.ret >= -4095n);
}

/** verify() equal, and the model's size is VmSize to the kB. */
function assertMatchesKernel(model: AddressSpace, pid: number, what: string): void {
  const r = model.verify();
  assert.ok(r.equal, `${what}: ${explain(r)}`);
  assert.equal(r.modelBytes, r.kernelBytes, what);
  assert.equal(model.size / 1024n, vmSizeKb(pid), `${what}: model size = VmSize`);
}

describe('address-space model', () => {
  test('mmap torture: 1,200 seeded-random memory syscalls from two threads; equal to /proc/PID/maps at all 20 checkpoints', T, async () => {
    const bin = await fixture('mmap_torture');
    // Randomization off: the seed then gives the same layouts on every run, so a failure replays.
    const session = run(bin, ['ops', '20240604', '1200', '20'], { stdio: ['pipe', 'pipe', 'inherit'], noAslr: true });
    await owning(session, async () => {
      const output = readAll(session.stdout);
      const events: TraceEvent[] = [];
      let checkpoints = 0;
      for await (const ev of session) {
        events.push(ev);
        if (isSyscall(ev, 'mincore')) {
          // Every earlier syscall of the (now blocked) process has reached the model.
          assertMatchesKernel(session.model!, session.pid!, `checkpoint ${checkpoints + 1}`);
          checkpoints++;
          session.stdin!.write('c');
        }
      }
      assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
      assert.equal(checkpoints, 20);

      const out = await output;
      assert.match(out, /^ops pid=\d+ ops=1200 checkpoints=20$/m);
      const counts = opCounts(out, 'ops');
      assert.equal(counts.size, 20, 'every kind of operation ran');
      for (const [op, c] of counts) assert.ok(c.ok > 0, `${op} succeeded at least once (${c.ok}/${c.tried})`);
      // The trace holds exactly the calls the fixture counted.
      const sys = events.filter((e): e is SyscallEvent => e.type === 'syscall');
      const okCount = (name: string) => sys.filter((e) => e.name === name && succeeded(e)).length;
      const sum = (...ops: string[]) => ops.reduce((n, op) => n + counts.get(op)!.ok, 0);
      assert.equal(okCount('mremap'), sum('mremap_shrink', 'mremap_grow', 'mremap_maymove', 'mremap_fixed', 'mremap_dontunmap', 'mremap_dup'));
      assert.equal(okCount('shmat'), sum('shmat'));
      assert.equal(okCount('shmdt'), sum('shmdt'));
      assert.equal(okCount('remap_file_pages'), sum('remap_file_pages'));
      assert.equal(okCount('pkey_mprotect'), sum('pkey_mprotect'));
      // Both threads changed the one address space of the process.
      const pid = session.pid!;
      const helperMmaps = sys.filter((e) => e.tid !== pid && e.name === 'mmap' && succeeded(e));
      assert.equal(new Set(helperMmaps.map((e) => e.tid)).size, 1, 'the helper thread made mmaps too');
    });
  });

  test('provenance: a region remembers the mmap that made it (tid, seq, entry and return times)', T, async () => {
    const bin = await fixture('mmap_torture');
    const session = run(bin, ['exec', '3'], { stdio: ['pipe', 'ignore', 'inherit'] });
    await owning(session, async () => {
      let marker: SyscallEvent | undefined;
      let checked = false;
      for await (const ev of session) {
        if (isSyscall(ev, 'mmap') && ev.ret === BigInt(MARKER)) marker = ev;
        if (isSyscall(ev, 'mincore')) {
          if (marker && !checked) {
            const r = session.model!.find(MARKER + PAGE)!;
            assert.deepEqual(
              { start: r.start, end: r.end, perms: r.perms, name: r.name, class: r.class },
              { start: MARKER, end: MARKER + 4n * PAGE, perms: 'r--p', name: '', class: null },
            );
            assert.deepEqual(r.origin, { tid: marker.tid, seq: marker.seq, time: marker.time, entered: marker.entryTime, cause: 'mmap' });
            checked = true;
          }
          session.stdin!.write('c');
        }
      }
      assert.ok(checked);
    });
  });

  for (const name of ['ex7', 'ex7pure'] as const) {
    test(`${name} during its sleep: equal to /proc/PID/maps, total = VmSize to the kB`, T, async () => {
      const bin = await fixture(name);
      const session = run(bin, ['-ready'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await owning(session, async () => {
        const lines = new LineReader(session.stdout!);
        const pid = await session.ready;
        const q = new Quiescer(pid);
        const done = consume(session, q);
        await lines.next(/^ready$/);
        const check = () => {
          assertMatchesKernel(session.model!, pid, `${name} asleep`);
          if (name === 'ex7') {
            // cgo: glibc made the Ms' stacks: 8 MiB + a 4 KiB PROT_NONE guard each, by mmap.
            const stacks = session.model!.regions().filter((r) => r.origin.cause === 'mmap' && r.end - r.start === 8n << 20n && r.perms === 'rw-p');
            assert.equal(stacks.length, tasksOf(pid).length - 1, 'a pthread stack per M in the model');
          }
        };
        if (name === 'ex7') {
          // Held when its start-up is over: glibc's arena count stands still.
          await heldWithArenaCount(pid, lines, q, check);
        } else {
          await q.stop();
          try {
            check();
          } finally {
            q.resume();
          }
        }
        process.kill(pid, 'SIGUSR1');
        await done;
        assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
      });
    });
  }

  test('arenas: 8 C threads make glibc arenas at once (the 128 MiB mmap / munmap race); equal while they hold', T, async () => {
    const bin = await fixture('arenas');
    const session = run(bin, ['-ready', '-n', '8'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await owning(session, async () => {
      const lines = new LineReader(session.stdout!);
      const pid = await session.ready;
      const q = new Quiescer(pid);
      const done = consume(session, q);
      await lines.next(/^ready$/);
      process.kill(pid, 'SIGUSR1');
      const holding = (await lines.next(/^holding heaps=(.*)$/))[1]!.split(',').map((h) => BigInt(h));
      await q.stop();
      try {
        assertMatchesKernel(session.model!, pid, 'arenas holding');
        // Every arena heap is a 64 MiB-aligned region from an mmap of PROT_NONE memory, its head made RW.
        const heads = session.model!.regions().filter((r) => r.start % (64n << 20n) === 0n && r.perms === 'rw-p' && r.end - r.start === 0x21000n);
        for (const h of holding) assert.ok(heads.some((r) => r.start === h), `the heap of a C thread, 0x${h.toString(16)}, is an arena head in the model`);
      } finally {
        q.resume();
      }
      process.kill(pid, 'SIGUSR1');
      await done;
      await lines.closed;
      assert.equal(lines.all().at(-1), 'arenas: threads=8 distinct_64MiB_heaps=8');
    });
  });

  for (const name of ['ex7', 'memchurn'] as const) {
    test(`attach to a running ${name}: equal right after attach and twice more while it acts traced`, T, async () => {
      const bin = await fixture(name);
      const target = await startStranger(bin, name === 'ex7' ? ['-ready'] : []);
      try {
        await target.lines.next(name === 'ex7' ? /^ready$/ : /^memchurn: ready$/); // running, not starting
        // engine 'ptrace': the Quiescer knows the target is at rest from its group-stop events, which only ptrace reports.
        const session = attach(target.pid, { engine: 'ptrace' });
        const q = new Quiescer(target.pid);
        let mmaps = 0;
        const done = consume(session, q, (ev) => {
          if (isSyscall(ev, 'mmap')) mmaps++;
        });
        for (const step of [0, 1, 2]) {
          // Between checks the target acts while traced: memchurn maps 10 more
          // times; ex7 answers a request (a signal delivery and a write).
          if (step && name === 'memchurn') {
            const from = mmaps;
            await until(() => mmaps >= from + 10, 'memchurn to map 10 more times', 30_000);
          } else if (step) {
            await glibcArenaHeaps(target.pid, target.lines);
          }
          await q.stop();
          try {
            assertMatchesKernel(session.model!, target.pid, `${name}, check ${step} after attach`);
          } finally {
            q.resume();
          }
        }
        if (name === 'memchurn') assert.ok(mmaps > 10, `memchurn kept mapping while traced (${mmaps} mmaps)`);
        await session.detach();
        await done;
        assert.deepEqual(await session.exited, { code: null, signal: null, detached: true });
      } finally {
        target.kill();
      }
    });
  }

  test('exec: the model is emptied and re-seeded by the new image, and equals /proc/PID/maps after it', T, async () => {
    const bin = await fixture('mmap_torture');
    const session = run(bin, ['exec', '5'], { stdio: ['pipe', 'ignore', 'inherit'] });
    await owning(session, async () => {
      let before: AddressSpace | undefined;
      let execSeq = -1;
      let checkpoints = 0;
      const changes: ModelChange[] = [];
      for await (const ev of session) {
        if (ev.type === 'exec') execSeq = ev.seq;
        if (!isSyscall(ev, 'mincore')) continue;
        checkpoints++;
        const model = session.model!;
        assertMatchesKernel(model, session.pid!, `checkpoint ${checkpoints}`);
        if (checkpoints === 2) {
          // Before the exec: the marker is mapped. Watch the model from here.
          assert.equal(model.find(MARKER)?.end, MARKER + 4n * PAGE);
          before = model;
          model.on('change', (c) => changes.push(c));
        } else if (checkpoints > 2) {
          assert.ok(execSeq > 0, 'the exec came before this checkpoint');
          assert.equal(model, before, 'the same model object lives on across exec');
          assert.equal(model.find(MARKER), undefined, 'the old image is gone');
          for (const r of model.regions()) assert.ok(r.origin.seq > execSeq, `region ${r.start.toString(16)} predates the exec`);
        }
        session.stdin!.write('c');
      }
      assert.equal(checkpoints, 4);
      assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
      // The old image's last changes, one reset at the exec record, one seed
      // from the snapshot record right after it, then the new image's syscalls.
      const at = changes.findIndex((c) => c.cause === 'exec');
      assert.ok(at >= 0);
      assert.deepEqual([changes[at]!.seq, changes[at + 1]!.cause, changes[at + 1]!.seq], [execSeq, 'snapshot', execSeq + 1]);
      assert.ok(changes.slice(0, at).every((c) => c.seq < execSeq));
      assert.ok(changes.slice(at + 2).every((c) => c.seq > execSeq + 1 && c.cause !== 'exec'));
    });
  });

  test('fork with followForks: the child gets a copy (minus MADV_DONTFORK), each process its own model', T, async () => {
    const bin = await fixture('mmap_torture');
    const session = run(bin, ['fork', '7'], { stdio: ['pipe', 'ignore', 'inherit'], followForks: true });
    await owning(session, async () => {
      let parent = 0;
      let child = 0;
      let childCheckpoints = 0;
      for await (const ev of session) {
        if (ev.type === 'thread-start' && ev.how === 'fork') child = ev.tid;
        if (!isSyscall(ev, 'mincore')) continue;
        parent ||= session.pid!;
        const model = session.models.get(ev.pid)!;
        assertMatchesKernel(model, ev.pid, `pid ${ev.pid}`);
        if (ev.pid === child) {
          childCheckpoints++;
          const parentModel = session.models.get(parent)!;
          assert.notEqual(model, parentModel);
          // The parent waits in waitpid meanwhile: it can be compared too.
          assertMatchesKernel(parentModel, parent, 'the parent while its child runs');
          if (childCheckpoints === 1) {
            assert.equal(model.find(MARKER), undefined, 'MADV_DONTFORK memory is not inherited');
            assert.ok(parentModel.find(MARKER), 'the parent keeps it');
            const inherited = model.find(MARKER + 8n * PAGE)!;
            assert.equal(inherited.origin.tid, parent, "an inherited region keeps the parent's provenance");
          }
        }
        session.stdin!.write('c');
      }
      assert.ok(child > 0);
      assert.equal(childCheckpoints, 3);
      assert.equal(session.models.get(child)?.exited, true);
      assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
    });
  });

  test('vfork + exec with followForks: the child leaves the shared model at its exec; both equal', T, async () => {
    const bin = await fixture('mmap_torture');
    const session = run(bin, ['vfork', '11'], { stdio: ['pipe', 'ignore', 'inherit'], followForks: true });
    await owning(session, async () => {
      let child = 0;
      let seen = 0;
      for await (const ev of session) {
        if (ev.type === 'thread-start' && ev.how === 'vfork') child = ev.tid;
        if (!isSyscall(ev, 'mincore')) continue;
        seen++;
        assertMatchesKernel(session.models.get(ev.pid)!, ev.pid, `pid ${ev.pid}`);
        if (ev.pid === child) {
          assert.notEqual(session.models.get(child), session.model);
          assertMatchesKernel(session.model!, session.pid!, 'the parent, waiting for its child');
        }
        session.stdin!.write('c');
      }
      assert.ok(child > 0);
      assert.equal(seen, 3);
      assert.deepEqual(await session.exited, { code: 0, signal: null, detached: false });
    });
  });

  test('CLI --maps at detach prints the model row for row as /proc/PID/maps of the live target, plus a class column', T, async () => {
    // A stranger that made 2 threads and their arenas, then waits untouched:
    // its /proc/PID/maps after the detach is what it was while traced.
    const target = await startStranger(await fixture('stranger'), ['2', '0']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'liveprobe-maps-'));
    try {
      await target.lines.next(/^ready /);
      const file = path.join(dir, 'trace.txt');
      const r = await runCli(['attach', '--maps', '-o', file, '--duration', '0.3', String(target.pid)]);
      assert.deepEqual([r.code, r.stderr], [0, '']);
      const maps = fs.readFileSync(`/proc/${target.pid}/maps`, 'utf8').trimEnd().split('\n');
      const vmSize = vmSizeKb(target.pid);
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      const head = lines.findIndex((l) => l.startsWith('# liveprobe model of pid '));
      assert.ok(head >= 0, 'a maps section');
      assert.equal(lines[head], `# liveprobe model of pid ${target.pid} at detach: ${maps.length} regions, VmSize ${vmSize} kB`);
      assert.equal(lines[head + 1], '# start-end perms offset dev inode class name');
      const body = lines.slice(head + 2).filter((l) => l !== '');
      // Each row: the kernel's fields, then a class (or -), then the kernel's name.
      const fields = (l: string) => l.trim().split(/\s+/);
      assert.deepEqual(
        body.map((l) => [...fields(l).slice(0, 5), ...fields(l).slice(6)].join(' ')),
        maps.map((l) => fields(l).join(' ')),
      );
      const classes = body.map((l) => fields(l)[5]!);
      assert.ok(classes.every((c) => c === '-' || /^[a-z-]+$/.test(c)), classes.join(' '));
    } finally {
      target.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

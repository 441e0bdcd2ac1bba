// bench/pipeline: the TypeScript side alone. Records the raw batches of a
// real traced run (sysload-c with -e trace=all: every syscall, ~300k events),
// then replays them until 5 million events have gone through decode, the
// address-space model, the detectors and the NDJSON writer. Prints events
// per second and the peak RSS of this process.
//
//   npm run build:ts && node dist/bench/pipeline.js [--events N]
import { native } from '../lib/native';
import { Analysis } from '../lib/analysis';
import { decodeRecord, isErrorRecord } from '../lib/events';
import { toJsonLine } from '../lib/cli/format-json';
import { BatchView } from '../lib/wire';
import { hostArch } from '../lib/syscalls';
import { nativeReadRules } from '../lib/syscalls/memory-reads';
import { nativeQuietRules } from '../lib/syscalls/quieting';
import { fixture } from '../test/helpers/fixtures';

async function record(): Promise<ArrayBuffer[]> {
  const bin = await fixture('sysload-c');
  const batches: ArrayBuffer[] = [];
  const { NativeSession } = native();
  await new Promise<void>((resolve) => {
    const s: import('../lib/native').NativeSession = new NativeSession(
      'run',
      {
        file: bin, argv: [bin, '-ops', '150000', '-work', '10'], env: [], cwd: process.cwd(), stdio: [0, 1, 2],
        noAslr: false, followForks: false, overflow: 'block', traceAll: true, traceNrs: [], readRules: nativeReadRules(hostArch()),
        ...nativeQuietRules(hostArch(), false),
      },
      (ab) => {
        batches.push(ab);
        const last = new BatchView(ab).last;
        if (last) resolve();
        else s.grant(1);
      },
    );
    s.grant(4);
    s.start();
  });
  return batches;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--events');
  const target = i > 0 ? Number(process.argv[i + 1]) : 5_000_000;
  const batches = await record();
  const perPass = batches.reduce((n, b) => n + new BatchView(b).count, 0);
  console.log(`recorded ${batches.length} batches, ${perPass} events (sysload-c, every syscall)`);
  for (const withJson of [false, true]) await replay(batches, target, withJson);
}

async function replay(batches: ArrayBuffer[], target: number, withJson: boolean): Promise<void> {
  let peakRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const base = process.hrtime.bigint();
  let events = 0;
  let bytes = 0;
  let findings = 0;
  const t0 = performance.now();
  while (events < target) {
    const analysis = new Analysis();
    for (const ab of batches) {
      const b = new BatchView(ab);
      for (let k = 0; k < b.count; k++) {
        const ev = decodeRecord(b, k, base);
        if (isErrorRecord(ev)) continue;
        findings += analysis.process(ev).length;
        if (withJson) bytes += toJsonLine(ev).length + 1;
      }
      events += b.count;
      // memoryUsage() reads /proc: sample, don't measure every batch.
      if ((events & 0xffff) < b.count) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    await new Promise((r) => setImmediate(r));
  }
  const secs = (performance.now() - t0) / 1000;
  clearInterval(rssTimer);
  console.log(
    `${withJson ? 'decode + model + detectors + NDJSON' : 'decode + model + detectors'}: ${events} events in ${secs.toFixed(2)} s = ` +
      `${Math.round(events / secs).toLocaleString('en')} events/s;${withJson ? ` ${(bytes / 2 ** 20).toFixed(0)} MiB of NDJSON;` : ''} ` +
      `${findings} findings; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

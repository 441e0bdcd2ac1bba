// bench/model: address-space model updates per second with 10, 1,000 and
// 100,000 regions, to show the cost of an update grows like log n (the
// interval map is a skip list), not like n.
//
// Each round applies a fixed mix of updates at random regions of a model
// that holds n regions of 4 pages, 1 page apart (so nothing merges and n
// stays n): mprotect of a whole region and back; mprotect of its middle
// page (a split into three) and back (a merge into one); munmap of the
// region then a MAP_FIXED mmap of it again. Rates are per CPU second of
// this process (steadier than wall time on a shared machine). Prints
// updates/s, µs per update, and the µs per update divided by log2(n): a
// flat last column means logarithmic growth. Not a test: no pass/fail.
//
//   node dist/bench/model.js [--seconds 1]     (BENCH_SIZES=10,100,... for other sizes)
import { AddressSpace, type Provenance } from '../lib/model';

const PAGE = 4096n;
const BASE = 0x100000000n;
const STRIDE = 5n * PAGE;
const MAP_PRIVATE_ANON = 0x22;
const MAP_FIXED = 0x10;

function build(n: number): AddressSpace {
  const space = new AddressSpace(1);
  for (let i = 0; i < n; i++) {
    const at = BASE + BigInt(i) * STRIDE;
    space.applyMmap(at, 4n * PAGE, 3, MAP_PRIVATE_ANON | MAP_FIXED, undefined, 0n, { tid: 1, seq: i, time: 0, cause: 'mmap' });
  }
  if (space.count !== n) throw new Error(`built ${space.count} regions, wanted ${n}`);
  return space;
}

/** Runs update rounds for about `seconds` of CPU; returns updates per CPU second. */
function measure(space: AddressSpace, n: number, seconds: number): number {
  let x = 0x2545f491;
  const random = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  let seq = n;
  const cause = (c: string): Provenance => ({ tid: 1, seq: seq++, time: 0, cause: c });
  let updates = 0;
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const start = cpu();
  let now = start;
  while (now - start < seconds) {
    for (let k = 0; k < 200; k++) {
      const at = BASE + BigInt(random()) * STRIDE;
      space.applyMprotect(at, 4n * PAGE, 1, 0, cause('mprotect'));
      space.applyMprotect(at, 4n * PAGE, 3, 0, cause('mprotect'));
      space.applyMprotect(at + PAGE, PAGE, 1, 0, cause('mprotect'));
      space.applyMprotect(at + PAGE, PAGE, 3, 0, cause('mprotect'));
      space.applyMunmap(at, 4n * PAGE, cause('munmap'));
      space.applyMmap(at, 4n * PAGE, 3, MAP_PRIVATE_ANON | MAP_FIXED, undefined, 0n, cause('mmap'));
      updates += 6;
    }
    now = cpu();
  }
  if (space.count !== n) throw new Error(`the model drifted to ${space.count} regions`);
  return updates / (now - start);
}

function main(): void {
  const i = process.argv.indexOf('--seconds');
  const seconds = i > 0 ? Number(process.argv[i + 1]) : 1;
  console.log(`model updates (mprotect split/merge, munmap + MAP_FIXED mmap), ${seconds} s per size, node ${process.version}`);
  console.log('regions   updates/s   µs/update   µs/update ÷ log2(n)   (per CPU second)');
  const sizes = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(",").map(Number) : [10, 1_000, 100_000];
  for (const n of sizes) {
    const space = build(n);
    measure(space, n, Math.min(0.2, seconds)); // warm up the JIT
    const rate = measure(space, n, seconds);
    const us = 1e6 / rate;
    console.log(
      `${String(n).padStart(7)}   ${Math.round(rate).toLocaleString('en-US').padStart(9)}   ${us.toFixed(2).padStart(9)}   ${(us / Math.log2(n)).toFixed(3).padStart(9)}`,
    );
  }
}

main();

// An ordered map of non-overlapping [start, end) ranges keyed by start: a
// skip list, so a lookup, an insert and a removal cost O(log n) expected, and
// walking to the next range costs O(1). A process can have hundreds of
// thousands of mappings (vm.max_map_count defaults to 65530, and is often
// raised); a sorted array would pay O(n) per splice.
import type { RegionAttrs } from './region';

const MAX_LEVEL = 32;

export class RegionNode {
  /** Forward links, one per level this node is on. */
  next: (RegionNode | null)[];
  /** Level-0 backward link (null for the first node). */
  prev: RegionNode | null = null;
  constructor(
    public start: bigint,
    public end: bigint,
    public offset: bigint,
    public attrs: RegionAttrs,
    level: number,
  ) {
    this.next = new Array<RegionNode | null>(level).fill(null);
  }
}

export class RegionMap {
  readonly #head: RegionNode;
  #level = 1;
  #count = 0;
  // xorshift32, seeded: the shape of the list (and so the timings) repeats run to run.
  #rng = 0x9e3779b9;
  // Scratch for predecessor search; reused so an update allocates nothing but its node.
  readonly #update: RegionNode[] = new Array<RegionNode>(MAX_LEVEL);

  constructor() {
    this.#head = new RegionNode(-1n, -1n, 0n, undefined as unknown as RegionAttrs, MAX_LEVEL);
  }

  get count(): number {
    return this.#count;
  }

  first(): RegionNode | null {
    return this.#head.next[0]!;
  }

  /** The last node with start <= addr. */
  floor(addr: bigint): RegionNode | null {
    let x = this.#head;
    for (let lvl = this.#level - 1; lvl >= 0; lvl--) {
      for (let n = x.next[lvl]; n !== null && n !== undefined && n.start <= addr; n = x.next[lvl]) x = n;
    }
    return x === this.#head ? null : x;
  }

  /** The node containing addr, if any. */
  find(addr: bigint): RegionNode | null {
    const f = this.floor(addr);
    return f !== null && f.end > addr ? f : null;
  }

  /** The first node that ends after addr: the one containing addr, or the next one above it. */
  firstEndingAfter(addr: bigint): RegionNode | null {
    const f = this.floor(addr);
    if (f === null) return this.#head.next[0]!;
    return f.end > addr ? f : f.next[0]!;
  }

  #randomLevel(): number {
    let level = 1;
    // p = 1/4: fewer links per node than 1/2 for the same O(log n).
    for (;;) {
      let x = this.#rng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#rng = x >>> 0;
      if ((this.#rng & 3) !== 0 || level >= MAX_LEVEL) return level;
      level++;
    }
  }

  /** Fills #update with the last node before `start` on every level. */
  #predecessors(start: bigint): void {
    let x = this.#head;
    for (let lvl = this.#level - 1; lvl >= 0; lvl--) {
      for (let n = x.next[lvl]; n !== null && n !== undefined && n.start < start; n = x.next[lvl]) x = n;
      this.#update[lvl] = x;
    }
  }

  /** Links a node that overlaps no other (the caller has made room). */
  insert(start: bigint, end: bigint, offset: bigint, attrs: RegionAttrs): RegionNode {
    this.#predecessors(start);
    const level = this.#randomLevel();
    if (level > this.#level) {
      for (let lvl = this.#level; lvl < level; lvl++) this.#update[lvl] = this.#head;
      this.#level = level;
    }
    const node = new RegionNode(start, end, offset, attrs, level);
    for (let lvl = 0; lvl < level; lvl++) {
      const pred = this.#update[lvl]!;
      node.next[lvl] = pred.next[lvl]!;
      pred.next[lvl] = node;
    }
    const pred0 = this.#update[0]!;
    node.prev = pred0 === this.#head ? null : pred0;
    const after = node.next[0];
    if (after) after.prev = node;
    this.#count++;
    return node;
  }

  remove(node: RegionNode): void {
    this.#predecessors(node.start);
    for (let lvl = 0; lvl < node.next.length; lvl++) {
      const pred = this.#update[lvl]!;
      if (pred.next[lvl] !== node) throw new Error('liveprobe: region map is corrupt (node not linked)');
      pred.next[lvl] = node.next[lvl]!;
    }
    const after = node.next[0];
    if (after) after.prev = node.prev;
    while (this.#level > 1 && this.#head.next[this.#level - 1] === null) this.#level--;
    this.#count--;
  }

  clear(): void {
    this.#head.next.fill(null);
    this.#level = 1;
    this.#count = 0;
  }

  *nodes(): IterableIterator<RegionNode> {
    for (let n = this.#head.next[0]; n; n = n.next[0]) yield n;
  }
}

// A small ELF64 reader: sections, program headers, PT_INTERP and DT_NEEDED.
// Enough to find Go's build info and whether libc is linked, without
// shelling out to readelf. Every offset read is checked against the file.

export interface ElfSection {
  name: string;
  type: number;
  addr: bigint;
  offset: number;
  size: number;
}

export interface ElfSegment {
  type: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
}

export interface ElfFile {
  machine: number;
  sections: ElfSection[];
  segments: ElfSegment[];
  interpreter: string | null;
  needed: string[];
  bytes: Buffer;
}

const PT_INTERP = 3;
const PT_DYNAMIC = 2;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

export class ElfError extends Error {}

function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new ElfError(`not a valid ELF64 file (${what})`);
}

function cstring(buf: Buffer, at: number): string {
  if (at < 0 || at >= buf.length) return '';
  const end = buf.indexOf(0, at);
  return buf.toString('utf8', at, end < 0 ? buf.length : end);
}

export function parseElf(bytes: Buffer): ElfFile {
  check(bytes.length >= 64 && bytes.readUInt32BE(0) === 0x7f454c46, 'magic');
  check(bytes[4] === 2, 'not 64-bit');
  check(bytes[5] === 1, 'not little-endian');
  const machine = bytes.readUInt16LE(18);
  const phoff = Number(bytes.readBigUInt64LE(32));
  const shoff = Number(bytes.readBigUInt64LE(40));
  const phentsize = bytes.readUInt16LE(54);
  const phnum = bytes.readUInt16LE(56);
  const shentsize = bytes.readUInt16LE(58);
  const shnum = bytes.readUInt16LE(60);
  const shstrndx = bytes.readUInt16LE(62);

  const segments: ElfSegment[] = [];
  if (phoff > 0) {
    check(phentsize >= 56 && phoff + phnum * phentsize <= bytes.length, 'program headers');
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      segments.push({
        type: bytes.readUInt32LE(o),
        offset: Number(bytes.readBigUInt64LE(o + 8)),
        vaddr: bytes.readBigUInt64LE(o + 16),
        filesz: Number(bytes.readBigUInt64LE(o + 32)),
      });
    }
  }

  const sections: ElfSection[] = [];
  if (shoff > 0 && shnum > 0) {
    check(shentsize >= 64 && shoff + shnum * shentsize <= bytes.length, 'section headers');
    const raw = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      raw.push({
        nameOff: bytes.readUInt32LE(o),
        type: bytes.readUInt32LE(o + 4),
        addr: bytes.readBigUInt64LE(o + 16),
        offset: Number(bytes.readBigUInt64LE(o + 24)),
        size: Number(bytes.readBigUInt64LE(o + 32)),
      });
    }
    const strtab = raw[shstrndx];
    for (const s of raw) {
      const name = strtab && strtab.offset + s.nameOff < bytes.length ? cstring(bytes, strtab.offset + s.nameOff) : '';
      sections.push({ name, type: s.type, addr: s.addr, offset: s.offset, size: s.size });
    }
  }

  let interpreter: string | null = null;
  const interp = segments.find((s) => s.type === PT_INTERP);
  if (interp && interp.offset + interp.filesz <= bytes.length) interpreter = cstring(bytes, interp.offset);

  const needed: string[] = [];
  const dyn = segments.find((s) => s.type === PT_DYNAMIC);
  if (dyn && dyn.offset + dyn.filesz <= bytes.length) {
    const entries: [bigint, bigint][] = [];
    for (let o = dyn.offset; o + 16 <= dyn.offset + dyn.filesz; o += 16) {
      const tag = bytes.readBigInt64LE(o);
      if (tag === 0n) break;
      entries.push([tag, bytes.readBigUInt64LE(o + 8)]);
    }
    const strtabAddr = entries.find(([t]) => t === DT_STRTAB)?.[1];
    const strOff = strtabAddr === undefined ? undefined : fileOffset({ segments } as ElfFile, strtabAddr);
    if (strOff !== undefined) {
      for (const [tag, val] of entries) if (tag === DT_NEEDED) needed.push(cstring(bytes, strOff + Number(val)));
    }
  }
  return { machine, sections, segments, interpreter, needed, bytes };
}

/** File offset of a virtual address, through the PT_LOAD segments. */
export function fileOffset(elf: Pick<ElfFile, 'segments'>, vaddr: bigint): number | undefined {
  for (const s of elf.segments) {
    if (s.type !== 1) continue; // PT_LOAD
    if (vaddr >= s.vaddr && vaddr < s.vaddr + BigInt(s.filesz)) return s.offset + Number(vaddr - s.vaddr);
  }
  return undefined;
}

// Go's build information, as `go version -m` prints it, read from the
// binary's .go.buildinfo blob (format of Go's debug/buildinfo: both the
// inline-string layout of Go >= 1.18 and the older pointer layout).
import { type ElfFile, fileOffset } from './elf';

export interface GoBuildInfo {
  goVersion: string;
  path: string | null;
  /** `build` settings: CGO_ENABLED, -tags, -buildmode, GOARCH, ... */
  settings: Record<string, string>;
}

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const FLAG_INLINE = 2;

function readUvarint(buf: Buffer, at: number): [value: number, next: number] | undefined {
  let x = 0;
  let shift = 0;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i]!;
    x += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [x, i + 1];
    shift += 7;
  }
  return undefined;
}

function inlineString(buf: Buffer, at: number): [string, number] | undefined {
  const v = readUvarint(buf, at);
  if (!v || v[1] + v[0] > buf.length) return undefined;
  return [buf.toString('utf8', v[1], v[1] + v[0]), v[1] + v[0]];
}

function pointerString(elf: ElfFile, ptrAt: number, ptrSize: number): string | undefined {
  const b = elf.bytes;
  if (ptrAt + ptrSize > b.length) return undefined;
  const headerAddr = ptrSize === 8 ? b.readBigUInt64LE(ptrAt) : BigInt(b.readUInt32LE(ptrAt));
  const h = fileOffset(elf, headerAddr);
  if (h === undefined || h + 2 * ptrSize > b.length) return undefined;
  const dataAddr = ptrSize === 8 ? b.readBigUInt64LE(h) : BigInt(b.readUInt32LE(h));
  const len = Number(ptrSize === 8 ? b.readBigUInt64LE(h + ptrSize) : BigInt(b.readUInt32LE(h + ptrSize)));
  const d = fileOffset(elf, dataAddr);
  if (d === undefined || d + len > b.length || len > 1 << 20) return undefined;
  return b.toString('utf8', d, d + len);
}

function findBlob(elf: ElfFile): number | undefined {
  const sec = elf.sections.find((s) => s.name === '.go.buildinfo');
  if (sec && elf.bytes.subarray(sec.offset, sec.offset + MAGIC.length).equals(MAGIC)) return sec.offset;
  // Stripped section headers: the blob is 16-byte aligned in a data segment.
  for (let at = elf.bytes.indexOf(MAGIC); at >= 0; at = elf.bytes.indexOf(MAGIC, at + 1)) {
    if (at % 16 === 0) return at;
  }
  return undefined;
}

/** Returns null for a binary that carries no Go build info (not Go, or Go < 1.13). */
export function readGoBuildInfo(elf: ElfFile): GoBuildInfo | null {
  const at = findBlob(elf);
  if (at === undefined || at + 32 > elf.bytes.length) return null;
  const ptrSize = elf.bytes[at + 14]!;
  const flags = elf.bytes[at + 15]!;
  let version: string | undefined;
  let mod: string | undefined;
  if (flags & FLAG_INLINE) {
    const v = inlineString(elf.bytes, at + 32);
    if (v) {
      version = v[0];
      mod = inlineString(elf.bytes, v[1])?.[0];
    }
  } else if (ptrSize === 4 || ptrSize === 8) {
    version = pointerString(elf, at + 16, ptrSize);
    mod = pointerString(elf, at + 16 + ptrSize, ptrSize);
  }
  if (!version) return null;
  // modinfo is framed by 16-byte sentinels.
  if (mod && mod.length >= 33 && mod[mod.length - 17] === '\n') mod = mod.slice(16, -16);
  const info: GoBuildInfo = { goVersion: version, path: null, settings: {} };
  for (const line of (mod ?? '').split('\n')) {
    const [kind, rest] = [line.slice(0, line.indexOf('\t')), line.slice(line.indexOf('\t') + 1)];
    if (kind === 'path') info.path = rest;
    else if (kind === 'build') {
      const eq = rest.indexOf('=');
      if (eq > 0) info.settings[rest.slice(0, eq)] = rest.slice(eq + 1);
    }
  }
  return info;
}

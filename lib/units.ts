// Sizes and addresses as liveprobe prints them for people (findings, the
// explanation, the CLI).

export const KiB = 1n << 10n;
export const MiB = 1n << 20n;

/** Exact where it can be (`8 MiB`, `132 KiB`), else one decimal of MiB. */
export function fmtSize(bytes: bigint): string {
  if (bytes % MiB === 0n) return `${bytes / MiB} MiB`;
  if (bytes % KiB === 0n && bytes < 64n * MiB) return `${bytes / KiB} KiB`;
  if (bytes >= MiB) return `${(Number(bytes) / Number(MiB)).toFixed(1)} MiB`;
  if (bytes % KiB === 0n) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

export function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

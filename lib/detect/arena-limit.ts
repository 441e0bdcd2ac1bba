// glibc's limit on malloc arenas as a process's environment sets it
// (docs/go-glibc-musl.md, "How many arenas"): MALLOC_ARENA_MAX, or the
// tunable glibc.malloc.arena_max inside GLIBC_TUNABLES (a colon-separated
// list of name=value, glibc ≥ 2.26).

export interface ArenaMaxSetting {
  max: number;
  /** As written in the environment, e.g. `MALLOC_ARENA_MAX=2` or `GLIBC_TUNABLES=glibc.malloc.arena_max=2`. */
  from: string;
}

const TUNABLE = 'glibc.malloc.arena_max';

const positive = (text: string): number | null => (/^\d+$/.test(text) && Number(text) > 0 ? Number(text) : null);

/** The limit an environment block (KEY=VALUE strings) sets, or null. With both set, MALLOC_ARENA_MAX is read first (glibc's own precedence was not measured). */
export function arenaMaxSetting(env: readonly string[]): ArenaMaxSetting | null {
  const direct = env.find((e) => e.startsWith('MALLOC_ARENA_MAX='));
  const n = direct ? positive(direct.slice('MALLOC_ARENA_MAX='.length)) : null;
  if (n !== null) return { max: n, from: direct! };
  const tunables = env.find((e) => e.startsWith('GLIBC_TUNABLES='));
  for (const item of tunables?.slice('GLIBC_TUNABLES='.length).split(':') ?? []) {
    if (!item.startsWith(`${TUNABLE}=`)) continue;
    const t = positive(item.slice(TUNABLE.length + 1));
    if (t !== null) return { max: t, from: `GLIBC_TUNABLES=${item}` };
  }
  return null;
}

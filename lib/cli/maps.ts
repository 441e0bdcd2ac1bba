// --maps: the address-space model printed at exit or detach, in
// /proc/PID/maps layout with a class column (before the name, so the name
// stays last and may contain spaces), or as one JSON object per process.
import type { AddressSpace } from '../model';

export function mapsReport(models: ReadonlyMap<number, AddressSpace>, json: boolean): string[] {
  const out: string[] = [];
  // A vfork child that never exec'd shares its parent's model: print each model once.
  const seen = new Set<AddressSpace>();
  for (const space of models.values()) {
    if (seen.has(space)) continue;
    seen.add(space);
    const state = space.exited ? 'at exit' : 'at detach';
    if (json) {
      out.push(
        JSON.stringify({
          type: 'maps',
          pid: space.pid,
          exited: space.exited,
          vmSizeKb: Number(space.size / 1024n),
          regions: space.regions().map((r) => ({
            start: `0x${r.start.toString(16)}`,
            end: `0x${r.end.toString(16)}`,
            perms: r.perms,
            offset: `0x${r.offset.toString(16)}`,
            name: r.name,
            class: r.class,
            origin: r.origin,
          })),
        }),
      );
    } else {
      out.push(`# liveprobe model of pid ${space.pid} ${state}: ${space.count} regions, VmSize ${space.size / 1024n} kB`);
      out.push('# start-end perms offset dev inode class name');
      out.push(...space.toMapsText().split('\n').filter((l) => l !== ''));
    }
  }
  return out;
}

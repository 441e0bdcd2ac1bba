// What run() checks before it asks the tracer to start a program: the file
// found as execvp would find it, and a working directory that exists; errors
// say what to do.
import fs from 'node:fs';
import path from 'node:path';
import { LiveprobeError } from './errors';
import { EACCES, ENOENT } from './syscalls/abi';

export function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** PATH lookup as execvp does it; errors say what to do. */
export function resolveExecutable(file: string, cwd: string, PATH: string): string | LiveprobeError {
  const candidates = file.includes('/')
    ? [path.resolve(cwd, file)]
    : PATH.split(':').map((dir) => path.resolve(cwd, dir || '.', file));
  let found: string | undefined;
  for (const c of candidates) {
    try {
      const st = fs.statSync(c);
      if (st.isDirectory()) {
        found ??= c;
        continue;
      }
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') found ??= c;
    }
  }
  if (found) {
    return new LiveprobeError(
      'EACCES',
      isDirectory(found)
        ? `cannot run ${file}: it is a directory; give the program's path`
        : `cannot run ${file}: it is not executable; chmod +x ${found}, or give the right file`,
      EACCES,
    );
  }
  return new LiveprobeError(
    'ENOENT',
    file.includes('/')
      ? `cannot run ${file}: no such file; check the path`
      : `cannot run ${file}: not found in PATH; give its path, e.g. ./${file}`,
    ENOENT,
  );
}

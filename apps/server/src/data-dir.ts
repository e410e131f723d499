import { chmodSync, lstatSync, mkdirSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@rivulet/core';

/** Owner-only modes for everything under the data directory (PGlite's WAL holds device tokens). */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** The process umask main.ts sets: whatever is created later is owner-only too. */
export const PRIVATE_UMASK = 0o077;

/**
 * Creates the data directory owner-only (0700), or tightens an existing one: the directory becomes
 * 0700, and under each of `entries` (what Rivulet keeps there) every directory 0700 and every file
 * 0600. Symbolic links are left alone, never followed; other files in the directory are not
 * Rivulet's and are not touched (a data directory pointed at a home directory must not chmod it
 * all). An existing directory that group or others could read is reported once as a warning, with
 * how many entries were tightened. Returns that number.
 */
export function securePrivateDir(options: { dir: string; entries: readonly string[]; logger: Logger }): number {
  const { dir, logger } = options;
  let rootStat: Stats | undefined;
  try {
    rootStat = lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (!rootStat) {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    // mkdir's mode is masked by the umask, never widened by it: set it outright
    chmodSync(dir, PRIVATE_DIR_MODE);
    return 0;
  }
  if (!rootStat.isDirectory()) throw new Error(`RIVULET_DATA_DIR ${dir} is not a directory`);
  const rootMode = rootStat.mode & 0o777;
  let tightened = 0;
  if (rootMode !== PRIVATE_DIR_MODE) {
    chmodSync(dir, PRIVATE_DIR_MODE);
    tightened++;
  }
  for (const name of options.entries) {
    const path = join(dir, name);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      continue; // not created yet
    }
    tightened += tighten(path, st);
  }
  if ((rootMode & 0o077) === 0) {
    if (tightened > 0) logger.info({ dataDir: dir, tightened }, 'data directory entries set to owner-only permissions');
  } else {
    logger.warn(
      { dataDir: dir, mode: rootMode.toString(8), tightened },
      'data directory was readable by other users: permissions set to 0700 (directories) and 0600 (files); rotate RIVULET_JWT_SECRET and device tokens if others had access',
    );
  }
  return tightened;
}

function tighten(path: string, st: Stats): number {
  if (st.isSymbolicLink()) return 0;
  const want = st.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
  let n = 0;
  if ((st.mode & 0o777) !== want && (st.isDirectory() || st.isFile())) {
    chmodSync(path, want);
    n++;
  }
  if (st.isDirectory()) {
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      let cst: Stats;
      try {
        cst = lstatSync(child);
      } catch {
        continue; // removed meanwhile
      }
      n += tighten(child, cst);
    }
  }
  return n;
}

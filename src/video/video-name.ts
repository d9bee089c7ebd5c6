import { basename, extname } from 'node:path';

/** The name a video gets when none is given: its file name without extension, as an identifier. */
export function defaultVideoName(path: string): string {
  const stem = basename(path, extname(path)).replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(stem) ? stem : `v_${stem}`;
}

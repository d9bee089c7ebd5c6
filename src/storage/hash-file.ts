import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { VideoError } from '../errors.js';

/**
 * The SHA-256 of a file's bytes as 64 lower-case hex digits, read as a stream (constant memory,
 * whatever the file's size). The catalog identifies a video by this hash, not by its path.
 *
 * @example
 * const hash = await hashFile('/data/traffic.mp4'); // 'e3b0c442...'
 */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = error instanceof Error ? error.message : String(error);
    if (code === 'ENOENT') {
      throw new VideoError('VIDEO_NOT_FOUND', `no file at "${path}"; check the path`, { path }, { cause: error });
    }
    throw new VideoError('VIDEO_UNREADABLE', `cannot read "${path}" (${reason})`, { path }, { cause: error });
  }
  return hash.digest('hex');
}

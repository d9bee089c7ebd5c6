/**
 * Reading a sparse set of frames out of a 2-hour video (the real 7.6-minute UCSD timeline
 * concatenated 16 times, 72,960 frames): ffmpeg's command lines stay within MAX_TERMS terms whatever
 * the number of frames asked for, and keyframe seeks give exactly the frames one sequential pass gives.
 */
import { describe, expect, it } from 'vitest';
import { repeatedTimeline } from '../../bench/long-timeline.js';
import { loadDecodeCosts } from '../../src/optimizer/decode-cost.js';
import { Catalog } from '../../src/storage/catalog.js';
import { decodeFrames, emptyDecodeStats } from '../../src/video/decoder.js';
import { probeVideo } from '../../src/video/probe.js';
import { MAX_TERMS } from '../../src/video/read-plan.js';
import { Prng } from '../language/prng.js';
import { dataDir } from '../helpers.js';

describe('a 2-hour timeline', { timeout: 900_000 }, () => {
  it('gives 1,000 to 3,000 requested frames with bounded command lines, by seeks and by one pass alike', async () => {
    const path = repeatedTimeline(dataDir, 16);
    const info = await probeVideo(path);
    expect(info.frameCount).toBe(72_960);
    const prng = new Prng(8);
    const set = new Set<number>();
    // 40 runs of 25 frames anywhere in the two hours, then 2,000 frames scattered in one hour.
    for (let r = 0; r < 40; r++) {
      const at = prng.int(info.frameCount - 25);
      for (let k = 0; k < 25; k++) set.add(at + k);
    }
    const runs = Int32Array.from([...set].sort((a, b) => a - b));
    while (set.size < runs.length + 2_000) set.add(prng.int(info.frameCount / 2));
    const many = Int32Array.from([...set].sort((a, b) => a - b));
    // What the engine would use before anything is measured on this machine.
    const catalog = await Catalog.open(':memory:');
    const { seekGap } = await loadDecodeCosts(catalog, info.width, info.height, 'test machine');
    await catalog.close();
    expect(seekGap).toBeGreaterThan(100);

    const read = async (frames: Int32Array, seeks: boolean) => {
      const stats = emptyDecodeStats();
      const got: number[] = [];
      const sums: number[] = [];
      const options = { width: 24, height: 16, frames, batchSize: 128, stats, ...(seeks ? { timestamps: info.timestamps, seekGap } : {}) };
      for await (const b of decodeFrames(path, options)) {
        for (let i = 0; i < b.count; i++) {
          got.push(b.frames[i]!);
          let sum = 0;
          for (let j = i * 24 * 16 * 3; j < (i + 1) * 24 * 16 * 3; j++) sum = (sum * 31 + b.data[j]!) % 1_000_000_007;
          sums.push(sum);
        }
      }
      return { got, sums, stats };
    };
    const seekRuns = await read(runs, true);
    const seqRuns = await read(runs, false);
    const seekMany = await read(many, true);
    expect(seekRuns.got).toEqual([...runs]);
    expect(seqRuns.got).toEqual([...runs]);
    expect(seekMany.got).toEqual([...many]);
    expect(seekRuns.sums).toEqual(seqRuns.sums);
    expect(seekRuns.stats.seeks).toBeGreaterThan(10);
    expect(seqRuns.stats.processes).toBe(1);
    // Seeking reads a fraction of what one pass through the two hours decodes.
    expect(seekRuns.stats.framesRead).toBeLessThan(seqRuns.stats.framesRead / 3);
    const commands = [seekRuns, seqRuns, seekMany].map((r) => r.stats.longestCommand);
    // At most MAX_TERMS terms of at most ~45 characters, whatever the frames asked for.
    expect(Math.max(...commands)).toBeLessThan(MAX_TERMS * 60);
    // 2,000 scattered frames need more terms than MAX_TERMS: covered by wider ones, the extra frames dropped.
    expect(seekMany.stats.framesDropped).toBeGreaterThan(0);
  });
});

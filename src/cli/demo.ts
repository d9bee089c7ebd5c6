import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultDataDir, downloadVerified } from '../inference/model-store.js';
import { getModelManifest } from '../inference/model-manifest.js';

/** The clip the demo queries when no data directory is present: Intel's CC-BY-4.0 sample video. */
const SAMPLE_CLIP = Object.freeze({
  file: 'intel_one_by_one_person.mp4',
  url: 'https://raw.githubusercontent.com/intel-iot-devkit/sample-videos/57978890822836f2b4743852f04f62fc511757e4/one-by-one-person-detection.mp4',
  sha256: 'a5964aa259099a482a8b360ffc2c57b5a30f84d5919236a4dad01f8e929ac07c',
  size: 3291918,
});

export interface Demo {
  readonly name: string;
  readonly video: string;
  readonly sql: string;
  readonly description: string;
  readonly catalog: string;
  /** Where the demo writes its HTML report. */
  readonly report: string;
  readonly modelDir?: string;
}

/**
 * Finds the demo clip and model: `SIEVE_DATA_DIR` (or `../shared/data` beside the package) when
 * present, otherwise downloads the sample clip and the default model into the cache, verified by
 * sha256.
 */
export async function prepareDemo(options: { dataDir?: string; onNotice?: (message: string) => void } = {}): Promise<Demo> {
  const cache = resolve(process.env.SIEVE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sieve'));
  mkdirSync(cache, { recursive: true });
  const dataDir = options.dataDir ?? defaultDataDir();
  let video = dataDir ? join(dataDir, 'videos', SAMPLE_CLIP.file) : undefined;
  let modelDir: string | undefined;
  if (!video || !existsSync(video)) {
    options.onNotice?.(`no local data directory with ${SAMPLE_CLIP.file}; downloading the sample clip into ${join(cache, 'videos')}`);
    video = join(cache, 'videos', SAMPLE_CLIP.file);
    if (!existsSync(video)) video = await downloadVerified(SAMPLE_CLIP, { cacheDir: join(cache, 'videos') });
  } else if (dataDir) {
    modelDir = join(dataDir, 'models');
  }
  // The model is resolved (and downloaded when missing) by the engine's model store.
  getModelManifest('yolo11n_int8dyn_640');
  return {
    name: 'lobby',
    video,
    sql: "SELECT FCOUNT(*) FROM lobby WHERE class = 'person' AND score >= 0.5",
    description: `how many people per frame, on average, in ${SAMPLE_CLIP.file} (139 s, people come and go one at a time)`,
    catalog: join(cache, 'demo.duckdb'),
    report: join(cache, 'sieve-demo-report.html'),
    ...(modelDir ? { modelDir } : {}),
  };
}

/**
 * Finds a model's ONNX file on this machine, or downloads it into the cache, and verifies it
 * against the manifest's size and sha256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelError } from '../errors.js';
import { builtinModelManifests, getModelManifest, loadModelManifest, packageRoot, type ModelManifest } from './model-manifest.js';

export interface ModelStoreOptions {
  /** A directory holding model files; default `SIEVE_MODEL_DIR`. */
  readonly modelDir?: string;
  /** Test/benchmark data directory whose `models/` is searched; default `SIEVE_DATA_DIR`, else `../shared/data` beside the package when it exists. */
  readonly dataDir?: string;
  /** Where downloads go; default `SIEVE_CACHE_DIR/models`, else `~/.cache/sieve/models`. */
  readonly cacheDir?: string;
  /** Download from `<base>/<file>` instead of the manifest URL (a mirror, or a test server); default `SIEVE_MODEL_BASE_URL`. */
  readonly downloadBaseUrl?: string;
  /** Set false to fail rather than download. */
  readonly download?: boolean;
  /** Manifest for a model given by path (a name or an object); otherwise found by checksum, `<stem>.json` beside the file, or the file name. */
  readonly manifest?: string | ModelManifest;
}

export type ModelOrigin = 'path' | 'model-dir' | 'data-dir' | 'cache' | 'download';

export interface ResolvedModel {
  readonly manifest: ModelManifest;
  /** Absolute path of the verified ONNX file. */
  readonly path: string;
  readonly sha256: string;
  readonly origin: ModelOrigin;
}

/**
 * Resolves a model name (or manifest) or an ONNX file path to a verified local file.
 * Order: explicit path; `modelDir` / `SIEVE_MODEL_DIR`; `SIEVE_DATA_DIR/models`; the cache; download.
 *
 * ```ts
 * const { path, manifest } = await resolveModel('yolo11n_int8dyn_640');
 * const custom = await resolveModel('./my-yolo.onnx', { manifest: 'yolo11n_int8dyn_640' });
 * ```
 */
export async function resolveModel(model: string | ModelManifest, options: ModelStoreOptions = {}): Promise<ResolvedModel> {
  if (typeof model === 'string' && isPathLike(model)) return resolvePath(resolve(model), options);
  const manifest = typeof model === 'string' ? getModelManifest(model) : model;
  const dirs = searchDirs(options);
  for (const { dir, origin } of dirs) {
    const path = join(dir, manifest.file);
    if (!existsSync(path)) continue;
    const problem = await verify(path, manifest);
    if (!problem) return { manifest, path, sha256: manifest.source.sha256, origin };
    if (origin === 'cache') {
      await rm(path, { force: true }); // a damaged cache entry is ours to replace
      continue;
    }
    throw new ModelError('MODEL_CHECKSUM', `${path} is not the file of model '${manifest.name}': ${problem}. Replace it with ${manifest.file} from ${manifest.source.url}, or remove it.`, { model: manifest.name, path });
  }
  const cacheDir = defaultCacheDir(options);
  const searched = dirs.map((d) => d.dir);
  if (options.download === false) throw unavailable({ file: manifest.file, ...manifest.source }, manifest.name, manifest.source.url, cacheDir, searched, 'downloads are turned off');
  const base = options.downloadBaseUrl ?? process.env.SIEVE_MODEL_BASE_URL;
  const url = base ? `${base.replace(/\/+$/, '')}/${manifest.file}` : manifest.source.url;
  const path = await downloadModel(manifest, { cacheDir, url, searched });
  return { manifest, path, sha256: manifest.source.sha256, origin: 'download' };
}

/** A file to download and verify: where it comes from, and its size and sha256. */
export interface VerifiedDownload {
  readonly file: string;
  readonly url: string;
  readonly sha256: string;
  readonly size: number;
}

/**
 * Downloads a model's file from `url` (default the manifest's) into `cacheDir`; see {@link downloadVerified}.
 */
export function downloadModel(
  manifest: ModelManifest,
  options: { readonly cacheDir: string; readonly url?: string; readonly searched?: readonly string[] },
): Promise<string> {
  return downloadVerified({ file: manifest.file, ...manifest.source }, { ...options, model: manifest.name });
}

/**
 * Downloads `item.file` from `url` (default `item.url`) into `cacheDir`: written to a `.part`
 * file, checked against size and sha256, then renamed into place. Returns the final path. A
 * mismatch keeps nothing (`MODEL_CHECKSUM`); a failed download is `MODEL_UNAVAILABLE`, whose
 * message says what to fetch from where and where to put it.
 */
export async function downloadVerified(
  item: VerifiedDownload,
  options: { readonly cacheDir: string; readonly url?: string; readonly searched?: readonly string[]; readonly model?: string },
): Promise<string> {
  const url = options.url ?? item.url;
  const dest = join(options.cacheDir, item.file);
  const fail = (reason: string) => unavailable(item, options.model, url, options.cacheDir, options.searched ?? [options.cacheDir], reason);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw fail(describeFetchError(error));
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw fail(`HTTP ${response.status} ${response.statusText}`.trim());
  }
  await mkdir(options.cacheDir, { recursive: true });
  const part = `${dest}.${process.pid}-${randomBytes(4).toString('hex')}.part`;
  const hash = createHash('sha256');
  let size = 0;
  const file = await open(part, 'w');
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.byteLength;
      await file.write(chunk);
    }
  } catch (error) {
    await file.close();
    await rm(part, { force: true });
    throw fail(`the download broke off after ${size} bytes (${describeFetchError(error)})`);
  }
  await file.close();
  const sha256 = hash.digest('hex');
  if (sha256 !== item.sha256 || size !== item.size) {
    await rm(part, { force: true });
    throw new ModelError(
      'MODEL_CHECKSUM',
      `downloaded ${item.file} from ${url} does not match what was expected: got ${size} bytes with sha256 ${sha256}, expected ${item.size} bytes with sha256 ${item.sha256}. Nothing was kept; check the URL or the manifest.`,
      { model: options.model, file: item.file, url, sha256, size },
    );
  }
  await rename(part, dest);
  return dest;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A problem sentence, or `undefined` when the file matches the manifest. */
async function verify(path: string, manifest: ModelManifest): Promise<string | undefined> {
  const size = statSync(path).size;
  if (size !== manifest.source.size) return `it has ${size} bytes, expected ${manifest.source.size}`;
  const sha256 = await sha256File(path);
  return sha256 === manifest.source.sha256 ? undefined : `its sha256 is ${sha256}, expected ${manifest.source.sha256}`;
}

async function resolvePath(path: string, options: ModelStoreOptions): Promise<ResolvedModel> {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new ModelError('MODEL_NOT_FOUND', `model file ${path} does not exist`, { path });
  }
  const sha256 = await sha256File(path);
  const stem = basename(path).replace(/\.onnx$/i, '');
  const sibling = join(dirname(path), `${stem}.json`);
  const manifest =
    typeof options.manifest === 'object'
      ? options.manifest
      : typeof options.manifest === 'string'
        ? getModelManifest(options.manifest)
        : existsSync(sibling)
          ? loadModelManifest(sibling)
          : (builtinModelManifests().find((m) => m.source.sha256 === sha256) ?? builtinModelManifests().find((m) => m.name === stem));
  if (!manifest) {
    throw new ModelError(
      'MODEL_MANIFEST_MISSING',
      `no manifest describes ${path}: pass the manifest option (a built-in name: ${builtinModelManifests().map((m) => m.name).join(', ')}), or write ${sibling}`,
      { path },
    );
  }
  return { manifest, path, sha256, origin: 'path' };
}

function searchDirs(options: ModelStoreOptions): { dir: string; origin: ModelOrigin }[] {
  const dirs: { dir: string; origin: ModelOrigin }[] = [];
  const modelDir = options.modelDir ?? process.env.SIEVE_MODEL_DIR;
  if (modelDir) dirs.push({ dir: resolve(modelDir), origin: 'model-dir' });
  const dataDir = options.dataDir ?? defaultDataDir();
  if (dataDir) dirs.push({ dir: resolve(dataDir, 'models'), origin: 'data-dir' });
  dirs.push({ dir: defaultCacheDir(options), origin: 'cache' });
  return dirs;
}

/** `SIEVE_DATA_DIR`, else `../shared/data` beside the package root when it exists. */
export function defaultDataDir(): string | undefined {
  if (process.env.SIEVE_DATA_DIR) return resolve(process.env.SIEVE_DATA_DIR);
  const shared = resolve(packageRoot(), '..', 'shared', 'data');
  return existsSync(shared) ? shared : undefined;
}

function defaultCacheDir(options: ModelStoreOptions): string {
  if (options.cacheDir) return resolve(options.cacheDir);
  if (process.env.SIEVE_CACHE_DIR) return resolve(process.env.SIEVE_CACHE_DIR, 'models');
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sieve', 'models');
}

function isPathLike(s: string): boolean {
  return s.includes('/') || s.includes('\\') || /\.onnx$/i.test(s);
}

function unavailable(item: VerifiedDownload, model: string | undefined, url: string, cacheDir: string, searched: readonly string[], reason: string): ModelError {
  const what = model ? `model '${model}'` : item.file;
  const elsewhere = model ? ', or in a directory named by SIEVE_MODEL_DIR' : '';
  return new ModelError(
    'MODEL_UNAVAILABLE',
    `${what} is not on this machine and could not be downloaded (${reason}). ` +
      `Fetch ${item.file} (${item.size} bytes, sha256 ${item.sha256}) from ${url} and put it in ${cacheDir}${elsewhere}. ` +
      `Looked in: ${searched.join(', ')}.`,
    { model, file: item.file, url, sha256: item.sha256, size: item.size, directory: cacheDir, searched },
  );
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

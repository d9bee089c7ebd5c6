import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseModelManifest, type ModelManifest } from '../../src/inference/model-manifest.js';
import { downloadModel, downloadVerified, resolveModel, type ModelStoreOptions } from '../../src/inference/model-store.js';
import { DATA_DIR } from './ffmpeg-frames.js';

const good = Buffer.from('not really an onnx graph, but bytes with a known checksum\n'.repeat(100));
const tiny: ModelManifest = parseModelManifest(
  {
    name: 'tiny',
    file: 'tiny.onnx',
    family: 'ultralytics',
    input: { name: 'images', width: 32, height: 32, channelOrder: 'rgb', scale: 1 / 255, letterbox: 'center', padValue: 114 },
    output: { name: 'output0', layout: 'cxcywh-classes', shape: [1, 5, 21] },
    labels: ['thing'],
    defaultScoreThreshold: 0.5,
    nmsIou: 0.45,
    source: { url: 'https://example.invalid/tiny.onnx', sha256: createHash('sha256').update(good).digest('hex'), size: good.length },
    license: 'test',
  },
  'tiny',
);

let server: Server;
let base: string;
const requests: string[] = [];
let tmp: string;
let opts: ModelStoreOptions & { cacheDir: string; modelDir: string };

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/good/tiny.onnx') res.end(good);
    else if (req.url === '/bad/tiny.onnx') res.end(Buffer.from(good).fill(65, 0, 10));
    else res.writeHead(404).end('not here');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

beforeEach(() => {
  requests.length = 0;
  tmp = mkdtempSync(join(tmpdir(), 'sieve-store-'));
  opts = { modelDir: join(tmp, 'models'), dataDir: join(tmp, 'data'), cacheDir: join(tmp, 'cache') };
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
  vi.unstubAllEnvs();
});

const caught = async (p: Promise<unknown>): Promise<any> => p.then(() => expect.fail('expected an error'), (e: unknown) => e);

describe('download into the cache', () => {
  it('downloads a good file once, then reuses the cached copy', async () => {
    const first = await resolveModel(tiny, { ...opts, downloadBaseUrl: `${base}/good/` });
    expect(first).toMatchObject({ origin: 'download', path: join(opts.cacheDir, 'tiny.onnx'), sha256: tiny.source.sha256 });
    expect(readFileSync(first.path)).toEqual(good);
    expect(readdirSync(opts.cacheDir)).toEqual(['tiny.onnx']); // no .part left
    const second = await resolveModel(tiny, { ...opts, downloadBaseUrl: `${base}/good` });
    expect(second).toMatchObject({ origin: 'cache', path: first.path });
    expect(requests).toEqual(['/good/tiny.onnx']);
  });

  it('rejects a checksum mismatch and leaves nothing in the cache', async () => {
    const error = await caught(resolveModel(tiny, { ...opts, downloadBaseUrl: `${base}/bad` }));
    expect(error).toMatchObject({ code: 'MODEL_CHECKSUM' });
    expect(error.message).toContain(tiny.source.sha256);
    expect(existsSync(opts.cacheDir) ? readdirSync(opts.cacheDir) : []).toEqual([]);
  });

  it('replaces a damaged cached copy', async () => {
    mkdirSync(opts.cacheDir, { recursive: true });
    writeFileSync(join(opts.cacheDir, 'tiny.onnx'), 'truncated');
    const resolved = await resolveModel(tiny, { ...opts, downloadBaseUrl: `${base}/good` });
    expect(resolved.origin).toBe('download');
    expect(readFileSync(resolved.path)).toEqual(good);
  });

  it('downloadModel takes an explicit URL', async () => {
    const path = await downloadModel(tiny, { cacheDir: opts.cacheDir, url: `${base}/good/tiny.onnx` });
    expect(readFileSync(path)).toEqual(good);
  });

  it('downloadVerified fetches any checksummed file (e.g. a sample clip) the same way', async () => {
    const item = { file: 'tiny.onnx', url: `${base}/good/tiny.onnx`, sha256: tiny.source.sha256, size: tiny.source.size };
    expect(readFileSync(await downloadVerified(item, { cacheDir: opts.cacheDir }))).toEqual(good);
    const error = await caught(downloadVerified({ ...item, url: `${base}/gone.mp4`, file: 'gone.mp4' }, { cacheDir: opts.cacheDir }));
    expect(error).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(error.message).toMatch(/^gone\.mp4 is not on this machine .*Fetch gone\.mp4 .* and put it in /);
  });

  const expectInstructions = (error: any, url: string) => {
    expect(error).toMatchObject({ code: 'MODEL_UNAVAILABLE', details: { file: 'tiny.onnx', url, sha256: tiny.source.sha256, directory: opts.cacheDir } });
    for (const part of ['tiny.onnx', url, tiny.source.sha256, opts.cacheDir, 'SIEVE_MODEL_DIR', opts.modelDir]) expect(error.message).toContain(part);
  };

  it('a 404 says which file to fetch from where, and where to put it', async () => {
    const error = await caught(resolveModel(tiny, { ...opts, downloadBaseUrl: `${base}/missing` }));
    expectInstructions(error, `${base}/missing/tiny.onnx`);
    expect(error.message).toContain('HTTP 404');
    expect(existsSync(opts.cacheDir) ? readdirSync(opts.cacheDir) : []).toEqual([]);
  });

  it('a refused connection says the same', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const error = await caught(resolveModel(tiny, { ...opts, downloadBaseUrl: `http://127.0.0.1:${port}` }));
    expectInstructions(error, `http://127.0.0.1:${port}/tiny.onnx`);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('with downloads off, fails without a request', async () => {
    const error = await caught(resolveModel(tiny, { ...opts, download: false, downloadBaseUrl: `${base}/good` }));
    expectInstructions(error, tiny.source.url);
    expect(requests).toEqual([]);
  });

  it('SIEVE_MODEL_BASE_URL points downloads at a mirror', async () => {
    vi.stubEnv('SIEVE_MODEL_BASE_URL', `${base}/good`);
    expect((await resolveModel(tiny, opts)).origin).toBe('download');
  });
});

describe('local directories', () => {
  it('takes a verified file from the model directory (option or SIEVE_MODEL_DIR) before the cache', async () => {
    mkdirSync(opts.modelDir);
    writeFileSync(join(opts.modelDir, 'tiny.onnx'), good);
    expect(await resolveModel(tiny, opts)).toMatchObject({ origin: 'model-dir', path: join(opts.modelDir, 'tiny.onnx') });
    vi.stubEnv('SIEVE_MODEL_DIR', opts.modelDir);
    expect((await resolveModel(tiny, { ...opts, modelDir: undefined })).origin).toBe('model-dir');
    expect(requests).toEqual([]);
  });

  it('refuses a wrong file in the model directory, naming it', async () => {
    mkdirSync(opts.modelDir);
    writeFileSync(join(opts.modelDir, 'tiny.onnx'), Buffer.from(good).fill(0, 0, 1));
    const error = await caught(resolveModel(tiny, { ...opts, downloadBaseUrl: `${base}/good` }));
    expect(error).toMatchObject({ code: 'MODEL_CHECKSUM' });
    expect(error.message).toContain(join(opts.modelDir, 'tiny.onnx'));
    expect(requests).toEqual([]);
  });

  it('finds a built-in model in SIEVE_DATA_DIR/models', async () => {
    vi.stubEnv('SIEVE_DATA_DIR', DATA_DIR);
    const resolved = await resolveModel('yolox_nano_416', { ...opts, dataDir: undefined, download: false });
    expect(resolved).toMatchObject({ origin: 'data-dir', path: join(DATA_DIR, 'models', 'yolox_nano_416.onnx') });
  });
});

describe('explicit paths', () => {
  it('finds the manifest of a renamed built-in file by its checksum', async () => {
    const path = join(tmp, 'renamed.onnx');
    writeFileSync(path, readFileSync(join(DATA_DIR, 'models', 'yolo11n_int8dyn_320.onnx')));
    expect(await resolveModel(path)).toMatchObject({ origin: 'path', path, manifest: { name: 'yolo11n_int8dyn_320' } });
  });

  it('uses <stem>.json beside the file, or the manifest option', async () => {
    const path = join(tmp, 'tiny.onnx');
    writeFileSync(path, good);
    await expect(caught(resolveModel(path))).resolves.toMatchObject({ code: 'MODEL_MANIFEST_MISSING' });
    expect((await resolveModel(path, { manifest: tiny })).manifest.name).toBe('tiny');
    expect((await resolveModel(path, { manifest: 'yolox_nano_416' })).manifest.name).toBe('yolox_nano_416');
    writeFileSync(join(tmp, 'tiny.json'), JSON.stringify(tiny));
    expect((await resolveModel(path)).manifest).toEqual(tiny);
  });

  it('a missing file is MODEL_NOT_FOUND; an unknown name is MODEL_UNKNOWN', async () => {
    await expect(caught(resolveModel(join(tmp, 'nope.onnx')))).resolves.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(caught(resolveModel('nope'))).resolves.toMatchObject({ code: 'MODEL_UNKNOWN' });
  });
});

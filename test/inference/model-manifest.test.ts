import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import { builtinModelManifests, DEFAULT_REFERENCE_MODEL, getModelManifest, packageRoot, parseModelManifest } from '../../src/inference/model-manifest.js';
import { DATA_DIR } from './ffmpeg-frames.js';

const names = readFileSync(join(DATA_DIR, 'models', 'coco80_ultralytics.names'), 'utf8').split('\n').filter(Boolean);

describe('built-in manifests', () => {
  it('finds the package root and lists the four models', () => {
    expect(existsSync(join(packageRoot(), 'package.json'))).toBe(true);
    expect(builtinModelManifests().map((m) => m.name)).toEqual(['yolo11n_int8dyn_320', 'yolo11n_int8dyn_640', 'yolov8n_int8qdq_640', 'yolox_nano_416']);
    expect(getModelManifest(DEFAULT_REFERENCE_MODEL).input).toMatchObject({ width: 640, height: 640, channelOrder: 'rgb', letterbox: 'center' });
  });

  it.each(builtinModelManifests().map((m) => [m.name, m] as const))('%s: COCO labels in Ultralytics spelling, pinned source', (_, m) => {
    expect(m.labels).toEqual(names);
    expect(m.file).toBe(`${m.name}.onnx`);
    expect(m.source.url).toMatch(/^https:\/\/raw\.githubusercontent\.com\/[^/]+\/[^/]+\/[0-9a-f]{40}\//);
    expect(m.defaultScoreThreshold).toBe(0.5);
    expect(m.nmsIou).toBe(0.45);
    expect([m.input.channelOrder, m.input.scale, m.input.letterbox]).toEqual(
      m.family === 'yolox' ? ['bgr', 1, 'top-left'] : ['rgb', 1 / 255, 'center'],
    );
    expect(Object.isFrozen(m.labels)).toBe(true);
  });

  it('names the known models for an unknown one', () => {
    expect(() => getModelManifest('yolo9000')).toThrow(expect.objectContaining({ code: 'MODEL_UNKNOWN', message: expect.stringContaining('yolox_nano_416') }));
  });
});

describe('parseModelManifest', () => {
  const good = JSON.parse(readFileSync(join(packageRoot(), 'models', 'yolox_nano_416.json'), 'utf8'));
  const broken = (patch: (m: any) => void) => {
    const m = structuredClone(good);
    patch(m);
    return () => parseModelManifest(m, 'test.json');
  };

  it('accepts a shipped manifest', () => {
    expect(parseModelManifest(good, 'x').output.strides).toEqual([8, 16, 32]);
  });

  it.each([
    ['input.width', (m: any) => (m.input.width = '416')],
    ['family', (m: any) => (m.family = 'detr')],
    ['output.layout', (m: any) => (m.output.layout = 'cxcywh-classes')],
    ['output.shape', (m: any) => m.labels.pop()],
    ['output.shape', (m: any) => (m.input.width = 640)],
    ['source.sha256', (m: any) => (m.source.sha256 = 'abc')],
    ['source.url', (m: any) => (m.source.url = 'ftp://x/y')],
    ['labels[3]', (m: any) => (m.labels[3] = 7)],
    ['input', (m: any) => delete m.input],
  ])('names the bad field %s', (field, patch) => {
    let error: unknown;
    try {
      broken(patch)();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ code: 'MODEL_MANIFEST_INVALID', details: { field } });
    expect((error as Error).message).toContain('test.json');
  });
});

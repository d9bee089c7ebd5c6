/**
 * Reference-detector manifests: what a model file is, how to feed it and how to read its output.
 * The built-in ones live in `models/*.json` at the package root.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../errors.js';

export type DetectorFamily = 'ultralytics' | 'yolox';
export type ChannelOrder = 'rgb' | 'bgr';
export type LetterboxAnchor = 'center' | 'top-left';
/**
 * - `cxcywh-classes` (Ultralytics v8/11): `[1, 4 + C, N]`; rows 0-3 are cx, cy, w, h in input pixels,
 *   rows 4.. class probabilities; no objectness.
 * - `grid-xywh-obj-classes` (YOLOX): `[1, N, 5 + C]` raw per grid cell over `strides`: x, y, log w,
 *   log h, objectness, class probabilities.
 */
export type OutputLayout = 'cxcywh-classes' | 'grid-xywh-obj-classes';

export interface ModelManifest {
  readonly name: string;
  /** File name of the ONNX graph, looked up in the model directories and the cache. */
  readonly file: string;
  readonly family: DetectorFamily;
  readonly description?: string;
  readonly input: {
    readonly name: string;
    readonly width: number;
    readonly height: number;
    readonly channelOrder: ChannelOrder;
    /** 0-255 pixel values are multiplied by this (1/255 or 1). */
    readonly scale: number;
    readonly letterbox: LetterboxAnchor;
    readonly padValue: number;
  };
  readonly output: {
    readonly name: string;
    readonly layout: OutputLayout;
    readonly shape: readonly number[];
    /** Grid strides, for `grid-xywh-obj-classes`. */
    readonly strides?: readonly number[];
  };
  /** Class names; index = class id. */
  readonly labels: readonly string[];
  readonly defaultScoreThreshold: number;
  readonly nmsIou: number;
  readonly source: { readonly url: string; readonly sha256: string; readonly size: number };
  readonly license: string;
}

/** The model a query uses when it names none. */
export const DEFAULT_REFERENCE_MODEL = 'yolo11n_int8dyn_640';

/** The directory holding Sieve's package.json (works from `src/` under vitest and `dist/src/` after tsc). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new ModelError('MODEL_REGISTRY', `cannot find Sieve's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

let builtins: readonly ModelManifest[] | undefined;

/** The manifests shipped in `models/`, sorted by name. */
export function builtinModelManifests(): readonly ModelManifest[] {
  if (!builtins) {
    const dir = join(packageRoot(), 'models');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
    builtins = Object.freeze(files.map((f) => loadModelManifest(join(dir, f))));
  }
  return builtins;
}

/** A built-in manifest by name, or `undefined`. */
export function findModelManifest(name: string): ModelManifest | undefined {
  return builtinModelManifests().find((m) => m.name === name);
}

/** A built-in manifest by name; an unknown name is a `MODEL_UNKNOWN` error listing the known ones. */
export function getModelManifest(name: string): ModelManifest {
  const manifest = findModelManifest(name);
  if (!manifest) {
    const known = builtinModelManifests().map((m) => m.name);
    throw new ModelError('MODEL_UNKNOWN', `unknown model '${name}'; built-in models: ${known.join(', ')}. A model file can also be given by its path.`, { model: name, known });
  }
  return manifest;
}

export function loadModelManifest(path: string): ModelManifest {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ModelError('MODEL_MANIFEST_INVALID', `cannot read model manifest ${path}: ${error instanceof Error ? error.message : String(error)}`, { manifest: path }, { cause: error });
  }
  return parseModelManifest(value, path);
}

/** Checks a parsed manifest field by field; `origin` names it in errors. */
export function parseModelManifest(value: unknown, origin: string): ModelManifest {
  const fail = (field: string, expected: string): never => {
    throw new ModelError('MODEL_MANIFEST_INVALID', `model manifest ${origin}: '${field}' must be ${expected}`, { manifest: origin, field });
  };
  const obj = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(field, 'an object');
  const str = (v: unknown, field: string): string => (typeof v === 'string' && v.length > 0 ? v : fail(field, 'a non-empty string'));
  const num = (v: unknown, field: string, ok: (n: number) => boolean, expected: string): number =>
    typeof v === 'number' && Number.isFinite(v) && ok(v) ? v : fail(field, expected);
  const posInt = (v: unknown, field: string): number => num(v, field, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  const oneOf = <T extends string>(v: unknown, field: string, values: readonly T[]): T =>
    values.includes(v as T) ? (v as T) : fail(field, `one of ${values.map((x) => `'${x}'`).join(', ')}`);
  const ints = (v: unknown, field: string): number[] => (Array.isArray(v) && v.length > 0 ? v.map((x, i) => posInt(x, `${field}[${i}]`)) : fail(field, 'a non-empty array of positive integers'));

  const m = obj(value, '(root)');
  const input = obj(m.input, 'input');
  const output = obj(m.output, 'output');
  const source = obj(m.source, 'source');
  const family = oneOf(m.family, 'family', ['ultralytics', 'yolox'] as const);
  const labels = Array.isArray(m.labels) && m.labels.length > 0 ? m.labels.map((l, i) => str(l, `labels[${i}]`)) : fail('labels', 'a non-empty array of class names');
  const layout = oneOf(output.layout, 'output.layout', family === 'ultralytics' ? (['cxcywh-classes'] as const) : (['grid-xywh-obj-classes'] as const));
  const width = posInt(input.width, 'input.width');
  const height = posInt(input.height, 'input.height');
  const shape = ints(output.shape, 'output.shape');
  const strides = layout === 'grid-xywh-obj-classes' ? ints(output.strides, 'output.strides') : undefined;
  if (layout === 'cxcywh-classes' && (shape.length !== 3 || shape[0] !== 1 || shape[1] !== 4 + labels.length)) {
    fail('output.shape', `[1, ${4 + labels.length}, N] for ${labels.length} labels with layout '${layout}'`);
  }
  if (strides) {
    const cells = strides.reduce((n, s) => n + Math.ceil(height / s) * Math.ceil(width / s), 0);
    if (shape.length !== 3 || shape[0] !== 1 || shape[1] !== cells || shape[2] !== 5 + labels.length) {
      fail('output.shape', `[1, ${cells}, ${5 + labels.length}] for a ${width}x${height} input, strides ${strides.join('/')} and ${labels.length} labels`);
    }
  }
  const manifest: ModelManifest = {
    name: str(m.name, 'name'),
    file: str(m.file, 'file'),
    family,
    ...(m.description === undefined ? {} : { description: str(m.description, 'description') }),
    input: {
      name: str(input.name, 'input.name'),
      width,
      height,
      channelOrder: oneOf(input.channelOrder, 'input.channelOrder', ['rgb', 'bgr'] as const),
      scale: num(input.scale, 'input.scale', (n) => n > 0, 'a positive number (1/255 or 1)'),
      letterbox: oneOf(input.letterbox, 'input.letterbox', ['center', 'top-left'] as const),
      padValue: num(input.padValue, 'input.padValue', (n) => n >= 0 && n <= 255, 'a pixel value in 0..255'),
    },
    output: { name: str(output.name, 'output.name'), layout, shape, ...(strides ? { strides } : {}) },
    labels,
    defaultScoreThreshold: num(m.defaultScoreThreshold, 'defaultScoreThreshold', (n) => n >= 0 && n <= 1, 'a number in 0..1'),
    nmsIou: num(m.nmsIou, 'nmsIou', (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    source: {
      url: /^https?:\/\//.test(str(source.url, 'source.url')) ? (source.url as string) : fail('source.url', 'an http(s) URL'),
      sha256: /^[0-9a-f]{64}$/.test(str(source.sha256, 'source.sha256')) ? (source.sha256 as string) : fail('source.sha256', '64 lowercase hex digits'),
      size: posInt(source.size, 'source.size'),
    },
    license: str(m.license, 'license'),
  };
  return deepFreeze(manifest);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

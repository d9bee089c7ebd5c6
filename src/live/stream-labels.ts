/**
 * What a stream's specialized models learn from: thumbnails of the frames the reference decided,
 * with its answer (0/1 for a predicate, an object count for an aggregate), the most recent ones
 * kept, stored in chunks as they come (a restarted watch reloads them), and split for training in
 * alternating blocks of consecutive frames.
 */
import sharp from 'sharp';
import { SpecializedModel } from '../inference/specialized-model.js';
import type { StreamLabelChunk } from '../storage/catalog-rows.js';

/** Thumbnail side the stream's specialized models see (the offline architecture search's middle size). */
export const STREAM_MODEL_SIZE = 50;
const THUMB_BYTES = STREAM_MODEL_SIZE * STREAM_MODEL_SIZE * 3;
/** Share of the labels trained on; the rest is held out. */
export const TRAIN_SHARE = 0.6;
/**
 * Labels are split in blocks of this many consecutive frames, three of every five trained on and
 * two held out, so that both parts span the whole labelled period (a stream's positives come in
 * runs; a held-out tail could hold none) while neighbouring frames mostly stay on one side.
 */
const SPLIT_BLOCK = 10;
/** Labelled frames kept (the most recent), a bound on memory: 50x50x3 bytes each. */
const MAX_LABELLED = 6000;
/** Labels per stored chunk. */
const LABEL_CHUNK = 100;
/** Stored labels are bytes: counts above this are stored as it. */
const MAX_STORED_VALUE = 255;

/** A stream model's training started, on this many labels. */
export interface TrainingEvent {
  readonly type: 'training';
  readonly labelled: number;
  readonly positives: number;
  readonly negatives: number;
  readonly attempt: number;
}

/** Where a watch keeps its labels and specialized model between runs. */
export interface StreamStore {
  labels(): Promise<StreamLabelChunk[]>;
  /** Appends a chunk, keeping the newest `keepChunks`. */
  putLabels(chunk: StreamLabelChunk, keepChunks: number): Promise<void>;
  model(): Promise<{ onnx: Uint8Array; state: unknown } | undefined>;
  putModel(onnx: Uint8Array, state: unknown): Promise<void>;
  clear(): Promise<void>;
}

/** Downscales one RGB frame to the models' square input. */
export async function thumbnail(rgb: Uint8Array, width: number, height: number, size = STREAM_MODEL_SIZE): Promise<Uint8Array> {
  const out = await sharp(rgb, { raw: { width, height, channels: 3 } }).resize(size, size, { fit: 'fill' }).raw().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** A training snapshot: images packed for the trainer, split in train and held-out parts. */
export interface LabelSnapshot {
  readonly train: { readonly images: Uint8Array; readonly labels: Float32Array; readonly frames: Int32Array };
  readonly held: { readonly images: Uint8Array; readonly labels: Float32Array; readonly frames: Int32Array };
}

export class LabelBuffer {
  private thumbs: Uint8Array[] = [];
  private values: number[] = [];
  private frames: number[] = [];
  /** Labels with a value above 0. */
  private nonzero = 0;
  /** Labels not stored yet (the newest ones), and the chain of store writes. */
  private unsaved = 0;
  private saving: Promise<void> = Promise.resolve();
  private storeError: unknown;

  constructor(private readonly store?: StreamStore) {}

  get length(): number {
    return this.values.length;
  }


  get positives(): number {
    return this.nonzero;
  }

  get negatives(): number {
    return this.values.length - this.nonzero;
  }

  /** The largest value held. */
  get max(): number {
    return this.values.reduce((a, b) => Math.max(a, b), 0);
  }

  add(thumb: Uint8Array, frame: number, value: number): void {
    this.thumbs.push(thumb);
    this.values.push(value);
    this.frames.push(frame);
    if (value > 0) this.nonzero++;
    this.unsaved++;
    if (this.unsaved >= LABEL_CHUNK) this.flush();
    if (this.values.length > MAX_LABELLED) this.dropOldest(this.values.length - MAX_LABELLED);
  }

  /**
   * Reloads the stored labels, and the stored model when `usable` accepts the state stored with
   * it (loaded for inference; the caller disposes it). Call before the first frame.
   */
  async resume<S>(usable: (state: unknown) => state is S, threads?: number): Promise<{ model: SpecializedModel; state: S } | undefined> {
    if (!this.store) return undefined;
    await this.load();
    const stored = await this.store.model();
    if (!stored || !usable(stored.state)) return undefined;
    return { model: await SpecializedModel.load(stored.onnx, threads ? { threads } : {}), state: stored.state };
  }

  /** Stores the labels not stored yet and waits for every write. */
  async close(): Promise<void> {
    this.flush();
    await this.saving;
  }

  /** Reloads the stored labels (at this thumbnail size). */
  private async load(): Promise<void> {
    if (!this.store) return;
    for (const chunk of await this.store.labels()) {
      if (chunk.thumbSize !== STREAM_MODEL_SIZE) continue;
      for (let i = 0; i < chunk.labels.length; i++) {
        this.thumbs.push(chunk.thumbs.slice(i * THUMB_BYTES, (i + 1) * THUMB_BYTES));
        this.values.push(chunk.labels[i]!);
        this.frames.push(chunk.frames[i]!);
        if (chunk.labels[i]! > 0) this.nonzero++;
      }
    }
    if (this.values.length > MAX_LABELLED) this.dropOldest(this.values.length - MAX_LABELLED);
  }

  /** Forgets every label, here and in the store (the scene changed). */
  clear(): void {
    this.thumbs = [];
    this.values = [];
    this.frames = [];
    this.nonzero = 0;
    this.unsaved = 0;
    this.write((store) => store.clear());
  }

  /** The labels now, split for training (labelling goes on while a model trains). */
  snapshot(): LabelSnapshot {
    const train: number[] = [];
    const held: number[] = [];
    this.values.forEach((_, i) => (Math.floor(i / SPLIT_BLOCK) % 5 < 5 * TRAIN_SHARE ? train : held).push(i));
    const part = (idx: readonly number[]) => {
      const images = new Uint8Array(idx.length * THUMB_BYTES);
      idx.forEach((i, k) => images.set(this.thumbs[i]!, k * THUMB_BYTES));
      return { images, labels: Float32Array.from(idx, (i) => this.values[i]!), frames: Int32Array.from(idx, (i) => this.frames[i]!) };
    };
    return { train: part(train), held: part(held) };
  }

  /** Stores a model after the labels written before it. */
  putModel(onnx: Uint8Array, state: unknown): void {
    this.write((store) => store.putModel(onnx, state));
  }

  /** Stores the labels not stored yet as one chunk. */
  flush(): void {
    if (this.unsaved === 0) return;
    const from = this.values.length - Math.min(this.unsaved, this.values.length);
    const thumbs = new Uint8Array((this.values.length - from) * THUMB_BYTES);
    for (let i = from; i < this.values.length; i++) thumbs.set(this.thumbs[i]!, (i - from) * THUMB_BYTES);
    const labels = Uint8Array.from(this.values.slice(from), (v) => Math.min(MAX_STORED_VALUE, Math.max(0, Math.round(v))));
    const chunk = { thumbSize: STREAM_MODEL_SIZE, frames: Int32Array.from(this.frames.slice(from)), labels, thumbs };
    this.unsaved = 0;
    this.write((store) => store.putLabels(chunk, Math.ceil(MAX_LABELLED / LABEL_CHUNK)));
  }

  /** Errors of the store's writes so far (a watch reports, never stops, for them); cleared when read. */
  takeStoreError(): unknown {
    const e = this.storeError;
    this.storeError = undefined;
    return e;
  }

  private dropOldest(n: number): void {
    for (const v of this.values.slice(0, n)) if (v > 0) this.nonzero--;
    this.thumbs.splice(0, n);
    this.values.splice(0, n);
    this.frames.splice(0, n);
  }

  /** Queues a store write after the earlier ones. */
  private write(fn: (store: StreamStore) => Promise<void>): void {
    const store = this.store;
    if (!store) return;
    this.saving = this.saving.then(() => fn(store)).catch((error: unknown) => {
      this.storeError = error;
    });
  }
}

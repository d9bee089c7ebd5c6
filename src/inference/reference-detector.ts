/**
 * The reference object detector: a manifest-described ONNX model behind pre-processing
 * (letterbox, channel order, scale) and post-processing (family decode, class-wise NMS, mapping
 * back to source pixels).
 */
import { ModelError } from '../errors.js';
import { frameView, type FrameBatch } from '../video/frame.js';
import type { Detection } from './detection.js';
import { decodeUltralytics, decodeYolox, nonMaxSuppression, unletterbox } from './detector-postprocess.js';
import { detectorDecodeSize, familyRounding, letterboxGeometry, writeLetterboxed, type LetterboxGeometry } from './detector-preprocess.js';
import { createLinearResizer, planLinearResize, type FrameResizer } from './linear-resize.js';
import { DEFAULT_REFERENCE_MODEL, type ModelManifest } from './model-manifest.js';
import { resolveModel, type ModelStoreOptions, type ResolvedModel } from './model-store.js';
import { OnnxSession, TensorData, type ExecutionProviderChoice, type ExecutionProviderName, type IoMetadata } from './onnx-runtime.js';

export interface ReferenceDetectorOptions extends ModelStoreOptions {
  /** Default `cpu`. `auto` tries cuda, then cpu. An unavailable provider falls back to cpu and calls `onFallback`. */
  readonly executionProvider?: ExecutionProviderChoice;
  /** Minimum score kept; default the manifest's `defaultScoreThreshold`. */
  readonly scoreThreshold?: number;
  /** Class-wise NMS IoU; default the manifest's `nmsIou`. */
  readonly nmsIou?: number;
  readonly intraOpThreads?: number;
  /** Run the network on a worker thread (pre- and post-processing stay here): see `onnx-worker.ts`. */
  readonly offThread?: boolean;
  /** Told, in one sentence, which provider was asked for, which one runs, and why. */
  readonly onFallback?: (message: string) => void;
}

/** Cumulative milliseconds spent per stage since load. */
export interface DetectorTimings {
  frames: number;
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
}

/**
 * ```ts
 * const detector = await ReferenceDetector.load('yolo11n_int8dyn_640');
 * const size = detector.decodeSize(1280, 720);           // decode frames at this size (the source's)
 * const [dets] = await detector.detect(batch, { width: 1280, height: 720 });
 * console.log(dets.map((d) => detector.labels[d.classId]));
 * await detector.dispose();
 * ```
 */
export class ReferenceDetector {
  readonly manifest: ModelManifest;
  /** Absolute path of the model file. */
  readonly path: string;
  /** sha256 of the model file. */
  readonly sha256: string;
  readonly scoreThreshold: number;
  readonly nmsIou: number;
  readonly timings: Readonly<DetectorTimings> = { frames: 0, preprocessMs: 0, inferenceMs: 0, postprocessMs: 0 };

  private readonly tensor: Float32Array;
  private resized = new Uint8Array(0);
  private resizer: FrameResizer | undefined;
  private geometryKey = '';
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    private readonly session: OnnxSession,
    model: ResolvedModel,
    options: ReferenceDetectorOptions,
  ) {
    this.manifest = model.manifest;
    this.path = model.path;
    this.sha256 = model.sha256;
    this.scoreThreshold = options.scoreThreshold ?? model.manifest.defaultScoreThreshold;
    this.nmsIou = options.nmsIou ?? model.manifest.nmsIou;
    this.tensor = new Float32Array(3 * model.manifest.input.width * model.manifest.input.height);
  }

  /**
   * Loads a built-in model by name, a manifest, or an ONNX file by path, and checks the session's
   * inputs and outputs against the manifest (`MODEL_SHAPE_MISMATCH` when they differ).
   */
  static async load(nameOrPath: string | ModelManifest = DEFAULT_REFERENCE_MODEL, options: ReferenceDetectorOptions = {}): Promise<ReferenceDetector> {
    const model = await resolveModel(nameOrPath, options);
    const wanted = options.executionProvider ?? 'cpu';
    let fallback: string | undefined;
    const session = await OnnxSession.create(model.path, {
      executionProvider: wanted,
      ...(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}),
      ...(options.offThread ? { offThread: true } : {}),
      onFallback: (message) => (fallback = message),
    });
    try {
      checkSession(session, model);
    } catch (error) {
      await session.dispose();
      throw error;
    }
    if (fallback !== undefined) options.onFallback?.(fallbackMessage(model.manifest.name, wanted, session.executionProvider, fallback));
    return new ReferenceDetector(session, model, options);
  }

  get name(): string {
    return this.manifest.name;
  }

  /** Class names; `Detection.classId` indexes this list. */
  get labels(): readonly string[] {
    return this.manifest.labels;
  }

  get executionProvider(): ExecutionProviderName {
    return this.session.executionProvider;
  }

  /**
   * The size to decode a `sourceWidth x sourceHeight` video at: the source's own, so that the
   * detector's resize is the one its project runs (`cv2.resize` INTER_LINEAR, see `linear-resize.ts`).
   */
  decodeSize(sourceWidth: number, sourceHeight: number): { width: number; height: number; color: 'opencv' } {
    return detectorDecodeSize(sourceWidth, sourceHeight);
  }

  /**
   * Detects objects in every frame of the batch. Frames are best at {@link decodeSize}; a batch
   * already at the letterboxed size is only padded. Boxes are in `source` pixels, clipped to the frame.
   */
  detect(batch: FrameBatch, source: { readonly width: number; readonly height: number }): Promise<Detection[][]> {
    // One run at a time: the input tensor is reused across calls.
    const result = this.queue.then(() => this.detectNow(batch, source));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Frame `index` of the batch as the model's input tensor `[1, 3, H, W]`: resized as
   * `cv2.resize(..., INTER_LINEAR)` would, letterboxed with the family's geometry and padding, in
   * the model's channel order and scale. The returned array is reused by the next call.
   */
  preprocess(batch: FrameBatch, index: number, source: { readonly width: number; readonly height: number }): Float32Array {
    const { input } = this.manifest;
    const g = this.geometry(source.width, source.height);
    const key = `${g.width}x${g.height}+${g.padX}+${g.padY}`;
    if (key !== this.geometryKey) {
      this.tensor.fill(input.padValue * input.scale);
      this.geometryKey = key;
    }
    let frame = frameView(batch, index);
    if (batch.width !== g.width || batch.height !== g.height) {
      const plan = this.resizer?.plan;
      if (!plan || plan.sourceWidth !== batch.width || plan.sourceHeight !== batch.height || plan.width !== g.width || plan.height !== g.height) {
        this.resizer = createLinearResizer(planLinearResize(batch.width, batch.height, g.width, g.height));
        this.resized = new Uint8Array(g.width * g.height * 3);
      }
      this.resizer!.resize(frame, this.resized);
      frame = this.resized;
    }
    writeLetterboxed(this.tensor, frame, g, input.channelOrder, input.scale);
    return this.tensor;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue;
    await this.session.dispose();
  }

  private async detectNow(batch: FrameBatch, source: { readonly width: number; readonly height: number }): Promise<Detection[][]> {
    if (this.disposed) throw new ModelError('MODEL_DISPOSED', `detector '${this.name}' was disposed`);
    if (batch.data.length !== batch.count * batch.width * batch.height * 3) {
      throw new RangeError(`frame batch holds ${batch.data.length} bytes, expected ${batch.count} x ${batch.width}x${batch.height} x 3`);
    }
    const g = this.geometry(source.width, source.height);
    const timings = this.timings as DetectorTimings;
    const results: Detection[][] = [];
    for (let i = 0; i < batch.count; i++) {
      const t0 = performance.now();
      this.preprocess(batch, i, source);
      timings.preprocessMs += performance.now() - t0;
      results.push(await this.infer(this.tensor, g, source));
    }
    return results;
  }

  /**
   * Detects objects in one input tensor pre-processed elsewhere (`[1, 3, H, W]`, as
   * {@link preprocess} makes it): for comparing pre-processing pipelines on the same model.
   */
  detectInput(tensor: Float32Array, source: { readonly width: number; readonly height: number }): Promise<Detection[]> {
    const { width, height } = this.manifest.input;
    if (tensor.length !== 3 * width * height) throw new RangeError(`input tensor holds ${tensor.length} values, expected 3 x ${width}x${height}`);
    const result = this.queue.then(() => this.infer(tensor, this.geometry(source.width, source.height), source));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async infer(tensor: Float32Array, g: LetterboxGeometry, source: { readonly width: number; readonly height: number }): Promise<Detection[]> {
    if (this.disposed) throw new ModelError('MODEL_DISPOSED', `detector '${this.name}' was disposed`);
    const { input, output, labels, family } = this.manifest;
    const timings = this.timings as DetectorTimings;
    const t1 = performance.now();
    const feed = TensorData.float32(tensor, [1, 3, input.height, input.width]);
    const out = (await this.session.run({ [input.name]: feed }, [output.name]))[output.name]!;
    const t2 = performance.now();
    const data = out.data as Float32Array;
    const raw =
      family === 'ultralytics'
        ? decodeUltralytics(data, labels.length, out.dims[2]!, this.scoreThreshold)
        : decodeYolox(data, labels.length, input.width, input.height, output.strides!, this.scoreThreshold);
    const detections = unletterbox(nonMaxSuppression(raw, this.nmsIou), g, source.width, source.height);
    timings.frames++;
    timings.inferenceMs += t2 - t1;
    timings.postprocessMs += performance.now() - t2;
    return detections;
  }

  private geometry(sourceWidth: number, sourceHeight: number): LetterboxGeometry {
    const { width, height, letterbox } = this.manifest.input;
    return letterboxGeometry(sourceWidth, sourceHeight, width, height, letterbox, familyRounding(this.manifest.family));
  }
}

function checkSession(session: OnnxSession, { manifest, path }: ResolvedModel): void {
  const mismatch = (what: string) =>
    new ModelError(
      'MODEL_SHAPE_MISMATCH',
      `model ${path} ${what}; the file is not the model manifest '${manifest.name}' describes. Use ${manifest.file} (sha256 ${manifest.source.sha256.slice(0, 12)}…), or load this file with its own manifest.`,
      { model: manifest.name, path },
    );
  const check = (kind: 'input' | 'output', list: readonly IoMetadata[], name: string, shape: readonly number[]) => {
    const io = list.find((x) => x.name === name);
    if (!io) throw mismatch(`has ${kind}s ${list.map((x) => `'${x.name}'`).join(', ')} but its manifest says '${name}'`);
    if (io.type !== undefined && io.type !== 'float32') throw mismatch(`has ${kind} '${name}' of type ${io.type} but its manifest needs float32`);
    const dims = io.shape ?? [];
    const fits = dims.length === shape.length && dims.every((d, i) => typeof d !== 'number' || d < 0 || d === shape[i]);
    if (!fits) throw mismatch(`has ${kind} '${name}' [${dims.join(',')}] but its manifest says [${shape.join(',')}]`);
  };
  check('input', session.inputs, manifest.input.name, [1, 3, manifest.input.height, manifest.input.width]);
  check('output', session.outputs, manifest.output.name, manifest.output.shape);
}

function fallbackMessage(model: string, wanted: ExecutionProviderChoice, used: ExecutionProviderName, reason: string): string {
  const why = reason.replace(/^execution provider fell back to '[^']*': /, '');
  const hint = why.includes("'cuda'")
    ? ' (the CUDA provider is not in the default onnxruntime-node install; reinstall it with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12)'
    : '';
  return `model '${model}': execution provider '${wanted}' was asked for, running on '${used}' instead: ${why}${hint}`;
}

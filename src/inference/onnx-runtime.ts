/**
 * The one place that imports onnxruntime-node. Everything else (detectors, specialized models,
 * the trainer) runs ONNX graphs through {@link OnnxSession}.
 */
import * as ort from 'onnxruntime-node';
import { ModelError } from '../errors.js';
import { OnnxWorker } from './onnx-worker.js';

export type ExecutionProviderName = 'cpu' | 'webgpu' | 'cuda';
/** `auto` tries cuda, then cpu (webgpu only when asked for explicitly). */
export type ExecutionProviderChoice = ExecutionProviderName | 'auto';

export type TensorType = 'float32' | 'int64' | 'int32' | 'bool' | 'uint8';
export type TensorArray = Float32Array | BigInt64Array | Int32Array | Uint8Array;

/** A plain tensor: typed data plus its dimensions (row-major). */
export interface TensorData {
  readonly type: TensorType;
  readonly data: TensorArray;
  readonly dims: readonly number[];
}

export const TensorData = Object.freeze({
  float32(data: Float32Array, dims: readonly number[]): TensorData {
    return { type: 'float32', data, dims };
  },
  int64(data: BigInt64Array, dims: readonly number[]): TensorData {
    return { type: 'int64', data, dims };
  },
  bool(data: Uint8Array, dims: readonly number[]): TensorData {
    return { type: 'bool', data, dims };
  },
});

export interface IoMetadata {
  readonly name: string;
  readonly type: string | undefined;
  /** Dimensions; a symbolic or unknown dimension is a string or -1. */
  readonly shape: readonly (number | string)[] | undefined;
}

export interface OnnxSessionOptions {
  readonly executionProvider?: ExecutionProviderChoice;
  /** Threads for one operator; default: `SIEVE_ONNX_THREADS`, else ONNX Runtime's (all cores). */
  readonly intraOpThreads?: number;
  /** Called once with a human sentence when the requested provider was not available. */
  readonly onFallback?: (message: string) => void;
  /**
   * Run the graph on a worker thread (see `onnx-worker.ts`): the main thread stays free while it
   * computes (a live stream's reader, other models), at the cost of copying tensors across.
   */
  readonly offThread?: boolean;
}

/** Where a loaded graph runs: on this thread through onnxruntime-node, or on a worker. */
interface Backend {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly unknown[] | undefined;
  readonly outputMetadata: readonly unknown[] | undefined;
  run(feeds: Readonly<Record<string, TensorData>>, fetches: readonly string[] | undefined): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}

function inThread(session: ort.InferenceSession): Backend {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata as readonly unknown[] | undefined,
    outputMetadata: session.outputMetadata as readonly unknown[] | undefined,
    async run(feeds, fetches) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, feed] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(feed.type, feed.data, feed.dims as number[]);
      const results = fetches ? await session.run(ortFeeds, fetches as string[]) : await session.run(ortFeeds);
      const out: Record<string, TensorData> = {};
      for (const [name, tensor] of Object.entries(results)) out[name] = { type: tensor.type as TensorType, data: tensor.data as TensorArray, dims: [...tensor.dims] };
      return out;
    },
    release: () => session.release(),
  };
}

async function onWorker(worker: OnnxWorker, model: string | Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<Backend> {
  const loaded = await worker.load(model, options);
  return {
    ...loaded,
    run: async (feeds, fetches) => (await worker.run(feeds, fetches)) as Record<string, TensorData>,
    release: async () => {
      await worker.release();
      await worker.terminate();
    },
  };
}

/**
 * Threads per session from `SIEVE_ONNX_THREADS` (a positive integer), for processes that share
 * the cores with others (test workers, several engines on one machine): ONNX Runtime's pool
 * spins on every core by default, and pools that outnumber the cores slow each other down.
 */
function defaultThreads(): number | undefined {
  const raw = process.env.SIEVE_ONNX_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ModelError('MODEL_OPTIONS', `SIEVE_ONNX_THREADS must be a positive integer, got '${raw}'. Unset it to use every core.`);
  return n;
}

function threadOptions(threads: number | undefined): ort.InferenceSession.SessionOptions {
  return threads ? { intraOpNumThreads: threads } : {};
}

/** A loaded ONNX graph ready to run. Call {@link dispose} when done. */
export class OnnxSession {
  private constructor(
    private readonly session: Backend,
    readonly executionProvider: ExecutionProviderName,
    readonly inputs: readonly IoMetadata[],
    readonly outputs: readonly IoMetadata[],
  ) {}

  /**
   * Loads a model from a file path or bytes. A file that is not an ONNX graph gives a
   * `ModelError` with code `MODEL_INVALID`.
   */
  static async create(model: string | Uint8Array, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
    const wanted = options.executionProvider ?? 'cpu';
    const order: ExecutionProviderName[] = wanted === 'auto' ? ['cuda', 'cpu'] : wanted === 'cpu' ? ['cpu'] : [wanted, 'cpu'];
    const failures: string[] = [];
    const worker = options.offThread ? new OnnxWorker() : undefined;
    for (const ep of order) {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [ep],
        graphOptimizationLevel: 'all',
        ...threadOptions(options.intraOpThreads ?? defaultThreads()),
      };
      try {
        const session = worker
          ? await onWorker(worker, model, sessionOptions)
          : inThread(typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions));
        if (failures.length > 0 && options.onFallback) {
          options.onFallback(`execution provider fell back to '${ep}': ${failures.join('; ')}`);
        }
        return new OnnxSession(session, ep, readMetadata(session.inputNames, session.inputMetadata), readMetadata(session.outputNames, session.outputMetadata));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (ep === 'cpu' || isModelFault(message)) {
          await worker?.terminate();
          const where = typeof model === 'string' ? model : `${model.byteLength}-byte buffer`;
          throw new ModelError('MODEL_INVALID', `cannot load ONNX model ${where}: ${firstLine(message)}. Check that the file is a complete ONNX model (re-download it, or point SIEVE_MODEL_DIR at a good copy).`, { model: where }, { cause: error });
        }
        failures.push(`'${ep}' unavailable (${firstLine(message)})`);
      }
    }
    await worker?.terminate();
    throw new ModelError('MODEL_NO_PROVIDER', `no execution provider could load the model: ${failures.join('; ')}`);
  }

  /** Runs the graph. Feeds are checked against the session's inputs first. */
  async run(feeds: Readonly<Record<string, TensorData>>, fetches?: readonly string[]): Promise<Record<string, TensorData>> {
    const given: Record<string, TensorData> = {};
    for (const input of this.inputs) {
      const feed = feeds[input.name];
      if (!feed) throw new ModelError('MODEL_INPUT_MISSING', `model input '${input.name}' was not given (inputs: ${this.inputs.map((i) => i.name).join(', ')})`);
      given[input.name] = feed;
    }
    return this.session.run(given, fetches);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** Execution providers this build of onnxruntime-node knows, and whether they ship in the package. */
export function availableExecutionProviders(): readonly { name: string; bundled: boolean }[] {
  const list = (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends;
  return list ? list() : [{ name: 'cpu', bundled: true }];
}

function readMetadata(names: readonly string[], metadata: readonly unknown[] | undefined): IoMetadata[] {
  return names.map((name, i) => {
    const m = (metadata?.[i] ?? {}) as { type?: string; shape?: (number | string)[] };
    return { name, type: m.type, shape: m.shape };
  });
}

function isModelFault(message: string): boolean {
  return /protobuf|parse|invalid|corrupt|load model|ModelProto|opset|No graph|not a valid/i.test(message);
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.slice(0, 300);
}

/**
 * ONNX Runtime sessions run on a worker thread. onnxruntime-node's `run` computes on the calling
 * thread (its promise resolves after the work is done), so a detector holding the main thread
 * for 60 ms a frame stops everything else: a live stream's pipe is drained late (a TCP source is
 * throttled, a UDP one loses packets) and frames the cascade could decide in a millisecond wait.
 * With `offThread`, the graph runs here instead; the main thread only copies tensors in and out.
 *
 * The worker is a short CommonJS script evaluated from a string (it only needs onnxruntime-node,
 * whose resolved path it is given), so it runs the same from `src/` under the test runner and from
 * `dist/` in the package.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ModelError } from '../errors.js';

/** What crosses to the worker and back: a tensor as plain data. */
export interface WorkerTensor {
  readonly type: string;
  readonly data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  readonly dims: readonly number[];
}

interface Loaded {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly unknown[];
  readonly outputMetadata: readonly unknown[];
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
let session;
const plain = (m) => JSON.parse(JSON.stringify(m ?? []));
const fail = (id, e) => parentPort.postMessage({ id, error: String((e && e.message) || e) });
parentPort.on('message', async (m) => {
  try {
    if (m.type === 'load') {
      session = await ort.InferenceSession.create(m.model, m.options);
      parentPort.postMessage({ id: m.id, loaded: { inputNames: session.inputNames, outputNames: session.outputNames, inputMetadata: plain(session.inputMetadata), outputMetadata: plain(session.outputMetadata) } });
    } else if (m.type === 'run') {
      const feeds = {};
      for (const [name, t] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const results = m.fetches ? await session.run(feeds, m.fetches) : await session.run(feeds);
      const out = {};
      const transfer = [];
      for (const [name, t] of Object.entries(results)) {
        const data = t.data.slice();
        out[name] = { type: t.type, data, dims: [...t.dims] };
        transfer.push(data.buffer);
      }
      parentPort.postMessage({ id: m.id, out }, transfer);
    } else if (m.type === 'release') {
      if (session) await session.release();
      session = undefined;
      parentPort.postMessage({ id: m.id });
    }
  } catch (e) {
    fail(m.id, e);
  }
});
`;

type Reply = { id: number; error?: string; loaded?: Loaded; out?: Record<string, WorkerTensor> };

/** One worker thread holding at most one ONNX Runtime session; requests are answered in order. */
export class OnnxWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private next = 0;
  private dead: Error | undefined;

  constructor() {
    const ort = createRequire(import.meta.url).resolve('onnxruntime-node');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ort } });
    this.worker.on('message', (reply: Reply) => {
      const w = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      w?.resolve(reply);
    });
    const die = (error: Error) => {
      this.dead ??= new ModelError('MODEL_WORKER', `the ONNX Runtime worker thread stopped: ${error.message}. Run again; if it keeps stopping, run without the off-thread detector.`, {}, { cause: error });
      for (const w of this.waiting.values()) w.reject(this.dead);
      this.waiting.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
    // An idle worker does not keep the process alive.
    this.worker.unref();
  }

  /** Loads a model (a path or ONNX bytes) with ONNX Runtime's session options; throws its error message. */
  async load(model: string | Uint8Array, options: unknown): Promise<Loaded> {
    return (await this.request({ type: 'load', model, options })).loaded!;
  }

  async run(feeds: Readonly<Record<string, WorkerTensor>>, fetches: readonly string[] | undefined): Promise<Record<string, WorkerTensor>> {
    return (await this.request({ type: 'run', feeds, fetches })).out!;
  }

  /** Releases the session; the worker stays for another load. */
  async release(): Promise<void> {
    if (!this.dead) await this.request({ type: 'release' });
  }

  async terminate(): Promise<void> {
    this.dead ??= new ModelError('MODEL_DISPOSED', 'the ONNX Runtime worker thread was closed');
    await this.worker.terminate();
  }

  private request(message: Record<string, unknown>): Promise<Reply> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...message, id });
    }).then(
      (reply) => {
        if (this.waiting.size === 0) this.worker.unref();
        if (reply.error !== undefined) throw new Error(reply.error);
        return reply;
      },
      (error: unknown) => {
        if (this.waiting.size === 0) this.worker.unref();
        throw error;
      },
    );
  }
}

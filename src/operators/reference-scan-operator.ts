/**
 * ReferenceScan: the reference detector's labels. `all` (the exact plan) streams every frame in
 * range, from the store where it has them, and stops as soon as the answer is complete (LIMIT).
 * `uncertain` checks the frames the cheap stages left undecided (and, for object rows, the
 * positives, whose objects the answer lists).
 */
import { detectorInputKey, recordOutputCost } from '../optimizer/decode-cost.js';
import { COST_KEYS } from '../optimizer/cost-model.js';
import { machineKey } from '../optimizer/machine.js';
import type { ReferenceScanNode } from '../plan/physical-node.js';
import { frameList } from '../video/frame-range.js';
import { ROUTE, type CascadeBatch, type ExecutionContext } from './execution-context.js';
import { referenceScan } from './reference-labels.js';

export function referenceScanOperator(node: ReferenceScanNode, ctx: ExecutionContext, input: AsyncIterable<CascadeBatch> | undefined): AsyncIterable<CascadeBatch> {
  return node.role === 'all' ? scanAll(ctx) : checkUncertain(ctx, input!);
}

async function* scanAll(ctx: ExecutionContext): AsyncGenerator<CascadeBatch> {
  const { counters, range } = ctx;
  const frames = frameList(range.start, range.end);
  const before = { calls: counters.referenceCalls, store: counters.labelsFromStore, detect: counters.detectSeconds, wait: counters.decodeWaitSeconds ?? 0, decoded: counters.framesDecoded };
  const started = performance.now();
  try {
    for await (const chunk of referenceScan(ctx.scan('label', 'reference detector'), frames, counters)) {
      const n = chunk.length;
      yield { frames: Int32Array.from(chunk, (f) => f.frame), route: new Uint8Array(n).fill(ROUTE.labelled), score: new Float32Array(n), decision: new Int8Array(n), labelled: chunk };
    }
  } finally {
    // Also when the answer stopped the scan early (LIMIT): what was measured is recorded.
    const calls = counters.referenceCalls - before.calls;
    const model = await ctx.session.referenceModel();
    const machine = machineKey();
    const key = COST_KEYS.reference(model.sha256);
    if (calls > 0) await ctx.catalog.putStageCost({ ...key, machine, secondsPerFrame: (counters.detectSeconds - before.detect) / calls });
    const { width: W, height: H } = ctx.handle.row;
    await recordOutputCost(ctx.catalog, detectorInputKey(W, H), machine, (counters.decodeWaitSeconds ?? 0) - before.wait, counters.framesDecoded - before.decoded);
    const store = counters.labelsFromStore - before.store;
    ctx.stages.push({ stage: 'label store', framesIn: store + calls, framesDecided: store, seconds: 0 });
    ctx.stages.push({ stage: 'reference detector', framesIn: calls, framesDecided: calls, seconds: (performance.now() - started) / 1000 });
  }
}

async function* checkUncertain(ctx: ExecutionContext, input: AsyncIterable<CascadeBatch>): AsyncGenerator<CascadeBatch> {
  const { counters, frames: N } = ctx;
  const needRows = ctx.query.shape === 'select-rows';
  const grid = await ctx.labelledGrid();
  for await (const batch of input) {
    const wanted: number[] = [];
    let fromStore = 0;
    for (let i = 0; i < batch.frames.length; i++) {
      if (batch.route[i] === ROUTE.labelled) fromStore++;
      else if (batch.decision[i] === -1 || (needRows && batch.decision[i] === 1)) wanted.push(batch.frames[i]!);
    }
    const started = performance.now();
    const calls = counters.referenceCalls;
    for await (const chunk of referenceScan(ctx.scan('verify', 'reference (uncertain)'), Int32Array.from(wanted), counters, grid ? { skip: grid } : {})) {
      for (const f of chunk) {
        const at = f.frame - batch.frames[0]!;
        batch.decision[at] = ctx.truthOf(f.detections, f.frame, f.timestamp) > 0 ? 1 : 0;
        batch.route[at] = ROUTE.labelled;
      }
    }
    ctx.uncertainChecked += counters.referenceCalls - calls;
    ctx.stages.push({ stage: 'reference detector', framesIn: wanted.length, framesDecided: wanted.length, seconds: (performance.now() - started) / 1000 });
    ctx.stages.unshift({ stage: 'label store', framesIn: N, framesDecided: fromStore, seconds: 0 });
    yield batch;
  }
}

/**
 * Unit tests of who decides a live frame (`src/live/frame-router.ts`): the reference queue's
 * admission (by measured seconds per frame against `maxLag`, or by a frame count), and the routes
 * a frame takes when the reference is free or busy, with the cascade off and on. The detector and
 * the cascade's model are stand-ins here (what the router does with their answers is under test);
 * the live tests run the real ones.
 */
import { describe, expect, it } from 'vitest';
import { bindWatchQuery } from '../../src/live/watch.js';
import { ReferenceQueue, routeFrame, type RouterOptions } from '../../src/live/frame-router.js';
import type { StreamCascade } from '../../src/live/stream-cascade.js';
import type { StreamFrame } from '../../src/live/stream-reader.js';

const LABELS = ['person', 'car'];
const frameAt = (seq: number): StreamFrame => ({ type: 'frame', seq, frame: seq, time: seq / 10, arrivedAt: Date.now(), width: 8, height: 8, rgb: new Uint8Array(8 * 8 * 3) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A cascade whose model gives `decision` (and `alone`) for every frame, recording what it is told. */
function standInCascade(decision: -1 | 0 | 1, alone: -1 | 0 | 1) {
  const told = { labels: 0, verified: 0 };
  const cascade = {
    active: true,
    decide: async () => ({ decision, alone }),
    addLabel: () => void told.labels++,
    verified: () => void told.verified++,
  } as unknown as StreamCascade;
  return { cascade, told };
}

function router(sql: string, cascade: StreamCascade | undefined, queue: ReferenceQueue, detectMs = 0): RouterOptions & { calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    query: bindWatchQuery(sql, { cam: 'udp://127.0.0.1:1' }, LABELS),
    cascade,
    queue,
    detect: async (frame) => {
      calls.push(frame.seq);
      await sleep(detectMs);
      return [{ classId: 0, score: 0.9, xmin: 0, ymin: 0, xmax: 1, ymax: 1, frame: frame.frame, timestamp: frame.time }];
    },
    answer: (rows) => ({ match: rows.length > 0, value: rows.length }),
  };
}

const SELECT = "SELECT timestamp FROM cam WHERE class = 'person'";

describe('ReferenceQueue', () => {
  it('admits a frame while the queue in front of it fits in maxLag at the measured seconds per frame', async () => {
    // Each frame takes at least 20 ms (more on a loaded machine): the expectations hold for any
    // measured time between 20 ms and 300 ms.
    const q = new ReferenceQueue({ maxLagSeconds: 1 });
    expect(q.admits()).toBe(true);
    await q.run(() => sleep(20));
    const running = [q.run(() => sleep(20)), q.run(() => sleep(20))];
    expect(q.length).toBe(2);
    expect(q.admits()).toBe(true); // 3 x (0.02 .. 0.3) <= 1
    expect(q.admits(0.999)).toBe(false); // a frame that already waited almost 1 s would be late
    for (let i = 0; i < 60; i++) running.push(q.run(() => sleep(20)));
    expect(q.admits()).toBe(false); // 63 x >= 0.02 > 1
    await Promise.all(running);
    expect(q.length).toBe(0);
    expect(q.admits()).toBe(true);
  });

  it('with a backlog, admits by count whatever the detector takes', async () => {
    const q = new ReferenceQueue({ maxLagSeconds: 0.001, backlog: 2 });
    await q.run(() => sleep(20));
    const running = [q.run(() => sleep(10))];
    expect(q.admits()).toBe(true);
    running.push(q.run(() => sleep(10)));
    expect(q.admits()).toBe(false);
    await Promise.all(running);
  });

  it('gives the share of arriving frames it sustains: 1 until measured or without a rate', async () => {
    const q = new ReferenceQueue({ maxLagSeconds: 1 });
    q.setArrivalRate(100);
    expect(q.sustainableShare()).toBe(1);
    await q.run(() => sleep(20));
    const share = q.sustainableShare();
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThanOrEqual(0.5); // >= 20 ms a frame at 100 fps
    q.setArrivalRate(undefined);
    expect(q.sustainableShare()).toBe(1);
  });

  it('runs frames one at a time, in order', async () => {
    const q = new ReferenceQueue({ maxLagSeconds: 1 });
    const order: number[] = [];
    await Promise.all([3, 1, 2].map((ms, i) => q.run(async () => {
      await sleep(ms * 5);
      order.push(i);
    })));
    expect(order).toEqual([0, 1, 2]);
  });
});

describe('routeFrame', () => {
  it('without a cascade: the reference decides while it keeps up, later frames are skipped', async () => {
    const r = router(SELECT, undefined, new ReferenceQueue({ maxLagSeconds: 1, backlog: 1 }), 20);
    const first = await routeFrame(r, frameAt(0), 1);
    const second = await routeFrame(r, frameAt(1), 1);
    expect(second).toBe('skipped');
    expect(first).not.toBe('skipped');
    expect(await (first as { pending: Promise<unknown> }).pending).toEqual({ match: true, value: 1, decidedBy: 'reference' });
    expect(r.calls).toEqual([0]);
  });

  it('without a cascade, the frames offered to a slow reference are drawn evenly spread at the share it sustains', async () => {
    const queue = new ReferenceQueue({ maxLagSeconds: 1000 });
    await queue.run(() => sleep(20));
    queue.setArrivalRate(2 / queue.secondsPerFrame!); // a rate at which it sustains 1 frame in 2
    expect(queue.sustainableShare()).toBeCloseTo(0.5, 9);
    const r = router(SELECT, undefined, queue);
    const routed: Awaited<ReturnType<typeof routeFrame>>[] = [];
    for (let i = 0; i < 400; i++) routed.push(await routeFrame(r, frameAt(i), 1));
    const taken = routed.map((x, i) => (x === 'skipped' ? -1 : i)).filter((i) => i >= 0);
    expect(taken.length).toBeGreaterThanOrEqual(195);
    expect(taken.length).toBeLessThanOrEqual(205);
    // Not runs: taken frames are one in two, never far apart.
    const gaps = taken.slice(1).map((f, i) => f - taken[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(3);
    await Promise.all(routed.flatMap((x) => (x === 'skipped' ? [] : [x.pending])));
  });

  it('a sure model decision is the cascade\'s; a verification draw goes to the reference, which is told', async () => {
    const { cascade, told } = standInCascade(0, 0);
    const r = router(SELECT, cascade, new ReferenceQueue({ maxLagSeconds: 1 }));
    const sure = await routeFrame(r, frameAt(5), 0);
    expect(await (sure as { pending: Promise<unknown> }).pending).toEqual({ match: false, value: 0, decidedBy: 'cascade' });
    const checked = await routeFrame(r, frameAt(6), 1);
    expect(await (checked as { pending: Promise<unknown> }).pending).toMatchObject({ match: true, decidedBy: 'reference' });
    // The checked frame is also offered as a label (kept only while the cascade leaves the reference saturated).
    expect(told).toEqual({ labels: 1, verified: 1 });
  });

  it('an uncertain frame goes to the reference when it is free, to the model alone when it is busy', async () => {
    const { cascade, told } = standInCascade(-1, 1);
    const r = router(SELECT, cascade, new ReferenceQueue({ maxLagSeconds: 1, backlog: 1 }), 20);
    const free = await routeFrame(r, frameAt(0), 0);
    const busy = await routeFrame(r, frameAt(1), 0);
    expect(await (busy as { pending: Promise<unknown> }).pending).toEqual({ match: true, value: 1, decidedBy: 'model-alone' });
    expect(await (free as { pending: Promise<unknown> }).pending).toMatchObject({ decidedBy: 'reference' });
    expect(told.labels).toBe(1); // the stand-in says not running, so the reference's answer is a label
  });

  it('an uncertain frame the busy reference cannot take is skipped when deciding alone would not meet the targets', async () => {
    const { cascade } = standInCascade(-1, -1);
    const r = router(SELECT, cascade, new ReferenceQueue({ maxLagSeconds: 1, backlog: 1 }), 20);
    const free = await routeFrame(r, frameAt(0), 0);
    expect(await routeFrame(r, frameAt(1), 0)).toBe('skipped');
    expect(await (free as { pending: Promise<unknown> }).pending).toMatchObject({ decidedBy: 'reference' });
  });

  it('a verification draw the busy reference cannot take keeps the model\'s decision', async () => {
    const { cascade, told } = standInCascade(1, 1);
    const r = router(SELECT, cascade, new ReferenceQueue({ maxLagSeconds: 1, backlog: 1 }), 20);
    const first = await routeFrame(r, frameAt(0), 1);
    const drawn = await routeFrame(r, frameAt(1), 1);
    expect(await (drawn as { pending: Promise<unknown> }).pending).toEqual({ match: true, value: 1, decidedBy: 'cascade' });
    await (first as { pending: Promise<unknown> }).pending;
    expect(told.verified).toBe(1);
  });

  it('a frame LIMIT would return always waits for the reference', async () => {
    const { cascade } = standInCascade(1, 1);
    const r = router(`${SELECT} LIMIT 2`, cascade, new ReferenceQueue({ maxLagSeconds: 1, backlog: 1 }), 20);
    const routes = [];
    for (let i = 0; i < 3; i++) routes.push(await routeFrame(r, frameAt(i), 0));
    const decided = await Promise.all(routes.map((x) => (x as { pending: Promise<{ decidedBy: string }> }).pending));
    expect(decided.map((d) => d.decidedBy)).toEqual(['reference', 'reference', 'reference']);
    expect(r.calls).toEqual([0, 1, 2]);
  });
});

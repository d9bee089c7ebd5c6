import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLinearResizer, LinearResizer, planLinearResize, resizeLinearRgb } from '../../src/inference/linear-resize.js';
import { WASM_BASE64 } from '../../src/inference/kernels/linear-resize-wasm.js';
import { compileKernel } from '../../scripts/kernel-compiler.mjs';
import { opencvPython, repoRoot } from '../helpers.js';
import { Prng } from '../language/prng.js';

describe('linear resize (cv2 INTER_LINEAR)', () => {
  it('upscales 2x with half-pixel centres and 11-bit weights (values worked by hand)', () => {
    // One row 0, 100 -> 4 columns. Sources: -0.25 (clamped: 0), 0.25, 0.75, 1.25 (edge: 100).
    // 0.25: weights 1536/512 -> 25; 0.75: 512/1536 -> 75.
    const src = Uint8Array.from([0, 0, 0, 100, 100, 100]);
    const out = resizeLinearRgb(src, 2, 1, 4, 1);
    expect(Array.from(out.filter((_, i) => i % 3 === 0))).toEqual([0, 25, 75, 100]);
  });

  it('rounds as OpenCV does: 1/3 positions give 11-bit weights 683/1365', () => {
    const plan = planLinearResize(2, 1, 3, 1); // positions -1/6, 1/2, 7/6
    expect(Array.from(plan.alpha)).toEqual([2048, 0, 1024, 1024, 2048, 0]);
    const plan3 = planLinearResize(3, 3, 2, 2); // positions 0.25, 1.75
    expect(Array.from(plan3.beta)).toEqual([1536, 512, 512, 1536]);
    expect(Array.from(plan3.y1)).toEqual([1, 2]);
  });

  it('an exact 2x reduction averages 2x2 blocks, rounding half up', () => {
    const src = Uint8Array.from([1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2]); // 2x2: 1,2 / 2,2 -> (7+2)>>2 = 2
    expect(Array.from(resizeLinearRgb(src, 2, 2, 1, 1))).toEqual([2, 2, 2]);
    expect(planLinearResize(1280, 720, 640, 360).halve).toBe(true);
    expect(planLinearResize(1281, 720, 640, 360).halve).toBe(false);
  });

  it('keeps a flat image flat and rejects bad sizes', () => {
    const src = new Uint8Array(7 * 5 * 3).fill(201);
    expect(resizeLinearRgb(src, 7, 5, 13, 3).every((v) => v === 201)).toBe(true);
    expect(() => planLinearResize(0, 5, 4, 4)).toThrow(RangeError);
    expect(() => new LinearResizer(planLinearResize(4, 4, 2, 2)).resize(new Uint8Array(3), new Uint8Array(12))).toThrow(RangeError);
  });

  it('uses the WebAssembly SIMD kernel, which gives the JS resizer\'s bytes on every frame of a batch', () => {
    const plan = planLinearResize(97, 61, 640, 402);
    const wasm = createLinearResizer(plan);
    expect(wasm.kind).toBe('wasm-simd');
    const js = createLinearResizer(plan, 'js');
    expect(js.kind).toBe('js');
    const prng = new Prng(3);
    for (let frame = 0; frame < 3; frame++) {
      const src = Uint8Array.from({ length: 97 * 61 * 3 }, () => prng.int(256));
      const a = new Uint8Array(640 * 402 * 3);
      const b = new Uint8Array(640 * 402 * 3);
      wasm.resize(src, a);
      js.resize(src, b);
      expect(Buffer.compare(a, b)).toBe(0);
    }
  });

  it('embeds the binary compiled from kernels/linear-resize.wat (run npm run build:kernels after editing it)', async () => {
    const wat = readFileSync(join(repoRoot, 'src/inference/kernels/linear-resize.wat'), 'utf8');
    expect((await compileKernel(wat, 'linear-resize.wat')).toString('base64')).toBe(WASM_BASE64);
  });

  const python = opencvPython();
  const dir = mkdtempSync(join(tmpdir(), 'sieve-resize-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(!python)('matches real cv2.resize bit for bit on random images, up and down', () => {
    // The shared clips' letterbox sizes, odd ratios, an exact 2x reduction, 1-pixel edges.
    const cases: [number, number, number, number][] = [
      [320, 240, 640, 480], [768, 432, 640, 360], [480, 360, 640, 480], [600, 360, 640, 384], [890, 646, 640, 465],
      [1280, 720, 640, 360], [360, 240, 640, 427], [97, 61, 640, 402], [5, 3, 416, 250], [1, 1, 7, 9], [640, 360, 17, 10],
      [1920, 1080, 640, 360], [853, 480, 416, 234], [3, 800, 2, 533],
    ];
    const prng = new Prng(9);
    const images = cases.map(([sw, sh]) => Uint8Array.from({ length: sw * sh * 3 }, () => prng.int(256)));
    // Smooth images too: real frames are mostly gradients, where rounding differences would show.
    images.push(Uint8Array.from({ length: 320 * 240 * 3 }, (_, i) => (Math.floor(i / 3) % 320 + Math.floor(i / 960) * 0.5 + (i % 3) * 40) % 256));
    cases.push([320, 240, 640, 480]);
    const parts: Buffer[] = [];
    cases.forEach(([sw, sh, dw, dh], i) => {
      const header = Buffer.alloc(16);
      [sw, sh, dw, dh].forEach((v, k) => header.writeUInt32LE(v, k * 4));
      parts.push(header, Buffer.from(images[i]!));
    });
    writeFileSync(join(dir, 'in.bin'), Buffer.concat(parts));
    const r = spawnSync(python!, [join(repoRoot, 'test/fidelity/cv2_resize.py'), join(dir, 'in.bin'), join(dir, 'out.bin')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const expected = readFileSync(join(dir, 'out.bin'));
    let offset = 0;
    cases.forEach(([sw, sh, dw, dh], i) => {
      const want = expected.subarray(offset, offset + dw * dh * 3);
      offset += dw * dh * 3;
      for (const prefer of ['js', undefined] as const) {
        const got = resizeLinearRgb(images[i]!, sw, sh, dw, dh, prefer);
        let differ = 0;
        for (let k = 0; k < got.length; k++) if (got[k] !== want[k]) differ++;
        expect(differ, `${prefer ?? 'wasm'} ${sw}x${sh} -> ${dw}x${dh}: ${differ} of ${got.length} bytes differ from cv2`).toBe(0);
      }
    });
    expect(offset).toBe(expected.length);
  });
});

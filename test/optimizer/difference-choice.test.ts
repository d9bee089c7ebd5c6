import { describe, expect, it } from 'vitest';
import { chooseDifferenceDetector } from '../../src/optimizer/difference-choice.js';
import { distance } from '../../src/video/frame-distance.js';
import { Random } from '../../src/training/random.js';

/** A static noisy scene; positive frames have a bright 6x6 object somewhere. */
function scene(n: number, size: number, rng: Random): { images: Uint8Array; truth: number[] } {
  const bytes = size * size * 3;
  const images = new Uint8Array(n * bytes);
  const truth: number[] = [];
  for (let i = 0; i < n; i++) {
    const present = Math.floor(i / 10) % 3 === 0 ? 1 : 0;
    truth.push(present);
    for (let p = 0; p < bytes; p++) images[i * bytes + p] = 90 + ((p * 7) % 40) + Math.floor(rng.next() * 4);
    if (present) {
      const x0 = (i * 3) % (size - 6);
      for (let y = 4; y < 10; y++) for (let x = x0; x < x0 + 6; x++) for (let c = 0; c < 3; c++) images[i * bytes + (y * size + x) * 3 + c] = 250;
    }
  }
  return { images, truth };
}

describe('chooseDifferenceDetector', () => {
  const rng = new Random(3);
  const size = 32;
  const { images, truth } = scene(120, size, rng);

  it('measures all four detectors and, when the model is expensive, keeps one that decides no sample positive as negative', () => {
    const choice = chooseDifferenceDetector({ images, size, truth, modelSeconds: 1, grid: 4, errorBudget: 0.0025 });
    expect(choice.candidates).toHaveLength(4);
    expect(choice.enabled).toBe(true);
    expect(choice.hitRate).toBeGreaterThan(0.3);
    expect(choice.errors).toBe(0);
    if (choice.spec.reference === 'background') {
      const background = new Uint8Array(Buffer.from(choice.background!, 'base64'));
      const bytes = size * size * 3;
      for (let i = 0; i < truth.length; i++) {
        const d = distance(choice.spec, images.subarray(i * bytes, (i + 1) * bytes), background, size, size);
        if (truth[i]) expect(d).toBeGreaterThanOrEqual(choice.threshold);
      }
    }
  });

  it('is off when the model it would spare costs less than the distance itself', () => {
    const choice = chooseDifferenceDetector({ images, size, truth, modelSeconds: 0, grid: 4, errorBudget: 0.0025 });
    expect(choice.enabled).toBe(false);
  });

  it('offers no background detector without enough negative frames', () => {
    const choice = chooseDifferenceDetector({ images, size, truth: truth.map(() => 1), modelSeconds: 1, grid: 4, errorBudget: 0.0025 });
    expect(choice.candidates.map((c) => c.spec.reference)).toEqual(['earlier-frame', 'earlier-frame']);
  });
});

import { distance } from 'fastest-levenshtein';

/** Edit distance where swapping two adjacent characters costs one edit (`cra` -> `car` is 1). */
function editDistance(a: string, b: string): number {
  let best = distance(a, b);
  if (best <= 1 || a.length > 64) return best;
  for (let i = 0; i + 1 < a.length; i++) {
    if (a[i] === a[i + 1]) continue;
    const swapped = a.slice(0, i) + a[i + 1] + a[i] + a.slice(i + 2);
    best = Math.min(best, 1 + distance(swapped, b));
  }
  return best;
}

function allowedDistance(length: number): number {
  if (length <= 3) return 1;
  if (length <= 6) return 2;
  return 3;
}

/**
 * The valid names closest to a misspelt one, best first (at most `limit`): those at the smallest
 * edit distance within a budget that grows with the name's length, else names that contain it as
 * a word (`light` -> `traffic light`). Case is ignored; candidates are returned as given.
 */
export function closestNames(name: string, candidates: readonly string[], limit = 3): string[] {
  const wanted = name.toLowerCase();
  if (wanted.length === 0 || wanted.length > 200) return [];
  const budget = allowedDistance(wanted.length);
  let bestDistance = Infinity;
  let best: string[] = [];
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    if (Math.abs(lower.length - wanted.length) > budget) continue;
    const d = editDistance(wanted, lower);
    if (d > budget || d > bestDistance) continue;
    if (d < bestDistance) {
      bestDistance = d;
      best = [];
    }
    if (!best.includes(candidate)) best.push(candidate);
  }
  if (best.length > 0) return best.slice(0, limit);
  if (wanted.length < 3) return [];
  const containing = candidates.filter((c) => c.toLowerCase().split(/[^a-z0-9]+/).includes(wanted));
  return [...new Set(containing)].slice(0, limit);
}

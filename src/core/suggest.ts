// "Did you mean …?" for the strict parsers (keyrack.yml, the user config): the allowed name closest to an unknown
// one, if it is close enough to be a typo. Case, `-` and spaces are ignored, and `startUrl` matches `start_url`.

/** The allowed name closest to `name`, if it is close enough to be a typo (`startUrl` → `start_url`). */
export function closest(name: string, allowed: readonly string[]): string | undefined {
  const typed = name.toLowerCase().replace(/[-\s]/g, '_');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const d = Math.min(editDistance(typed, candidate), editDistance(typed, candidate.replace(/_/g, '')));
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

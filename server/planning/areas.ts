import type { Policy } from "@/schemas/policy";
import { areaOf, matcher } from "@/server/config/areas";

export { areaOf };

/** Pairs of areas whose globs both match some file of the tree (reported at start). */
export function overlappingAreas(
  policy: Policy,
  files: string[],
): { first: string; second: string; example: string }[] {
  const out = new Map<string, { first: string; second: string; example: string }>();
  for (const file of files) {
    const hits = policy.areas.filter((a) => matcher(a)(file));
    for (let i = 1; i < hits.length; i++) {
      const key = `${hits[0]?.name}|${hits[i]?.name}`;
      if (!out.has(key))
        out.set(key, { first: hits[0]?.name ?? "", second: hits[i]?.name ?? "", example: file });
    }
  }
  return [...out.values()];
}

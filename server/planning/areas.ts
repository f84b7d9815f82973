import type { Area, Policy } from "@/schemas/policy";
import { compileGlobs } from "@/server/glob/match";

// Our own matcher rather than picomatch: area globs come from configs, and a regex built from a
// glob can backtrack for seconds on a long name (`**/*a*a*a*a*a*b`).
const matchers = new WeakMap<Area, (path: string) => boolean>();

function matcher(area: Area): (path: string) => boolean {
  let m = matchers.get(area);
  if (!m) {
    m = compileGlobs(area.paths);
    matchers.set(area, m);
  }
  return m;
}

/** The area a path belongs to: the first listed area whose globs match it. */
export function areaOf(policy: Policy, path: string): Area | undefined {
  return policy.areas.find((a) => matcher(a)(path));
}

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

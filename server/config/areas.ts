import type { Area, Policy } from "@/schemas/policy";
import { compileGlobs } from "@/server/glob/match";

// Our own matcher rather than picomatch: area globs come from configs, and a regex built from a
// glob can backtrack for seconds on a long name (`**/*a*a*a*a*a*b`).
const matchers = new WeakMap<Area, (path: string) => boolean>();

export function matcher(area: Area): (path: string) => boolean {
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

/**
 * The lane of a change in a pipeline with `lanes: "area"`: the area all its paths fall in, or
 * "*" (the whole branch) when they span several areas or none.
 */
export function laneOf(policy: Policy, paths: readonly string[]): string {
  const names = new Set(paths.map((p) => areaOf(policy, p)?.name ?? "*"));
  const [only] = names;
  return names.size === 1 && only !== undefined ? only : "*";
}

import type { Risk } from "@/schemas/change-request";
import type { Policy } from "@/schemas/policy";
import type { Spec } from "@/schemas/task-assignment";
import type { TaskRequest } from "@/schemas/task-request";
import { checksForWork } from "@/server/checks/checks";
import { areaOf } from "./areas";
import { isDocFile, isTestFile, stem } from "./file-roles";
import type { RepoFile } from "./repo-files";

export type EngineerInput = {
  request: TaskRequest;
  policy: Policy;
  files: RepoFile[];
  /** The requester's answers to earlier questions, read together with the description. */
  notes?: string[];
};
export type EngineerResult = (
  | { spec: Spec; questions: [] }
  | { spec: null; questions: string[] }
) & {
  /** Who scoped it: `builtin` or the agent's name. */
  by?: string;
  /** Why the built-in Engineer scoped it although the policy names an agent. */
  fallback?: string;
};

/** The Engineer's job, behind an interface so that an agent can take it over later. */
export interface Engineer {
  scope(input: EngineerInput): EngineerResult | Promise<EngineerResult>;
}

const RISK_ORDER: Risk[] = ["low", "medium", "high"];

function words(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/[a-z][a-z0-9_-]{2,}/g) ?? [])];
}

/**
 * The built-in Engineer: deterministic, so its scoping can be tested and trusted. It finds the
 * files a request needs (named ones, paths and identifiers in the description, words that name
 * a file or an area), infers the kind, takes the risk from the areas, and picks the policy's checks.
 * When it cannot scope the request it asks instead of guessing.
 */
export class BuiltinEngineer implements Engineer {
  scope({ request, policy, files, notes = [] }: EngineerInput): EngineerResult {
    const text = [request.title, request.description, ...notes].join("\n");
    // What the requester named (files, areas) is the scope; a path only the prose names is a
    // suggestion beside it, unless the named files and areas leave the scope empty.
    const named = new Set<string>(request.files);
    const namedQuestions = addAreaFiles(request, policy, files, "", named);
    const fromNames = named.size > 0;
    const needed = fromNames ? named : filesNamed(request, files, text);
    const questions = fromNames
      ? namedQuestions
      : addAreaFiles(request, policy, files, text, needed);
    const list = [...needed].sort();
    const suggestedFiles = fromNames ? pathsInProse(text, files).filter((p) => !needed.has(p)) : [];
    const areas = [
      ...new Set(list.map((p) => areaOf(policy, p)?.name).filter((a): a is string => !!a)),
    ].sort();
    const kind = request.kind ?? inferKind(text, list);
    questions.push(...doubts(request, policy, needed, list, questions.length > 0));
    if (questions.length) return { spec: null, questions };

    const risks = areas.map((name) => policy.areas.find((a) => a.name === name)?.risk ?? "medium");
    const highest = risks.reduce<Risk>(
      (m, r) => (RISK_ORDER.indexOf(r) > RISK_ORDER.indexOf(m) ? r : m),
      "low",
    );
    const risk: Risk = areas.length > 1 ? "high" : highest;
    // Acceptance is the requester's words for the developer; only what names a policy check runs.
    const acceptance = request.acceptance;
    const checks = checksForWork(policy, areas, acceptance, request.checks);
    const byPath = new Map(files.map((f) => [f.path, f]));
    const contextTokens = Math.ceil(list.reduce((n, p) => n + (byPath.get(p)?.size ?? 0), 0) / 4);
    return {
      spec: {
        kind,
        risk,
        areas,
        files: list,
        acceptance,
        checks,
        contextTokens,
        ...(suggestedFiles.length ? { suggestedFiles } : {}),
      },
      questions: [],
    };
  }
}

/** Paths of the repository's files that the text spells out (`lib/utils.js`, `./README.md`). */
function pathsInProse(text: string, files: RepoFile[]): string[] {
  const known = new Set(files.map((f) => f.path));
  const found = new Set<string>();
  for (const token of text.match(/[\w./-]+\.[A-Za-z0-9]+/g) ?? []) {
    const clean = token.replace(/^\.\//, "");
    if (known.has(clean)) found.add(clean);
  }
  return [...found].sort();
}

/**
 * The files a request names: its files[], paths in its text, and, when none of those is in the
 * repository, files whose stem its text names (as a word or an `identifier`).
 */
function filesNamed(request: TaskRequest, files: RepoFile[], text: string): Set<string> {
  const needed = new Set<string>([...request.files, ...pathsInProse(text, files)]);
  const identifiers = [...text.matchAll(/`([A-Za-z_][\w.-]*)`/g)].map(
    (m) => m[1]?.toLowerCase() ?? "",
  );
  const named = new Set([...identifiers, ...words(text)]);
  if (needed.size === 0) {
    for (const f of files) if (named.has(stem(f.path).toLowerCase())) needed.add(f.path);
  }
  return needed;
}

/**
 * The files of the areas a request names (its areas[], or area names in its text when it names
 * no file), added to `needed` where no named file is in the area already; a question instead
 * for an area with more files than a task may change.
 */
function addAreaFiles(
  request: TaskRequest,
  policy: Policy,
  files: RepoFile[],
  text: string,
  needed: Set<string>,
): string[] {
  const questions: string[] = [];
  const areaNames = new Set(policy.areas.map((a) => a.name));
  const requestedAreas = new Set(request.areas);
  if (needed.size === 0) for (const w of words(text)) if (areaNames.has(w)) requestedAreas.add(w);
  for (const name of requestedAreas) {
    const area = policy.areas.find((a) => a.name === name);
    if (!area) continue;
    const inArea = files.filter((f) => areaOf(policy, f.path)?.name === name);
    const hasFileThere = [...needed].some((p) => areaOf(policy, p)?.name === name);
    if (hasFileThere) continue;
    if (inArea.length <= policy.limits.maxFilesPerTask) for (const f of inArea) needed.add(f.path);
    else
      questions.push(
        `Which files in area '${name}' does this concern? It has ${inArea.length} files; name them in files[].`,
      );
  }
  return questions;
}

/**
 * What the Engineer asks rather than guess: no file at all (unless an area question is already
 * asked), files of no area, more files than a request may touch, a kind its files contradict.
 */
function doubts(
  request: TaskRequest,
  policy: Policy,
  needed: Set<string>,
  list: string[],
  asked: boolean,
): string[] {
  const questions: string[] = [];
  if (needed.size === 0 && !asked) {
    questions.push(
      `No file or area matches this request. Which files should change, or which area is it in (${policy.areas.map((a) => a.name).join(", ")})?`,
    );
  }
  const unmapped = [...needed].filter((p) => !areaOf(policy, p));
  if (unmapped.length)
    questions.push(
      `These files belong to no area of the policy: ${unmapped.join(", ")}. Which area should own them?`,
    );
  const ceiling = policy.limits.maxFilesPerTask * policy.limits.maxTasksPerRequest;
  if (needed.size > ceiling) {
    questions.push(
      `This touches ${needed.size} files; one request may touch at most ${ceiling}. Split it into smaller requests.`,
    );
  }
  if (request.kind === "docs" && list.some((p) => !isDocFile(p))) {
    questions.push(
      `The kind is docs but it names code files (${list.filter((p) => !isDocFile(p)).join(", ")}). Is it docs only?`,
    );
  }
  if (request.kind === "test" && list.some((p) => !isTestFile(p))) {
    questions.push(
      `The kind is test but it names non-test files (${list.filter((p) => !isTestFile(p)).join(", ")}). Is it tests only?`,
    );
  }
  return questions;
}

export function inferKind(text: string, paths: string[]): Spec["kind"] {
  if (paths.length && paths.every(isDocFile)) return "docs";
  if (paths.length && paths.every(isTestFile)) return "test";
  const t = text.toLowerCase();
  if (/\b(fix|bug|broken|crash|error|wrong|regression|fails?)\b/.test(t)) return "bugfix";
  if (/\b(refactor|rename|extract|clean ?up|simplify|restructure|move)\b/.test(t))
    return "refactor";
  if (/\b(bump|upgrade|dependency|dependencies|ci|workflow|chore)\b/.test(t)) return "chore";
  return "feature";
}

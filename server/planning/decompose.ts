import type { Policy } from "@/schemas/policy";
import type { Spec, TaskAssignment } from "@/schemas/task-assignment";
import type { TaskRequest } from "@/schemas/task-request";
import { areaOf } from "@/server/planning/areas";
import { roleOf, stem } from "@/server/planning/file-roles";
import type { RepoFile } from "@/server/planning/repo-files";

export class CycleError extends Error {
  override name = "CycleError";
}

const dir = (p: string) => p.split("/").slice(0, -1).join("/");

/**
 * Packs an area's files into tasks: whole directories where they fit, each task within the
 * file and context limits, a directory split file by file only when it alone is too big.
 */
function pack(
  files: string[],
  sizeOf: (p: string) => number,
  limits: Policy["limits"],
): string[][] {
  const tokens = (p: string) => Math.ceil(sizeOf(p) / 4);
  const groups = new Map<string, string[]>();
  for (const f of [...files].sort()) groups.set(dir(f), [...(groups.get(dir(f)) ?? []), f]);
  const tasks: string[][] = [];
  let current: string[] = [];
  let currentTokens = 0;
  const flush = () => {
    if (current.length) tasks.push(current);
    current = [];
    currentTokens = 0;
  };
  for (const group of groups.values()) {
    const groupTokens = group.reduce((n, f) => n + tokens(f), 0);
    const fits = (n: number, t: number) =>
      current.length + n <= limits.maxFilesPerTask && currentTokens + t <= limits.maxContextTokens;
    if (!fits(group.length, groupTokens)) flush();
    for (const f of group) {
      if (!fits(1, tokens(f))) flush();
      current.push(f);
      currentTokens += tokens(f);
    }
  }
  flush();
  return tasks;
}

/**
 * The Orchestrator: splits a scoped spec into TaskAssignments. No two tasks of a request share
 * a file; each stays within the limits; a task depends on another only when it must see its
 * result — tests on the code they test, docs on the feature they describe.
 */
export function decompose(args: DecomposeArgs): { tasks: TaskAssignment[]; independent: number } {
  const { requestId, policy } = args;
  const sizes = new Map(args.files.map((f) => [f.path, f.size]));
  const sizeOf = (p: string) => sizes.get(p) ?? 0;
  const drafts = draftsOf(args.spec, policy, sizeOf);
  const tasks = drafts.map((d, i) => assignment(args, d, i, drafts.length, sizeOf));
  addDependencies(tasks, drafts, args.spec);
  assertAcyclic(tasks);
  if (tasks.length > policy.limits.maxTasksPerRequest) {
    throw new Error(
      `request ${requestId} would need ${tasks.length} tasks; the limit is ${policy.limits.maxTasksPerRequest}`,
    );
  }
  return { tasks, independent: tasks.filter((t) => t.dependsOn.length === 0).length };
}

type DecomposeArgs = {
  requestId: number;
  request: TaskRequest;
  repo: string;
  spec: Spec;
  policy: Policy;
  files: RepoFile[];
  /** The first task's number: after the tasks of an earlier plan when a request is planned again. */
  firstIndex?: number;
};

/** A task before it is one: its area, its files, and what they are (code, test, docs). */
type Draft = { area: string; files: string[]; role: string };

/** The spec's files by area (in area order), each area's packed into tasks within the limits. */
function draftsOf(spec: Spec, policy: Policy, sizeOf: (p: string) => number): Draft[] {
  const byArea = new Map<string, string[]>();
  for (const f of spec.files) {
    const area = areaOf(policy, f)?.name ?? "";
    byArea.set(area, [...(byArea.get(area) ?? []), f]);
  }
  const drafts: Draft[] = [];
  for (const [area, files] of [...byArea.entries()].sort()) {
    for (const chunk of pack(files, sizeOf, policy.limits))
      drafts.push({ area, files: chunk, role: roleOf(chunk) });
  }
  return drafts;
}

/** The i-th draft as a TaskAssignment: its locks, its prompt, its limits and context size. */
function assignment(
  args: DecomposeArgs,
  d: Draft,
  i: number,
  count: number,
  sizeOf: (p: string) => number,
): TaskAssignment {
  const { requestId, spec, policy } = args;
  const area = policy.areas.find((a) => a.name === d.area);
  const lockScope = area?.lockScope ?? "area";
  const lockKeys =
    lockScope === "area"
      ? [`${args.repo}:area:${d.area}`]
      : d.files.map((f) => `${args.repo}:file:${f}`);
  return {
    id: `${requestId}.${(args.firstIndex ?? 1) + i}`,
    requestId,
    repo: args.repo,
    area: d.area,
    neededFiles: d.files,
    lockScope,
    lockKeys,
    dependsOn: [],
    acceptance: spec.acceptance,
    prompt: {
      title:
        count > 1
          ? `${args.request.title} (${d.area}: ${d.files.length} file${d.files.length > 1 ? "s" : ""})`
          : args.request.title,
      instructions: args.request.description,
      constraints: [
        `Change only these files: ${d.files.join(", ")}.`,
        `Stay within area '${d.area}'.`,
        ...(spec.acceptance.length ? [`These must pass: ${spec.acceptance.join("; ")}.`] : []),
      ],
    },
    limits: policy.limits,
    contextTokens: Math.ceil(d.files.reduce((n, f) => n + sizeOf(f), 0) / 4),
  };
}

/** Tests depend on the code they test; a feature's docs on its code. */
function addDependencies(tasks: TaskAssignment[], drafts: Draft[], spec: Spec): void {
  drafts.forEach((d, i) => {
    const task = tasks[i];
    if (!task) return;
    if (d.role === "test") {
      const stems = new Set(d.files.map(stem));
      task.dependsOn = tasks
        .filter(
          (t, j) => drafts[j]?.role === "code" && t.neededFiles.some((f) => stems.has(stem(f))),
        )
        .map((t) => t.id);
    } else if (d.role === "docs" && spec.kind === "feature") {
      task.dependsOn = tasks.filter((_, j) => drafts[j]?.role === "code").map((t) => t.id);
    }
  });
}

/** Refuses a dependency cycle, naming it: "1.1 → 1.2 → 1.1". */
export function assertAcyclic(tasks: { id: string; dependsOn: string[] }[]): void {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const state = new Map<string, "visiting" | "done">();
  const visit = (id: string, path: string[]) => {
    if (state.get(id) === "done") return;
    if (state.get(id) === "visiting") {
      const cycle = [...path.slice(path.indexOf(id)), id];
      throw new CycleError(`dependency cycle: ${cycle.join(" → ")}`);
    }
    state.set(id, "visiting");
    for (const dep of byId.get(id)?.dependsOn ?? []) visit(dep, [...path, id]);
    state.set(id, "done");
  };
  for (const t of tasks) visit(t.id, []);
}

import { quotePath, repoPathProblem, specialGitFile } from "@/schemas/paths";
import { FILE_MODES, type FilePatch, GITLINK_MODE, type PatchOptions } from "./patch-format";

/** Collects problems per path, so one bad path is reported once however often it appears. */
export class Problems {
  readonly list: string[] = [];
  private seen = new Set<string>();
  add(path: string, message: string): void {
    const text = `path ${quotePath(path)} ${message}`;
    if (this.seen.has(text)) return;
    this.seen.add(text);
    this.list.push(text);
  }
  name(path: string): void {
    const problem = repoPathProblem(path);
    if (problem) this.add(path, problem);
  }
}

export function checkMode(
  raw: string,
  path: string,
  what: string,
  opts: PatchOptions,
  problems: Problems,
): string | undefined {
  if (!/^[0-7]{6}$/.test(raw)) {
    problems.add(path, `has ${what} ${quotePath(raw)}, which is not a file mode`);
    return undefined;
  }
  const allowed: string[] = [...FILE_MODES, ...(opts.allowSubmodules ? [GITLINK_MODE] : [])];
  if (!allowed.includes(raw)) {
    problems.add(
      path,
      raw === GITLINK_MODE
        ? `has ${what} ${raw} (a submodule); Hyperion does not support submodules`
        : `has ${what} ${raw}; only ${allowed.join(", ")} are allowed`,
    );
    return undefined;
  }
  return raw;
}

/**
 * What no single file shows: a path written twice, a path that is both a file and a
 * directory, a symlink this patch creates and then writes through, git's special files.
 */
export function checkAcrossFiles(files: FilePatch[], opts: PatchOptions, problems: Problems): void {
  const written = new Map<string, FilePatch>();
  const consumed = new Set<string>();
  for (const f of files) {
    if (f.newPath !== null) {
      if (written.has(f.newPath)) problems.add(f.newPath, "is written twice in one patch");
      written.set(f.newPath, f);
    }
    if (f.oldPath !== null && !f.copy) {
      if (consumed.has(f.oldPath)) problems.add(f.oldPath, "is changed twice in one patch");
      consumed.add(f.oldPath);
    }
  }
  for (const [p, f] of written) {
    const parts = p.split("/");
    for (let k = 1; k < parts.length; k++) {
      const parent = parts.slice(0, k).join("/");
      const above = written.get(parent);
      if (!above) continue;
      if (above.newMode === "120000")
        problems.add(p, `is written through the symlink ${quotePath(parent)} this patch creates`);
      else problems.add(parent, `is both a file and a directory in this patch (${quotePath(p)})`);
    }
    const special = specialGitFile(parts[parts.length - 1] as string);
    if (special && f.newMode === "120000")
      problems.add(p, `would make ${special} a symlink, which git refuses to check out`);
    if (special === ".gitmodules" && !opts.allowSubmodules)
      problems.add(p, "configures submodules; Hyperion does not support submodules");
  }
}

import { z } from "zod";

/**
 * A path inside a repository, as a request or a patch names it. Confinement is checked on the
 * text alone here (no `..`, not absolute, not inside `.git`); symlinks are checked where the
 * repository is at hand.
 */
export const repoPath = z
  .string()
  .min(1, "must not be empty")
  .max(4096, "must be at most 4096 characters")
  .superRefine((value, ctx) => {
    const problem = repoPathProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export function repoPathProblem(value: string): string | undefined {
  if (value.includes("\0")) return "must not contain a NUL byte";
  if (value.includes("\\")) return "must use forward slashes";
  if (value.startsWith("/") || /^[A-Za-z]:/.test(value))
    return "must be relative to the repository root, not absolute";
  const segments = value.split("/");
  if (segments.some((s) => s === "..")) return "must not contain '..'";
  if (segments.some((s) => s.toLowerCase() === ".git")) return "must not be inside .git";
  if (segments.some((s) => s === "")) return "must not contain empty segments";
  return undefined;
}

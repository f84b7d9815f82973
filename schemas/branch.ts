import { z } from "zod";
import { codePoint, isControl } from "./paths";

/** Longer names than git needs; a loose ref's file name must also fit the file system. */
export const MAX_BRANCH_BYTES = 200;

/**
 * Why `ref` is not a well-formed full ref name, or undefined: git's `check_refname_format`
 * (refs.c) with no flags. Checked before a ref becomes a file path under the git directory.
 */
export function refNameProblem(ref: string): string | undefined {
  if (ref === "@") return "must not be '@'";
  const bad = [...ref].find((c) => c === " " || isControl(c) || "~^:?*[\\".includes(c));
  if (bad) return `must not contain ${describeChar(bad)}`;
  if (ref.includes("..")) return "must not contain '..'";
  if (ref.includes("@{")) return "must not contain '@{'";
  if (ref.startsWith("/")) return "must not start with '/'";
  if (ref.endsWith("/")) return "must not end with '/'";
  const components = ref.split("/");
  if (components.some((c) => c === "")) return "must not contain '//'";
  for (const c of components) {
    if (c.startsWith(".")) return `component '${c}' must not start with '.'`;
    if (c.endsWith(".lock")) return `component '${c}' must not end with '.lock'`;
  }
  if (ref.endsWith(".")) return "must not end with '.'";
  if (components.length < 2) return "must have at least two components";
  return undefined;
}

/**
 * Why `name` cannot be a branch, or undefined: what `git check-ref-format --branch` refuses,
 * plus '@' (git's own name for HEAD) and names over MAX_BRANCH_BYTES.
 */
export function branchNameProblem(name: string): string | undefined {
  if (name === "") return "must not be empty";
  if (name.startsWith("-")) return "must not start with '-'";
  if (name === "HEAD") return "must not be 'HEAD'";
  if (name === "@") return "must not be '@'";
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_BRANCH_BYTES) return `is ${bytes} bytes; the limit is ${MAX_BRANCH_BYTES} bytes`;
  return refNameProblem(`refs/heads/${name}`);
}

/** The same rule as one regular expression, for the published JSON Schema (counts characters). */
export const BRANCH_NAME_PATTERN =
  "^(?!-)(?!/)(?!HEAD$)(?!@$)(?!.*\\.\\.)(?!.*@\\{)(?!.*//)(?!.*/$)(?!.*\\.$)(?!.*\\.lock(?:/|$))(?!(?:.*/)?\\.)[^\\x00-\\x20\\x7f~^:?*[\\\\]{1,200}$";

export const branchName = z
  .string()
  .superRefine((value, ctx) => {
    const problem = branchNameProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .meta({ pattern: BRANCH_NAME_PATTERN });

function describeChar(c: string): string {
  if (c === " ") return "spaces";
  if (isControl(c)) return `control characters (${codePoint(c)})`;
  return `'${c}'`;
}

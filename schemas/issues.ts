import type { z } from "zod";

/** `code` marks an issue a surface answers in its own way (`NEW_FILE`: ask, or name a flag). */
export type FieldIssue = { path: string; message: string; code?: string };

/**
 * A file a request names that its repository's target branch does not have: likely a typo. The
 * browser asks "create it?", the CLI names --allow-new-files, the API names allowNewFiles.
 */
export const NEW_FILE = "new_file";

/** `repositories[0].path`, `[2].files[1]`: the path a person would type to find the field. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || "(root)";
}

export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key]),
        message: "is not a known field",
      }));
    }
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // Report the branch that got furthest rather than "invalid input".
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
      return best.map((inner) => ({
        path: formatPath([...issue.path, ...inner.path]),
        message: inner.message,
      }));
    }
    return [{ path: formatPath(issue.path), message: issue.message }];
  });
}

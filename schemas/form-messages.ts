import type { z } from "zod";
import { requestRef } from "./ids";
import { formatPath } from "./issues";
import { DESCRIPTION_MAX, TITLE_MAX } from "./task-request";

/**
 * Validation problems in the words of the person filling a form. The schemas' messages are
 * written for the CLI and the API ("files[1]: must not contain '..'"); a form shows them beside
 * the field, so they name the field and the value instead of its path. One table for the new
 * request, edit and answer forms, and for issues from the browser's own check and the server's.
 */

/** A problem as zod or the server reports it; `code` only when it came from zod in the browser. */
export type FormIssue = { path: string; message: string; code?: string };
/** `field` is the form field's name (the path's first key), or "form" for the whole form. */
export type FieldMessage = { field: string; message: string };

/** A zod error as issues that keep their code (the server's issues carry only path and message). */
export function formIssues(error: z.ZodError): FormIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
    code: issue.code,
  }));
}

const LABELS: Record<string, string> = {
  title: "Title",
  description: "Description",
  repo: "Repository",
  kind: "Kind",
  priority: "Priority",
  areas: "Areas",
  files: "Files",
  dependsOn: "Depends on",
  acceptance: "Acceptance criteria",
  checks: "Checks",
  note: "Note",
};

const number = (n: number) => n.toLocaleString("en-US");
const quoted = (v: unknown) => `“${String(v)}”`;
const length = (v: unknown) => (typeof v === "string" ? ` (it has ${number(v.length)})` : "");
const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The limit a "too big" message names: "must be at most 200 characters" → 200. */
const limitIn = (message: string) => Number(/(\d[\d,]*)/.exec(message)?.[1]?.replace(/,/g, ""));

function parsePath(path: string): { field: string; index?: number } {
  const m = /^([A-Za-z]+)(?:\[(\d+)\])?/.exec(path);
  if (!m?.[1] || m[1] === "id") return { field: "form" };
  return { field: m[1], index: m[2] === undefined ? undefined : Number(m[2]) };
}

const tooBig = (issue: FormIssue) =>
  issue.code === "too_big" || /at most|too big|limit is/i.test(issue.message);
const tooSmall = (issue: FormIssue) =>
  issue.code === "too_small" || /is required|must not be empty|too small/i.test(issue.message);

/** One file path's problem (schemas/paths.ts `repoPathProblem`), naming the path. */
function filePath(value: unknown, message: string): string {
  const p = quoted(value);
  if (message === "must not be empty") return "A file path can't be blank";
  if (message.includes("'..'")) return `${p} must stay inside the repository`;
  if (/absolute/.test(message))
    return `${p} must be relative to the repository root (no leading / or drive letter)`;
  if (/\.git/.test(message)) return `${p} points inside .git, which a request can't change`;
  if (/forward slashes/.test(message)) return `${p} must use forward slashes (/)`;
  if (/empty segments/.test(message)) return `${p} has an empty part between two slashes`;
  if (/'\.' segments/.test(message)) return `${p} must not contain “.” as a folder name`;
  const branch = / does not exist on (.+?): check the path/.exec(message)?.[1];
  if (branch)
    return `${p} does not exist on ${branch}: check the path, or file again and choose to create it`;
  return `${p} ${message}`;
}

function inWords(issue: FormIssue, values: Record<string, unknown>): FieldMessage {
  const { field, index } = parsePath(issue.path);
  const whole = values[field];
  const value = index === undefined ? whole : Array.isArray(whole) ? whole[index] : undefined;
  const { message } = issue;
  const say = (text: string) => ({ field, message: text });
  const listLimit = (noun: string) => say(`List at most ${number(limitIn(message))} ${noun}`);

  switch (field) {
    case "form":
      if (/an answer must give/.test(message))
        return say("Give files, areas, a kind or a note to answer the question");
      if (/an edit must change/.test(message)) return say("Change at least one field to save");
      return say(capitalised(message));
    case "title":
      if (tooSmall(issue)) return say("Give the request a title");
      if (tooBig(issue))
        return say(`Keep the title within ${number(TITLE_MAX)} characters${length(value)}`);
      if (/control characters/.test(message))
        return say("Keep the title on one line: remove tabs, line breaks and control characters");
      if (/zero-width|line separators/.test(message))
        return say(
          "Remove the invisible characters from the title (line separators, direction overrides, zero-width spaces)",
        );
      break;
    case "description":
      if (tooBig(issue))
        return say(
          `Keep the description within ${number(DESCRIPTION_MAX)} characters${length(value)}`,
        );
      if (/control characters/.test(message))
        return say(
          "Remove control characters from the description (tabs and line breaks are fine)",
        );
      break;
    case "note":
      if (tooBig(issue))
        return say(`Keep the note within ${number(limitIn(message))} characters${length(value)}`);
      if (/control characters/.test(message))
        return say("Remove control characters from the note (tabs and line breaks are fine)");
      break;
    case "repo": {
      if (tooSmall(issue)) return say("Pick a repository");
      const configured = /configured: (.*)$/.exec(message)?.[1];
      if (configured)
        return say(`${quoted(value)} is not a repository here; pick one of: ${configured}`);
      break;
    }
    case "kind":
      return say("Pick a kind from the list, or leave it to be inferred");
    case "priority":
      return say("Pick a priority: low, normal or high");
    case "areas": {
      if (index === undefined) {
        if (tooBig(issue)) return listLimit("areas");
        break;
      }
      const unknown = /unknown area '(.*)'; areas(?: of [^:]+)?: (.*)$/.exec(message);
      if (unknown)
        return say(
          `${quoted(unknown[1])} is not an area of this repository; pick one of: ${unknown[2]}`,
        );
      if (tooSmall(issue)) return say("An area can't be blank");
      if (tooBig(issue))
        return say(`Area names are at most ${number(limitIn(message))} characters`);
      break;
    }
    case "files":
      if (index === undefined) {
        if (tooBig(issue)) return listLimit("files");
        break;
      }
      return say(filePath(value, message));
    case "dependsOn": {
      if (index === undefined) {
        if (tooBig(issue)) return listLimit("requests");
        break;
      }
      const missing = /request (\d+) does not exist/.exec(message);
      if (missing)
        return say(
          `${requestRef(Number(missing[1]))} does not exist; pick a request this one depends on from the list`,
        );
      return say(
        `Pick a request this one depends on from the list (${quoted(value)} is not a request)`,
      );
    }
    case "acceptance": {
      if (index === undefined) {
        if (tooBig(issue)) return listLimit("acceptance criteria");
        break;
      }
      if (tooBig(issue))
        return say(
          `Keep each acceptance criterion within ${number(limitIn(message))} characters (line ${index + 1} has ${number(String(value ?? "").length)})`,
        );
      if (/control characters/.test(message))
        return say(`Acceptance criterion ${index + 1} contains control characters`);
      if (tooSmall(issue)) return say(`Acceptance criterion ${index + 1} is blank`);
      break;
    }
    case "checks": {
      if (index === undefined) {
        if (tooBig(issue)) return listLimit("checks");
        break;
      }
      const unknown = /'(.*)' is not a check of repository '(.*)'; its checks: (.*)$/.exec(message);
      if (unknown)
        return say(
          `${quoted(unknown[1])} is not a check of ${unknown[2]}; pick from its checks: ${unknown[3]}`,
        );
      if (/names no checks/.test(message))
        return say(`${capitalised(message)}; leave the checks unticked`);
      break;
    }
  }
  if (/is not a known field/.test(message))
    return { field: "form", message: `${issue.path} ${message}` };
  return say(`${LABELS[field] ?? capitalised(field)}: ${message}`);
}

/** Every issue in human words, in the order given; the same words twice are shown once. */
export function humanMessages(
  issues: readonly FormIssue[],
  values: Record<string, unknown>,
): FieldMessage[] {
  const seen = new Set<string>();
  return issues
    .map((issue) => inWords(issue, values))
    .filter((m) => {
      const key = `${m.field}\n${m.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/** Messages grouped by field, the shape the forms render. */
export function messagesByField(messages: readonly FieldMessage[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of messages) out[m.field] = [...(out[m.field] ?? []), m.message];
  return out;
}

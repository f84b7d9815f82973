import os from "node:os";
import path from "node:path";
import { can } from "@/server/auth/permissions";
import { currentConfig } from "@/server/config/load";
import type { HyperionEnv } from "@/server/env.mjs";
import type { User } from "@/server/users/service";

export const SERVER_PATH = "<server path>";
export const REPO_PATH = "<repo>";

export type KnownPaths = {
  /** Repository working directories: a path inside one is shown relative to `<repo>`. */
  repos?: readonly string[];
  /** Other server directories (the data directory, the config's folder). */
  dirs?: readonly string[];
};

// A path starts where a token starts (or after `file://`) and ends where a path cannot go on.
const START = "(?<=^|[\\s'\"`([{=,;:]|file://)";
const END = "(?=$|[\\s'\"`:;,)\\]}>])";
// An absolute path of two or more segments. In `http://host/path` no slash starts a token, so
// URLs are left alone.
const ABSOLUTE = new RegExp(`${START}/(?:[^\\s/'"\`:;,)\\]}<>]+/)+[^\\s/'"\`:;,)\\]}<>]*`, "g");

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Replaces server paths in a text meant for someone who need not know the server's layout:
 * a path inside a repository becomes `<repo>/…` (the file part stays, it is the user's own);
 * the data directory, the temp folder, the working directory, the home directory and any other
 * absolute path become `<server path>`.
 */
export function redactPaths(text: string, known: KnownPaths = {}): string {
  return pathRedactor(known)(text);
}

/** `redactPaths` with its patterns built once, for redacting many texts. */
export function pathRedactor(known: KnownPaths = {}): (text: string) => string {
  const roots = [
    ...(known.repos ?? []).map((r) => ({ root: r, label: REPO_PATH })),
    ...[...(known.dirs ?? []), os.tmpdir(), process.cwd(), os.homedir()].map((d) => ({
      root: d,
      label: SERVER_PATH,
    })),
  ]
    .map(({ root, label }) => ({ root: trimSlash(path.resolve(root)), label }))
    .filter(({ root }) => root.length > 1)
    .sort((a, b) => b.root.length - a.root.length)
    .map(({ root, label }) => ({
      pattern: new RegExp(`${START}${escapeRegExp(root)}(/[^\\s'"\`:;,)\\]}>]*)?${END}`, "g"),
      label,
    }));
  return (text) => {
    let out = text;
    for (const { pattern, label } of roots) {
      out = out.replace(pattern, (_m, rest: string | undefined) =>
        label === REPO_PATH ? `${label}${rest ?? ""}` : label,
      );
    }
    return out.replace(ABSOLUTE, SERVER_PATH);
  };
}

const trimSlash = (p: string) => (p.length > 1 ? p.replace(/\/+$/, "") : p);

/**
 * Fields whose text the server wrote about a failure: a task's, a queue entry's, an event's
 * (a queue log event's `warning` names the worktree it could not update).
 */
const FAILURE_FIELDS = new Set([
  "blockedReason",
  "lastError",
  "error",
  "reason",
  "outputTail",
  // Why an agent Engineer's answer was not used (its stderr may name server paths).
  "engineerFallback",
  // An agent's stderr's last lines, kept on its run.
  "stderrTail",
  "warning",
  // Agent runs: where a run's folder and prompt are kept, and what its events say.
  "workspace",
  "promptPath",
  "events",
]);

/**
 * A copy of `value` with every string under a failure field (at any depth, and everything
 * inside it) passed through `redact`. Titles, summaries and other user-written fields are left
 * as they are.
 */
export function redactFailureTexts<T>(value: T, redact: (text: string) => string): T {
  const walk = (v: unknown, inFailure: boolean): unknown => {
    if (typeof v === "string") return inFailure ? redact(v) : v;
    if (Array.isArray(v)) return v.map((item) => walk(item, inFailure));
    if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(
        Object.entries(v).map(([k, item]) => [k, walk(item, inFailure || FAILURE_FIELDS.has(k))]),
      );
    }
    return v;
  };
  return walk(value, false) as T;
}

export type Viewer = { user: User | null; env: HyperionEnv };

/**
 * How server-written texts read for this viewer: unchanged for a role with `server.paths`,
 * with the data directory, the configured repositories and any other server path replaced for
 * everyone else, a caller without a session included.
 */
export function redactorFor(viewer: Viewer | undefined): (text: string) => string {
  if (seesServerPaths(viewer)) return (text) => text;
  let repos: string[] = [];
  try {
    if (viewer) repos = currentConfig(viewer.env.configPath).repositories.map((r) => r.path);
  } catch {
    // An unreadable config names no repositories; the generic rule still hides their paths.
  }
  const dirs = viewer ? [viewer.env.dataDir, path.dirname(viewer.env.configPath)] : [];
  return pathRedactor({ repos, dirs });
}

const seesServerPaths = (viewer: Viewer | undefined) =>
  Boolean(viewer?.user && can(viewer.user.role, "server.paths"));

/** A procedure's output with its failure texts made fit for the viewer. */
export function shownTo<T>(viewer: Viewer | undefined, value: T): T {
  return seesServerPaths(viewer) ? value : redactFailureTexts(value, redactorFor(viewer));
}

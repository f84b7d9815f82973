import fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import type { LoadedRepository } from "@/schemas/config";
import { program } from "@/server/confine/programs";
import { namedSecret } from "@/server/env.mjs";
import { readRefFs } from "./refs-fs";
import { FIXED_ENV } from "./run";

// A repository kept on a git server: Hyperion keeps a bare mirror of its target branch at the
// repository's `path` and lands by pushing to it. The push is the compare-and-swap:
// `--force-with-lease=<branch>:<expected>` moves the server's branch only if it still is where
// Hyperion last saw it, and the mirror's branch moves only after the server's did — so the mirror
// never claims a landing the server refused. Agents and checks work from the mirror, offline.
//
// Credentials are read here, at each fetch or push, from the variable or file the config names,
// and reach only that git process: a token through a credential helper reading it from the
// process's environment (the helper's text is fixed, never built from input), an ssh key through
// GIT_SSH_COMMAND naming the key by an environment variable. git runs with no inherited
// environment, no prompts, and only the URL's own transport allowed.

export type RemoteRepo = Pick<
  LoadedRepository,
  "name" | "path" | "remote" | "credentials" | "targetBranch"
>;

/** Why a fetch or push failed, in the words an operator acts on. */
export type RemoteFailure = "unreachable" | "auth" | "no-branch" | "refused";

export class RemoteError extends Error {
  override name = "RemoteError";
  constructor(
    readonly failure: RemoteFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The push lost the compare-and-swap: the server's branch is not where the mirror says. */
export class RemoteMovedError extends Error {
  override name = "RemoteMovedError";
}

/** A bound on one fetch or push, so an unresponsive server cannot hold a queue thread. */
export const REMOTE_TIMEOUT_MS = 120_000;

const scheme = (url: string) =>
  /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase() ?? "ssh";

// The credential helper git runs for an https remote. Fixed text: the values come from this git
// process's environment, set below, so nothing from a config or a request is ever in a shell string.
const CREDENTIAL_HELPER =
  '!f() { test "$1" = get || exit 0; printf "username=%s\\npassword=%s\\n" "$HYP_GIT_USERNAME" "$HYP_GIT_TOKEN"; }; f';
const SSH_COMMAND =
  'ssh -i "$HYP_SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$HYP_KNOWN_HOSTS"';

/** The token a repository's credentials name, or null; a missing one is an auth failure. */
function readToken(repo: RemoteRepo): string | null {
  const c = repo.credentials;
  if (c?.tokenEnv) {
    const value = namedSecret(c.tokenEnv);
    if (!value)
      throw new RemoteError(
        "auth",
        `credentials.tokenEnv names ${c.tokenEnv}, which is not set in the worker's environment`,
      );
    return value.trim();
  }
  if (c?.tokenFile) {
    try {
      return fs.readFileSync(c.tokenFile, "utf8").trim();
    } catch (err) {
      throw new RemoteError(
        "auth",
        `credentials.tokenFile ${c.tokenFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
      );
    }
  }
  return null;
}

/** Every secret a repository's credentials hold, to scrub from any text shown or logged. */
export function secretsOf(repo: RemoteRepo): string[] {
  try {
    const token = readToken(repo);
    return token && token.length >= 4 ? [token] : [];
  } catch {
    return [];
  }
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("[redacted]");
  return out;
}

/** Runs git against the remote with its credentials, and only those, in its environment. */
async function remoteGit(repo: RemoteRepo, args: string[], cwd: string) {
  if (!repo.remote) throw new Error(`repository ${repo.name} has no remote`);
  const home = path.join(path.dirname(repo.path), `.${path.basename(repo.path)}.home`);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const env: Record<string, string> = { ...FIXED_ENV, HOME: home, GIT_ASKPASS: "/bin/false" };
  const config = [
    "-c",
    "protocol.allow=never",
    "-c",
    `protocol.${scheme(repo.remote)}.allow=always`,
  ];
  config.push("-c", "credential.helper=");
  const token = readToken(repo);
  if (token) {
    env.HYP_GIT_USERNAME = repo.credentials?.username ?? "x-access-token";
    env.HYP_GIT_TOKEN = token;
    config.push("-c", `credential.helper=${CREDENTIAL_HELPER}`);
  }
  if (repo.credentials?.sshKeyFile) {
    env.HYP_SSH_KEY = repo.credentials.sshKeyFile;
    env.HYP_KNOWN_HOSTS = repo.credentials.knownHostsFile ?? path.join(home, "known_hosts");
    env.GIT_SSH_COMMAND = SSH_COMMAND;
  }
  const result = await execa(program("git"), [...config, ...args], {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    timeout: REMOTE_TIMEOUT_MS,
    stripFinalNewline: false,
  });
  const secrets = token ? [token] : [];
  return {
    exitCode: result.timedOut ? -1 : (result.exitCode ?? -1),
    timedOut: Boolean(result.timedOut),
    stdout: scrub(String(result.stdout ?? ""), secrets),
    stderr: scrub(String(result.stderr ?? ""), secrets),
  };
}

/** The failure a git's stderr describes, with its last lines as the reason. */
function classify(repo: RemoteRepo, stderr: string, timedOut: boolean): RemoteError {
  const reason = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("hint:"))
    .slice(-3)
    .join(" ")
    .slice(0, 400);
  if (timedOut)
    return new RemoteError(
      "unreachable",
      `${repo.remote} did not answer within ${REMOTE_TIMEOUT_MS / 1000} s`,
    );
  if (
    /Authentication failed|Permission denied|could not read (Username|Password)|HTTP Basic: Access denied|returned error: 40[13]|invalid credentials|not set in the worker|cannot be read/i.test(
      stderr,
    )
  )
    return new RemoteError("auth", `authentication to ${repo.remote} failed: ${reason}`);
  if (/couldn't find remote ref|no such ref/i.test(stderr))
    return new RemoteError(
      "no-branch",
      `${repo.remote} has no branch ${repo.targetBranch}: create it there, or set targetBranch to a branch it has`,
    );
  if (/pre-receive hook declined|protected branch|remote rejected|deny/i.test(stderr))
    return new RemoteError("refused", `${repo.remote} refused the push: ${reason}`);
  return new RemoteError("unreachable", `${repo.remote} is unreachable: ${reason}`);
}

const branchRef = (repo: RemoteRepo) => `refs/heads/${repo.targetBranch}`;

/** git's words when a local ref update lost to another writer of the same repository. */
const LOCAL_REF_RACE = /cannot lock ref|is at [0-9a-f]+ but expected|\.lock': File exists/;

/** Makes the bare mirror if it is not there yet (no network). */
export async function ensureMirror(repo: RemoteRepo): Promise<void> {
  if (fs.existsSync(path.join(repo.path, "HEAD"))) return;
  fs.mkdirSync(repo.path, { recursive: true });
  const result = await execa(
    program("git"),
    ["init", "-q", "--bare", `--initial-branch=${repo.targetBranch}`, repo.path],
    { env: FIXED_ENV, extendEnv: false, reject: false },
  );
  if (result.exitCode !== 0)
    throw new Error(`cannot make the mirror ${repo.path}: ${String(result.stderr).trim()}`);
}

/**
 * Fetches the target branch into the mirror, forced: the server is the authority, so a branch
 * rewritten upstream is taken as it is (and nothing of the old history is pushed back, since a
 * landing always builds on the fetched tip). Returns the tip.
 */
export async function fetchRemote(repo: RemoteRepo): Promise<string> {
  await ensureMirror(repo);
  const ref = branchRef(repo);
  const fetch = () =>
    remoteGit(
      repo,
      [
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        repo.remote ?? "",
        `+${ref}:${ref}`,
      ],
      repo.path,
    );
  let r = await fetch();
  // Another thread of this worker moved the mirror's ref while this fetch wrote it (its own
  // landing, or its own fetch): a race on this disk, not the server being unreachable. The
  // mirror is fetched again.
  for (let i = 0; i < 3 && r.exitCode !== 0 && LOCAL_REF_RACE.test(r.stderr); i++)
    r = await fetch();
  if (r.exitCode !== 0) throw classify(repo, r.stderr, r.timedOut);
  // Through the ref reader, which also finds a ref git has packed.
  const tip = readRefFs(repo.path, ref);
  if (!tip) throw new RemoteError("no-branch", `${repo.remote} has no branch ${repo.targetBranch}`);
  return tip;
}

/**
 * Pushes `next` to the server's branch if the branch is still at `expected` (null: absent), in
 * one atomic push. RemoteMovedError when it is not; RemoteError when the server cannot be
 * reached, refuses, or does not know us.
 */
export async function pushCas(
  repo: RemoteRepo,
  next: string,
  expected: string | null,
): Promise<void> {
  const ref = branchRef(repo);
  const r = await remoteGit(
    repo,
    [
      "push",
      "--atomic",
      "--porcelain",
      "--no-verify",
      `--force-with-lease=${ref}:${expected ?? ""}`,
      repo.remote ?? "",
      `${next}:${ref}`,
    ],
    repo.path,
  );
  if (r.exitCode === 0) return;
  // --porcelain: "!\t<src>:<dst>\t[rejected] (stale info)" when the lease did not hold; a push
  // that passed the lease but lost the server's own ref update to another pusher says
  // "[remote rejected] (failed to update ref)" or "cannot lock ref".
  if (
    /\[rejected\]|stale info|fetch first|non-fast-forward|failed to update ref|cannot lock ref/.test(
      r.stdout + r.stderr,
    )
  )
    throw new RemoteMovedError(`${repo.remote}'s ${repo.targetBranch} moved`);
  throw classify(repo, `${r.stderr}\n${r.stdout}`, r.timedOut);
}

/** Pushes a commit to a ref of the server, replacing what is there (a change's own branch). */
export async function pushRef(repo: RemoteRepo, commit: string, ref: string): Promise<void> {
  const r = await remoteGit(
    repo,
    ["push", "--porcelain", "--no-verify", "--force", repo.remote ?? "", `${commit}:${ref}`],
    repo.path,
  );
  if (r.exitCode !== 0) throw classify(repo, `${r.stderr}\n${r.stdout}`, r.timedOut);
}

import { z } from "zod";
import { localPath } from "./paths";

// A repository kept on a git server: its URL and how Hyperion authenticates to it. Credentials are
// named (the variable or file that holds them), never written here: this file is read by every
// process and shown in errors, and a secret in it would leak through both.

/** Transports Hyperion fetches and pushes over; `ext::` and the like would run a command. */
export const REMOTE_SCHEMES = ["https", "http", "ssh", "git", "file"] as const;

const scpLike = /^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/;

/** Why a remote URL is refused, or null. */
export function remoteUrlProblem(url: string): string | null {
  if (url.startsWith("-")) return "must not start with '-'";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\x00-\x1f\x7f]/.test(url)) return "must not contain spaces or control characters";
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (!scheme) {
    if (scpLike.test(url)) return null; // git@host:owner/name.git, ssh's short form
    return "must be a git URL: https://, ssh://, git://, file:// or user@host:path";
  }
  if (!(REMOTE_SCHEMES as readonly string[]).includes(scheme))
    return `uses '${scheme}://'; Hyperion fetches and pushes over ${REMOTE_SCHEMES.map((s) => `${s}://`).join(", ")} only`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a valid URL";
  }
  if (parsed.password)
    return "has a password in it: put the token in an environment variable or a file and name it in credentials.tokenEnv or credentials.tokenFile";
  if (parsed.username && (scheme === "https" || scheme === "http"))
    return "has a user name in it (a token is often put there): name the user in credentials.username and the token in credentials.tokenEnv or credentials.tokenFile";
  if (scheme === "file" && !parsed.pathname) return "names no path";
  return null;
}

export const RemoteUrl = z
  .string()
  .min(1, "is required")
  .max(2048, "is longer than 2048 characters")
  .superRefine((url, ctx) => {
    const problem = remoteUrlProblem(url);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const envVar = z
  .string()
  .regex(
    /^[A-Z_][A-Z0-9_]{0,99}$/,
    "must be the name of an environment variable, such as GIT_TOKEN",
  )
  .refine((n) => !/^(NEXTAUTH_|AUTH_)/.test(n), "must not be one of the web app's own variables");

export const RemoteCredentials = z
  .strictObject({
    /** The https user the token goes with (GitHub accepts any; GitLab wants `oauth2`). */
    username: z
      .string()
      .regex(/^[A-Za-z0-9._@-]{1,100}$/, "must be 1-100 letters, digits, '.', '_', '@' or '-'")
      .optional(),
    /** The environment variable holding the https token. */
    tokenEnv: envVar.optional(),
    /** A file holding the https token (relative paths are from the config's folder). */
    tokenFile: localPath.optional(),
    /** An ssh private key file, for ssh:// and user@host:path remotes. */
    sshKeyFile: localPath.optional(),
    /** A known_hosts file to check the server's key against (else its key is learned once). */
    knownHostsFile: localPath.optional(),
  })
  .refine((c) => !(c.tokenEnv && c.tokenFile), {
    message: "name the token once: tokenEnv or tokenFile, not both",
    path: ["tokenFile"],
  });

export type RemoteCredentials = z.output<typeof RemoteCredentials>;

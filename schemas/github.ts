import { z } from "zod";

// Work taken from GitHub issues (docs/github.md): where the API is, which variables hold the
// token and the webhook secret(s), the label that marks an issue for Hyperion, and how often the
// issues are reconciled. Secrets are named, never written here.

const envVar = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]{0,99}$/, "must be the name of an environment variable")
  .refine((n) => !/^(NEXTAUTH_|AUTH_)/.test(n), "must not be one of the web app's own variables");

export const GithubConfig = z.strictObject({
  /** The REST API's base URL (GitHub Enterprise: https://host/api/v3). */
  apiUrl: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL such as https://api.github.com" })
    .default("https://api.github.com"),
  /** The variable holding the token Hyperion reads issues and writes comments with. */
  tokenEnv: envVar.default("HYPERION_GITHUB_TOKEN"),
  /** The variable holding the webhook secret GitHub signs deliveries with. */
  webhookSecretEnv: envVar.default("HYPERION_GITHUB_WEBHOOK_SECRET"),
  /** While a secret is rotated: the variable holding the old one, also accepted. */
  previousWebhookSecretEnv: envVar.default("HYPERION_GITHUB_WEBHOOK_SECRET_PREVIOUS"),
  /** The label that makes an issue a request. */
  label: z.string().trim().min(1).max(50).default("hyperion"),
  /** How often open labelled issues are listed to catch missed deliveries (0: never). */
  reconcileIntervalSeconds: z.number().int().min(0).max(86_400).default(300),
  /**
   * A Projects v2 status: an issue whose project item is moved to it becomes a request, as if it
   * were labelled (the seed's board-native flow). Unset: project items are not watched.
   */
  projectStatus: z.string().trim().min(1).max(100).optional(),
  /** Close the issue when its request is done. */
  closeIssues: z.boolean().default(false),
  /** Who requests from issues are filed as (a Hyperion user's email); default the first admin. */
  requester: z.email().optional(),
});
export type GithubConfig = z.output<typeof GithubConfig>;

/** `owner/name` of a repository on GitHub. */
export const GithubRepoName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/, "must be owner/name, such as acme/shop");

/** A file list in an issue's body: a fenced block whose info string is `files`. */
export function filesFromBody(body: string): string[] {
  const m = /^```files[ \t]*\r?\n([\s\S]*?)^```/m.exec(body);
  if (!m?.[1]) return [];
  return m[1]
    .split(/\r?\n/)
    .map((l) => l.replace(/^[-*]\s+/, "").trim())
    .filter(Boolean);
}

import { Octokit } from "@octokit/rest";
import type { GithubConfig } from "@/schemas/github";
import { namedSecret } from "@/server/env.mjs";

// GitHub's REST API through Octokit, at the configured base URL (GitHub, GitHub Enterprise, or a
// fake speaking the same protocol in tests). The token is read from its variable at each client
// made, so a rotated token takes effect without a restart, and is never logged.

export class GithubTokenMissing extends Error {
  override name = "GithubTokenMissing";
}

export function githubClient(settings: GithubConfig): Octokit {
  const token = namedSecret(settings.tokenEnv);
  if (!token)
    throw new GithubTokenMissing(
      `github.tokenEnv names ${settings.tokenEnv}, which is not set: Hyperion cannot read issues or comment`,
    );
  return new Octokit({
    auth: token,
    baseUrl: settings.apiUrl.replace(/\/$/, ""),
    userAgent: "hyperion",
    request: { timeout: 30_000 },
    // Octokit logs request failures through console by default; the callers say what failed.
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
}

import type { LoadedRepository } from "@/schemas/config";
import { GithubConfig } from "@/schemas/github";
import type { LoadedConfig } from "@/server/config/load";

/** The GitHub intake's settings, or null when the config has no `github` section. */
export function githubOf(config: LoadedConfig): GithubConfig | null {
  return config.github ?? null;
}

/** The repository that takes work from GitHub's `owner/name`, if one does (case-insensitive). */
export function repoFor(config: LoadedConfig, fullName: string): LoadedRepository | undefined {
  const want = fullName.toLowerCase();
  return config.repositories.find((r) => r.github?.toLowerCase() === want);
}

/** The defaults, for code paths that need a label or an API URL before anything is configured. */
export const DEFAULT_GITHUB = GithubConfig.parse({});

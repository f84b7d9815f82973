import fs from "node:fs";
import path from "node:path";
import { HyperionConfig, type RepositoryConfig } from "@/schemas/config";
import { fieldIssues } from "@/schemas/issues";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type LoadedConfig = HyperionConfig & { file: string };

/**
 * Reads and validates hyperion.config.json. Every problem names the key it is about, and the
 * message says which file to fix. Relative repository paths are taken from the config's folder.
 */
export function loadConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new ConfigError(
      `Cannot read the configuration file ${file}. Create it, or set HYPERION_CONFIG to its path.`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = HyperionConfig.safeParse(json);
  if (!parsed.success) {
    const lines = fieldIssues(parsed.error).map((i) => `  ${i.path}: ${i.message}`);
    throw new ConfigError(`Invalid configuration in ${file}:\n${lines.join("\n")}`);
  }
  const base = path.dirname(file);
  const repositories = parsed.data.repositories.map((repo, i) => {
    const resolved = path.resolve(base, repo.path);
    const problem = repositoryProblem(resolved);
    if (problem) {
      throw new ConfigError(
        `Invalid configuration in ${file}:\n  repositories[${i}].path: ${problem} (${resolved})`,
      );
    }
    return { ...repo, path: resolved };
  });
  return { repositories, file };
}

function repositoryProblem(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return "does not exist";
  if (!fs.statSync(dir).isDirectory()) return "is not a directory";
  const nonBare = fs.existsSync(path.join(dir, ".git"));
  const bare = fs.existsSync(path.join(dir, "HEAD")) && fs.existsSync(path.join(dir, "objects"));
  if (!nonBare && !bare) return "is not a git repository";
  return undefined;
}

let cache: { file: string; mtimeMs: number; config: LoadedConfig } | undefined;

/** The config for long-running processes: re-read when the file changes, validated each time. */
export function currentConfig(file: string): LoadedConfig {
  const mtimeMs = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  if (cache && cache.file === file && cache.mtimeMs === mtimeMs) return cache.config;
  const config = loadConfig(file);
  cache = { file, mtimeMs, config };
  return config;
}

export function repoNames(config: { repositories: readonly RepositoryConfig[] }): string[] {
  return config.repositories.map((r) => r.name);
}

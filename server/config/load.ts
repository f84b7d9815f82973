import fs from "node:fs";
import path from "node:path";
import { getEnvironmentData, setEnvironmentData } from "node:worker_threads";
import { HyperionConfig, type LoadedRepository, type RepositoryConfig } from "@/schemas/config";
import { fieldIssues } from "@/schemas/issues";
import { gitRepositoryProblem } from "@/server/git/repo-check";
import { log } from "@/server/log";
import { type SelfAddress, selfAddress, selfWebhookProblems } from "./alerts-self";
import { parseJson, readRegularFile } from "./regular-file";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type LoadedConfig = Omit<HyperionConfig, "repositories"> & {
  repositories: LoadedRepository[];
  file: string;
};

/** Since when the file on disk has been unusable, and why; the last good config stays in force. */
export type ConfigProblem = { message: string; since: number };

export type CurrentConfig = LoadedConfig & { problem?: ConfigProblem };

/** A config is a few kilobytes; this only keeps a runaway file from being read into memory. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Reads and validates hyperion.config.json. Every problem names the key it is about, and the
 * message says which file to fix. Relative repository paths are taken from the config's folder.
 * The path may be a symbolic link (the operator chose it), but what it reaches must be a
 * regular file: a FIFO or a device there is refused, not waited on.
 */
export function loadConfig(file: string, self: SelfAddress | null = selfAddress()): LoadedConfig {
  const read = readRegularFile(file, { maxBytes: MAX_CONFIG_BYTES });
  if (!read.ok) {
    if (read.refusal === "missing" || read.refusal === "unreadable") {
      throw new ConfigError(
        `Cannot read the configuration file ${file}: it ${read.problem}. Create it, or set HYPERION_CONFIG to its path.`,
      );
    }
    const fix = read.refusal === "not-regular" ? "; it must be a regular file" : "";
    throw new ConfigError(`The configuration file ${file} ${read.problem}${fix}.`);
  }
  const json = parseJson(read.bytes);
  if (!json.ok) throw new ConfigError(`${file} ${json.problem}`);
  const parsed = HyperionConfig.safeParse(json.value);
  if (!parsed.success) {
    const lines = fieldIssues(parsed.error).map((i) => `  ${i.path}: ${i.message}`);
    throw new ConfigError(`Invalid configuration in ${file}:\n${lines.join("\n")}`);
  }
  const selfProblems = self ? selfWebhookProblems(parsed.data, self) : [];
  if (selfProblems.length)
    throw new ConfigError(
      `Invalid configuration in ${file}:\n${selfProblems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`,
    );
  const base = path.dirname(file);
  const repositories = parsed.data.repositories.map((repo, i): LoadedRepository => {
    // A remote's mirror is made by the worker at start (server/git/remote.ts): until then it
    // may not exist, but what is there must be a repository.
    const resolved = path.resolve(base, repo.path ?? path.join("mirrors", `${repo.name}.git`));
    const problem = repo.remote && !fs.existsSync(resolved) ? null : gitRepositoryProblem(resolved);
    if (problem) {
      throw new ConfigError(
        `Invalid configuration in ${file}:\n  repositories[${i}].path: ${problem} (${resolved})`,
      );
    }
    const credentials = repo.credentials && {
      ...repo.credentials,
      ...(repo.credentials.tokenFile
        ? { tokenFile: path.resolve(base, repo.credentials.tokenFile) }
        : {}),
      ...(repo.credentials.sshKeyFile
        ? { sshKeyFile: path.resolve(base, repo.credentials.sshKeyFile) }
        : {}),
      ...(repo.credentials.knownHostsFile
        ? { knownHostsFile: path.resolve(base, repo.credentials.knownHostsFile) }
        : {}),
    };
    return { ...repo, path: resolved, ...(credentials ? { credentials } : {}) };
  });
  return {
    repositories,
    ...(parsed.data.agents ? { agents: parsed.data.agents } : {}),
    ...(parsed.data.github ? { github: parsed.data.github } : {}),
    ...(parsed.data.alerts ? { alerts: parsed.data.alerts } : {}),
    ...(parsed.data.shipping
      ? {
          shipping: {
            ...parsed.data.shipping,
            ...(parsed.data.shipping.folder
              ? { folder: path.resolve(base, parsed.data.shipping.folder) }
              : {}),
          },
        }
      : {}),
    file,
  };
}

type State = { signature: string; good?: LoadedConfig; problem?: ConfigProblem };
const states = new Map<string, State>();

/**
 * The config for long-running processes: re-read when the file changes. A file that turns bad
 * while Hyperion runs does not stop anything: the last good config stays in force, carrying the
 * `problem` (logged once, shown to admins) until the file is fixed. Only when there has never
 * been a good config in this process is there nothing to fall back on, and that throws.
 */
export function currentConfig(file: string): CurrentConfig {
  const state = refresh(file);
  if (!state.good) throw new ConfigError(state.problem?.message ?? `Cannot load ${file}`);
  return state.problem ? { ...state.good, problem: state.problem } : state.good;
}

/**
 * The file's problem, if it has one, for the admins' banner, and whether a last good config is
 * in force meanwhile. Never throws.
 */
export function configStatus(file: string): {
  file: string;
  problem: ConfigProblem | null;
  lastGoodInForce: boolean;
} {
  const state = refresh(file);
  return { file, problem: state.problem ?? null, lastGoodInForce: !!state.good };
}

function refresh(file: string): State {
  const signature = signatureOf(file);
  const known = states.get(file);
  if (known && known.signature === signature) return known;
  let state: State;
  try {
    const config = loadConfig(file);
    state = { signature, good: config };
    shareLastGood(file, config);
    if (known?.problem) log.warn({ file }, "configuration file is valid again");
  } catch (err) {
    const message = (err as Error).message;
    const good = known?.good ?? inheritedLastGood(file);
    state = { signature, good, problem: { message, since: known?.problem?.since ?? Date.now() } };
    // With nothing to fall back on, currentConfig throws and its caller reports it.
    if (good)
      log.error(
        { file, problem: message },
        "configuration file is invalid; the last good configuration stays in force",
      );
  }
  states.set(file, state);
  return state;
}

/**
 * What identifies one version of the file without opening it: a changed, replaced or removed
 * file (or link target) gets a new signature, and only then is the file read again.
 */
function signatureOf(file: string): string {
  const of = (stat: (f: string, o: { bigint: true }) => fs.BigIntStats) => {
    try {
      const s = stat(file, { bigint: true });
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? "error";
    }
  };
  return `${of(fs.lstatSync)}/${of(fs.statSync)}`;
}

// Queue threads each load this module afresh; a thread (re)started while the file is bad takes
// the last good config its parent saw, handed over as worker environment data.
const shareKey = (file: string) => `hyperion:last-good-config:${file}`;

function shareLastGood(file: string, config: LoadedConfig): void {
  setEnvironmentData(shareKey(file), {
    repositories: config.repositories,
    ...(config.github ? { github: config.github } : {}),
    ...(config.alerts ? { alerts: config.alerts } : {}),
  });
}

function inheritedLastGood(file: string): LoadedConfig | undefined {
  const parsed = HyperionConfig.safeParse(getEnvironmentData(shareKey(file)));
  // What was shared was loaded, so every path is resolved already.
  return parsed.success
    ? {
        ...parsed.data,
        repositories: parsed.data.repositories.map((r) => ({ ...r, path: r.path ?? "" })),
        file,
      }
    : undefined;
}

export function repoNames(config: { repositories: readonly RepositoryConfig[] }): string[] {
  return config.repositories.map((r) => r.name);
}

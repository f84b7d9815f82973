import fs from "node:fs";
import path from "node:path";
import type { CliAgentName } from "@/schemas/agents";
import {
  agentClisDir as clisDir,
  installPrefix,
  isRoot,
  REINSTALL,
  rootTrustProblems,
  verifyIntegrity,
} from "@/server/agents/cli/integrity.mjs";
import { inherited } from "@/server/env.mjs";
import type { CliAdapter } from "./adapter";
import { claude } from "./claude";
import { codex } from "./codex";
import { copilot } from "./copilot";
import versions from "./versions.json";

export const adapters: Record<CliAgentName, CliAdapter> = { codex, claude, copilot };

/**
 * Where bin/agent-clis.mjs installs the pinned CLIs: HYPERION_AGENT_CLIS_DIR, else
 * /opt/hyperion/agent-clis as root, else ~/.cache/hyperion/agent-clis (integrity.mjs).
 */
export function agentClisDir(): string {
  return clisDir();
}

/** The pinned install's npm prefix of one CLI, whether or not it is there. */
export function pinnedPrefix(name: CliAgentName, dir = agentClisDir()): string {
  return installPrefix(dir, name, versions[name].version);
}

/** The pinned install's executable of one CLI, whether or not it is there. */
export function pinnedExecutable(name: CliAgentName, dir = agentClisDir()): string {
  const relative = versions[name].executable
    .replaceAll("{platform}", process.platform)
    .replaceAll("{arch}", process.arch);
  return path.join(pinnedPrefix(name, dir), relative);
}

const inside = (file: string, dir: string) => file.startsWith(`${dir}${path.sep}`);

function realOr(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

/**
 * Why `executable` must not run as CLI `name`, with the fix; null when it may. Checked before
 * each probe and each run (CliHarness):
 * - in the pinned install (bin/agent-clis.mjs's, under `dir`): quick verification against its
 *   integrity manifest — a file added, missing, changed, made writable or not root-owned, or no
 *   manifest at all, refuses it and names the file;
 * - anywhere else (agents.<name>.path, PATH), when Hyperion runs as root: the file, its install
 *   folder (`installDirs[0]`) and the folders above them must be root-owned and not writable by
 *   group or others (rootTrustProblems). As an ordinary user nothing more is asked.
 */
export function cliInstallProblem(
  name: CliAgentName,
  executable: string,
  installDirs: string[],
  dir = agentClisDir(),
): { problem: string; fix: string } | null {
  const prefix = pinnedPrefix(name, dir);
  const real = realOr(executable);
  if (inside(path.resolve(executable), prefix) || inside(real, realOr(prefix))) {
    const verified = verifyIntegrity(prefix, { label: `${name} ${versions[name].version}` });
    if (!verified.ok)
      return {
        problem: verified.summary,
        fix: `${REINSTALL} (it verifies each CLI and reinstalls one that fails)`,
      };
    if (inside(path.resolve(executable), prefix) || !isRoot()) return null;
  }
  if (!isRoot()) return null;
  const problems = rootTrustProblems(executable, installDirs[0] ?? path.dirname(real));
  if (problems.length === 0) return null;
  return {
    problem: `${executable} is refused: Hyperion runs as root and ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? `; and ${problems.length - 5} more` : ""}; a sandboxed agent could plant code there that Hyperion runs`,
    fix: `make it and its install folder root-owned and not group- or world-writable (chown -R root:root, chmod -R go-w), or remove agents.${name}.path and run ${REINSTALL}`,
  };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(bin: string): string | null {
  for (const dir of (inherited("PATH") ?? "").split(path.delimiter)) {
    const file = dir && path.join(dir, bin);
    if (file && isExecutable(file)) return file;
  }
  return null;
}

/** Copilot's npm bin is a loader that runs the platform binary beside it: take the binary. */
function platformCopilot(found: string): string | null {
  const real = fs.realpathSync(found);
  if (path.basename(real) !== "npm-loader.js") return found;
  const binary = path.join(
    path.dirname(real),
    "..",
    `copilot-${process.platform}-${process.arch}`,
    "copilot",
  );
  return isExecutable(binary) ? binary : null;
}

/**
 * The executable of a CLI: the pinned install under `dir` (bin/agent-clis.mjs's layout), else
 * the one on PATH. Null when neither is there.
 */
export function cliExecutable(name: CliAgentName, dir = agentClisDir()): string | null {
  const pinned = pinnedExecutable(name, dir);
  if (isExecutable(pinned)) return pinned;
  const found = onPath(adapters[name].bin);
  if (!found) return null;
  return name === "copilot" ? platformCopilot(found) : found;
}

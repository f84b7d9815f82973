import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CliAgentName } from "@/schemas/agents";
import type { CliAdapter } from "./adapter";
import { claude } from "./claude";
import { codex } from "./codex";
import { copilot } from "./copilot";
import versions from "./versions.json";

export const adapters: Record<CliAgentName, CliAdapter> = { codex, claude, copilot };

/** Where bin/agent-clis.mjs installs the pinned CLIs. */
export function agentClisDir(): string {
  return (
    process.env.HYPERION_AGENT_CLIS_DIR ||
    path.join(os.homedir(), ".cache", "hyperion", "agent-clis")
  );
}

/** The pinned install's executable of one CLI, whether or not it is there. */
export function pinnedExecutable(name: CliAgentName, dir = agentClisDir()): string {
  const pin = versions[name];
  const relative = pin.executable
    .replaceAll("{platform}", process.platform)
    .replaceAll("{arch}", process.arch);
  return path.join(dir, `${name}@${pin.version}`, relative);
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
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
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

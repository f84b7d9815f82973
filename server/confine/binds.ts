import fs from "node:fs";
import path from "node:path";
import { bindPathProblem } from "@/schemas/paths";
import { secretDirs } from "./sandbox";

// Folders a policy binds read-only into a command agent's sandbox (agents.commandDirs): the
// agent's own script and what it reads, which live outside the workspace.

/** Places no bind may name or lie in: the system's own, and the sandbox's private /tmp itself. */
const REFUSED_EXACT = ["/", "/tmp", "/var", "/usr", "/home"];
const REFUSED_TREES = ["/proc", "/sys", "/dev", "/etc", "/root", "/boot", "/run", "/var/run"];

const inside = (child: string, parent: string) => {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

/**
 * Why a folder may not be bound now, or undefined: its text (bindPathProblem), then on disk —
 * it must exist and be a folder, and what it resolves to must not be a system place, nor lie in
 * or hold a folder runs never see (Hyperion's data, config folder, checkout, inbox, its home).
 */
export function bindDirProblem(value: string): string | undefined {
  const text = bindPathProblem(value);
  if (text) return text;
  let real: string;
  try {
    real = fs.realpathSync(value);
  } catch {
    return "does not exist; create it, or remove it from the policy";
  }
  if (!fs.statSync(real).isDirectory()) return "is not a folder; name the folder that holds it";
  const shown = real === value ? "" : ` (it resolves to ${real})`;
  if (REFUSED_EXACT.includes(real) || REFUSED_TREES.some((t) => inside(real, t)))
    return `is a system place${shown}; name a folder of the agent's own, such as /opt/hyperion-agent`;
  const secret = secretDirs().find((s) => inside(real, s) || inside(s, real));
  if (secret)
    return `would show runs Hyperion's own files${shown}: it lies in or holds ${secret}; move the agent's files elsewhere`;
  return undefined;
}

/** The folders to bind, resolved, or the first one's problem named by its key. */
export function commandBinds(
  dirs: readonly string[],
): { dirs: string[] } | { problem: string; key: string } {
  const out: string[] = [];
  for (const [i, dir] of dirs.entries()) {
    const problem = bindDirProblem(dir);
    if (problem) return { problem: `agents.commandDirs[${i}] ${dir}: ${problem}`, key: `${i}` };
    out.push(fs.realpathSync(dir));
  }
  return { dirs: out };
}

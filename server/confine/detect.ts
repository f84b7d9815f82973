import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { currentEnv } from "@/server/env.mjs";
import { describeLimits, limitBackend } from "./cgroups";
import { sandboxUser } from "./identity";
import { probeSandbox } from "./probe";
import { programOrNull, untrustedBecause } from "./programs";
import type { Sandbox } from "./sandbox";

// Whether children can be confined on this host, found by running the probe (probe.ts) through
// the same launch as every child (launch.ts); sandbox.ts builds what a confined child sees.

export const INSTALL_BWRAP = "apt-get install -y bubblewrap";

let detected: Sandbox | undefined;

/**
 * Whether children can be confined here, found once: bubblewrap present, started as the
 * unprivileged sandbox user, and the probe inside it (no uid 0, no capability, no remount, no
 * new user namespace, no /etc/shadow) passing. Fails closed: anything privileged and checks and
 * agents do not run, with the reason. `HYPERION_CONFINE=none` is the operator's way out.
 */
export function detectSandbox(): Sandbox {
  if (currentEnv().HYPERION_CONFINE === "none")
    return { kind: "none", reason: "HYPERION_CONFINE=none", allowed: true };
  detected ??= probeNow();
  return detected;
}

/** Probes again (before every run): a sandbox that stopped holding is refused from then on. */
export function verifySandbox(): Sandbox {
  if (currentEnv().HYPERION_CONFINE === "none") return detectSandbox();
  detected = probeNow();
  return detected;
}

export function resetSandbox(): void {
  detected = undefined;
}

function bwrapPath(configured: string | undefined): string | null {
  if (configured) {
    if (!path.isAbsolute(configured) || !fs.existsSync(configured)) return null;
    return untrustedBecause(configured) ? null : configured;
  }
  return programOrNull("bwrap");
}

function probeNow(): Sandbox {
  const configured = currentEnv().HYPERION_BWRAP;
  const bwrap = bwrapPath(configured);
  if (!bwrap) {
    return {
      kind: "none",
      reason: configured
        ? `HYPERION_BWRAP=${configured} is missing or writable by others than root`
        : `bubblewrap is not installed (${INSTALL_BWRAP})`,
      allowed: false,
    };
  }
  const user = sandboxUser();
  if (user.switched && !programOrNull("setpriv"))
    return {
      kind: "none",
      reason: "Hyperion runs as root and setpriv (util-linux) is missing to leave root first",
      allowed: false,
    };
  const verdict = probeSandbox(bwrap);
  if (!verdict.ok) return { kind: "none", reason: verdict.problem, allowed: false };
  return { kind: "bwrap", bwrap, probe: verdict.summary };
}

/** One line for start-up and for every run's log: how children are confined. */
export function describeSandbox(s: Sandbox = detectSandbox()): string {
  if (s.kind === "bwrap")
    return `checks and agents run confined by bubblewrap (${s.bwrap}): ${s.probe}; limits: ${describeLimits(limitBackend())}`;
  if (s.allowed)
    return "checks and agents run WITHOUT a sandbox (HYPERION_CONFINE=none): they get a scrubbed environment, their own home, an unprivileged user when Hyperion is root, and bounded time, output and resources, but can read what that user can";
  return `checks and agents cannot run: ${s.reason}. Install bubblewrap (${INSTALL_BWRAP}) where it is missing, or set HYPERION_CONFINE=none to run them without a sandbox`;
}

/** bubblewrap's version, for the start-up line. */
export function bwrapVersion(bwrap: string): string {
  try {
    return execFileSync(bwrap, ["--version"], { encoding: "utf8", timeout: 5000 }).trim();
  } catch {
    return "bubblewrap";
  }
}

import fs from "node:fs";
import { currentEnv } from "@/server/env.mjs";

/**
 * Who a confined child runs as on the host. Started by root, bubblewrap would map root to root
 * and keep every capability, and `--uid` only renames root inside; so when Hyperion runs as root
 * every child is switched to an unprivileged user *before* the sandbox starts (setpriv), and
 * bubblewrap then works as it does for any ordinary user. Run as an ordinary user, children keep
 * that user, without capabilities.
 */
export type SandboxUser = {
  uid: number;
  gid: number;
  /** True when Hyperion is root and switches each child to `uid` first. */
  switched: boolean;
  /** How it was chosen, for the start-up line. */
  source: string;
};

/** The system user `bin/system-deps.sh` may create; otherwise a fixed, unused id. */
export const SANDBOX_USER_NAME = "hyperion-sandbox";
export const DEFAULT_SANDBOX_ID = 2_000_000;

function fromPasswd(name: string): { uid: number; gid: number } | null {
  try {
    for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // No passwd file: the fixed id.
  }
  return null;
}

let cached: SandboxUser | undefined;

export function sandboxUser(): SandboxUser {
  if (cached) return cached;
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) {
    cached = {
      uid,
      gid: process.getgid?.() ?? uid,
      switched: false,
      source: "Hyperion's own user",
    };
    return cached;
  }
  // HYPERION_SANDBOX_UID and _GID, checked by server/env.mjs (a whole number, never root).
  const env = currentEnv();
  const envUid = env.HYPERION_SANDBOX_UID ?? null;
  const envGid = env.HYPERION_SANDBOX_GID ?? null;
  const named = fromPasswd(SANDBOX_USER_NAME);
  if (envUid !== null)
    cached = { uid: envUid, gid: envGid ?? envUid, switched: true, source: "HYPERION_SANDBOX_UID" };
  else if (named && named.uid !== 0)
    cached = {
      uid: named.uid,
      gid: envGid ?? named.gid,
      switched: true,
      source: `user ${SANDBOX_USER_NAME}`,
    };
  else
    cached = {
      uid: DEFAULT_SANDBOX_ID,
      gid: envGid ?? DEFAULT_SANDBOX_ID,
      switched: true,
      source: "the fixed unused uid",
    };
  return cached;
}

/** Tests change the variables between cases. */
export function resetSandboxUser(): void {
  cached = undefined;
}

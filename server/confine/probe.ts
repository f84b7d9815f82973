import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { sandboxUser } from "./identity";
import { confinedCommand, handOver, makeRunDir, removeRunDir } from "./launch";
import { program } from "./programs";

// Looks at itself from inside: its ids, capabilities and no_new_privs, whether it can remount
// or unmount what it sees or make a user namespace, and whether host secrets are there. A fixed
// script; its answers are parsed below.
const SCRIPT = `
grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):' /proc/self/status
if mount -o remount,bind,rw /usr 2>/dev/null; then echo remount=allowed; else echo remount=refused; fi
if umount /usr 2>/dev/null; then echo umount=allowed; else echo umount=refused; fi
if unshare -U true 2>/dev/null; then echo unshare=allowed; else echo unshare=refused; fi
for f in /etc/shadow /etc/gshadow /etc/ssh /etc/sudoers; do if [ -e "$f" ]; then echo "present=$f"; fi; done
if (: > /usr/.hyperion-probe) 2>/dev/null; then echo write=allowed; else echo write=refused; fi
: > probe-owner
`;

export type ProbeVerdict = { ok: true; summary: string } | { ok: false; problem: string };

/** Parses the probe's output: every line that shows a privilege becomes a problem. */
export function judgeProbe(output: string, hostUid: number | null): string[] {
  const problems: string[] = [];
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(output)?.[1]?.trim();
  for (const name of ["Uid", "Gid"]) {
    const ids = field(name)?.split(/\s+/);
    if (!ids) problems.push(`${name} not readable in /proc/self/status`);
    else if (ids.includes("0")) problems.push(`${name.toLowerCase()} 0 inside (${ids.join(" ")})`);
  }
  for (const name of ["CapInh", "CapPrm", "CapEff", "CapAmb"]) {
    const v = field(name);
    if (v === undefined) problems.push(`${name} not readable`);
    else if (!/^0+$/.test(v)) problems.push(`${name}=${v} (capabilities inside)`);
  }
  if (field("NoNewPrivs") !== "1") problems.push("no_new_privs is not set");
  for (const what of ["remount", "umount", "unshare", "write"])
    if (!output.includes(`${what}=refused`))
      problems.push(
        what === "write" ? "a read-only system folder was writable" : `${what} was allowed inside`,
      );
  for (const m of output.matchAll(/^present=(.*)$/gm)) problems.push(`${m[1]} is visible`);
  if (hostUid === null) problems.push("the probe could not write in its workspace");
  else if (hostUid === 0) problems.push("the child's files belong to root on the host");
  return problems;
}

/**
 * Runs the probe through the very pipeline runs use (setpriv → bubblewrap → prlimit) and says
 * whether nothing in it is privileged. Synchronous: it answers detectSandbox at start.
 */
export function probeSandbox(bwrap: string): ProbeVerdict {
  const dir = makeRunDir("hyperion-probe-");
  try {
    handOver(dir);
    const cmd = confinedCommand({
      sandbox: { kind: "bwrap", bwrap, probe: "" },
      argv: [program("sh"), "-c", SCRIPT],
      dir,
      cwd: dir.work,
      env: { PATH: "/usr/bin:/bin:/usr/sbin:/sbin", LANG: "C.UTF-8" },
      network: false,
      readOnly: [],
    });
    const res = spawnSync(cmd.file, cmd.args, {
      env: cmd.env as NodeJS.ProcessEnv,
      encoding: "utf8",
      timeout: 20_000,
    });
    if (res.error || res.status !== 0)
      return {
        ok: false,
        problem: `bubblewrap cannot start here as the sandbox user (${(res.error?.message ?? res.stderr ?? "").trim().split("\n")[0] || `exit ${res.status}`})`,
      };
    const owner = fs.statSync(path.join(dir.work, "probe-owner"), { throwIfNoEntry: false });
    const problems = judgeProbe(res.stdout, owner ? owner.uid : null);
    if (problems.length)
      return { ok: false, problem: `the sandbox is not unprivileged: ${problems.join("; ")}` };
    const u = sandboxUser();
    return {
      ok: true,
      summary: `as uid ${u.uid} (${u.source}), no capabilities, no_new_privs; remount, umount, new user namespaces and writes to system folders refused; /etc/shadow and /etc/ssh absent`,
    };
  } catch (err) {
    return { ok: false, problem: `the sandbox probe failed: ${(err as Error).message}` };
  } finally {
    removeRunDir(dir);
  }
}

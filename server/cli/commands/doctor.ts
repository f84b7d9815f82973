import { describeLimits, limitBackend } from "@/server/confine/cgroups";
import { bwrapVersion, describeSandbox, verifySandbox } from "@/server/confine/detect";
import { sandboxUser } from "@/server/confine/identity";
import { programOrNull } from "@/server/confine/programs";
import { cliEnv } from "../context";

/**
 * `hyperion doctor`: what confines checks and agents on this machine, probed now, the way the
 * worker probes it at start and before every run. Exit 1 when children cannot run confined.
 */
export async function doctorCommand(opts: { json?: boolean }) {
  const env = cliEnv();
  const sandbox = verifySandbox();
  const user = sandboxUser();
  const limits = limitBackend();
  const programs = Object.fromEntries(
    (["git", "bwrap", "setpriv", "prlimit", "chown", "du", "sh"] as const).map((p) => [
      p,
      programOrNull(p) ?? "missing or not root-owned",
    ]),
  );
  const report = {
    hyperionUid: process.getuid?.() ?? null,
    sandbox: {
      ok: sandbox.kind === "bwrap",
      kind: sandbox.kind,
      version: sandbox.kind === "bwrap" ? bwrapVersion(sandbox.bwrap) : null,
      line: describeSandbox(sandbox),
    },
    childUser: { uid: user.uid, gid: user.gid, switched: user.switched, source: user.source },
    limits: { backend: limits.kind, line: describeLimits(limits) },
    programs,
  };
  if (opts.json) console.log(JSON.stringify(report, null, 2));
  else {
    const root = report.hyperionUid === 0;
    console.log(`Hyperion runs as uid ${report.hyperionUid}${root ? " (root)" : ""}.`);
    console.log(
      user.switched
        ? `Children leave root first: uid ${user.uid}, gid ${user.gid} (${user.source}), no capabilities, no_new_privs.`
        : `Children run as this same user (uid ${user.uid}), without capabilities, no_new_privs.`,
    );
    console.log(`Sandbox: ${report.sandbox.line}`);
    console.log(`Limits: ${report.limits.line}`);
    console.log("Programs Hyperion runs itself (absolute, root-owned folders only):");
    for (const [name, where] of Object.entries(programs)) console.log(`  ${name}: ${where}`);
  }
  if (!report.sandbox.ok && env.HYPERION_CONFINE !== "none") process.exitCode = 1;
}

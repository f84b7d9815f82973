#!/usr/bin/env node
// Installs the pinned agent CLIs (server/agents/cli/versions.json), one npm prefix per CLI and
// version, under /opt/hyperion/agent-clis as root (else ~/.cache/hyperion/agent-clis, or
// HYPERION_AGENT_CLIS_DIR), makes each read-only (and root-owned as root), records its integrity
// manifest beside it, and prints where each executable is. An install that fails verification
// is removed and installed again.
// `--check` installs nothing: it verifies every file of each install against its manifest and
// exits 1 naming what differs, or when a CLI is missing. Nothing is executed before its install
// is verified: the --version probe comes after.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  agentClisDir,
  installPrefix,
  isRoot,
  lockDown,
  manifestPathOf,
  prepareClisDir,
  recordIntegrity,
  removeInstall,
  verifyIntegrity,
} from "../server/agents/cli/integrity.mjs";
import { currentEnv, EnvError, inherited } from "../server/env.mjs";

const versions = JSON.parse(
  fs.readFileSync(new URL("../server/agents/cli/versions.json", import.meta.url), "utf8"),
);

const args = process.argv.slice(2);
const check = args.includes("--check");
if (args.some((a) => a !== "--check")) {
  console.error("usage: node bin/agent-clis.mjs [--check]");
  process.exit(2);
}

let env;
try {
  env = currentEnv();
} catch (err) {
  if (!(err instanceof EnvError)) throw err;
  console.error(err.message);
  process.exit(2);
}
const cache = agentClisDir(env.HYPERION_AGENT_CLIS_DIR);

function installedVersion(prefix, pkg) {
  try {
    const manifest = path.join(prefix, "node_modules", pkg, "package.json");
    return JSON.parse(fs.readFileSync(manifest, "utf8")).version;
  } catch {
    return undefined;
  }
}

function executableIn(prefix, relative) {
  return path.join(
    prefix,
    relative.replaceAll("{platform}", process.platform).replaceAll("{arch}", process.arch),
  );
}

// Copilot's platform binary unpacks its JavaScript on first use into a package cache; unpacked
// here once, every run reads it (COPILOT_PKG_CACHE_HOME) instead of unpacking 235 MB into its home.
function packageCacheReady(prefix, pin) {
  if (!pin.packageCache) return true;
  const unpacked = path.join(
    prefix,
    pin.packageCache,
    "pkg",
    `${process.platform}-${process.arch}`,
  );
  return fs.existsSync(path.join(unpacked, pin.version, ".extraction-complete"));
}

function packageCacheEnv(prefix, pin) {
  return pin.packageCache ? { COPILOT_PKG_CACHE_HOME: path.join(prefix, pin.packageCache) } : {};
}

/**
 * Runs a CLI's executable with only PATH, the locale and a throwaway home (some CLIs write their
 * folders there even for --version): never the caller's environment, which may hold secrets.
 */
function runCli(executable, argv, env, stdio) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "agent-clis-probe-"));
  try {
    return spawnSync(executable, argv, {
      encoding: "utf8",
      timeout: 120_000,
      stdio,
      env: {
        PATH: inherited("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
        ...(inherited("LANG") ? { LANG: inherited("LANG") } : {}),
        HOME: home,
        TMPDIR: home,
        ...env,
      },
    });
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

function unpackPackageCache(prefix, pin) {
  if (packageCacheReady(prefix, pin)) return;
  runCli(
    executableIn(prefix, pin.executable),
    ["--binary-version"],
    { ...packageCacheEnv(prefix, pin), COPILOT_SEA_EXTRACT_ONLY: "1" },
    ["ignore", "ignore", "inherit"],
  );
}

function isInstalled(prefix, pin) {
  return (
    installedVersion(prefix, pin.package) === pin.version &&
    fs.existsSync(executableIn(prefix, pin.executable)) &&
    packageCacheReady(prefix, pin)
  );
}

/** The executable's own answer to --version: proof that it runs here, not only that it exists. */
function probe(executable, env) {
  const run = runCli(executable, ["--version"], env, ["ignore", "pipe", "pipe"]);
  return run.status === 0 ? run.stdout.split("\n")[0].trim() : null;
}

/** npm install into a fresh prefix, the package cache unpacked, then locked and recorded. */
function install(name, pin, prefix, label) {
  console.log(`${name}: installing ${pin.package}@${pin.version} into ${prefix}`);
  fs.mkdirSync(prefix, { mode: 0o755 });
  const npm = spawnSync(
    "npm",
    [
      "install",
      "--prefix",
      prefix,
      "--no-save",
      "--no-audit",
      "--no-fund",
      `${pin.package}@${pin.version}`,
    ],
    { stdio: "inherit" },
  );
  if (npm.status !== 0) return false;
  unpackPackageCache(prefix, pin);
  if (!isInstalled(prefix, pin)) return false;
  lockDown(prefix);
  recordIntegrity(prefix, { label });
  return true;
}

if (isRoot() && !env.HYPERION_AGENT_CLIS_DIR) {
  const old = path.join(os.homedir(), ".cache", "hyperion", "agent-clis");
  if (fs.existsSync(old))
    console.log(`note: ${old} is no longer used as root (the CLIs are in ${cache}); rm -rf it`);
}
if (!check) for (const warning of prepareClisDir(cache)) console.warn(`warning: ${warning}`);

let failed = 0;
for (const [name, pin] of Object.entries(versions)) {
  const prefix = installPrefix(cache, name, pin.version);
  const label = `${name} ${pin.version}`;
  const executable = executableIn(prefix, pin.executable);
  const present = fs.existsSync(prefix) || fs.existsSync(manifestPathOf(prefix));
  const started = performance.now();
  let verified = present ? verifyIntegrity(prefix, { label, full: true }) : null;
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  let state;
  if (verified?.ok) {
    state = isInstalled(prefix, pin) ? "installed" : "broken";
    console.log(`${label}: ${verified.entries} entries verified in ${seconds} s`);
  } else if (check) {
    state = verified ? (verified.unverified ? "unverified" : "changed since install") : "missing";
    if (verified) console.error(verified.message);
  } else {
    if (verified) {
      console.log(`${verified.message}`);
      console.log(`${name}: removing ${prefix} to install it again`);
      removeInstall(prefix);
    }
    const ok = install(name, pin, prefix, label);
    verified = ok ? verifyIntegrity(prefix, { label, full: true }) : null;
    if (verified && !verified.ok) console.error(verified.message);
    state = verified?.ok ? "installed now" : "install failed";
  }
  console.log(`${name} ${pin.version} ${state}: ${executable}`);
  // Only a verified install is ever executed.
  if (state.startsWith("installed")) {
    const version = probe(executable, packageCacheEnv(prefix, pin));
    console.log(`  --version: ${version ?? "failed"}`);
    if (version === null) state = "broken";
  }
  if (!state.startsWith("installed")) failed++;
}
process.exit(failed === 0 ? 0 : 1);

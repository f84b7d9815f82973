#!/usr/bin/env node
// Installs the pinned agent CLIs (server/agents/cli/versions.json) into a cache shared across
// runs and checkouts, one npm prefix per CLI and version, and prints where each executable is.
// `--check` installs nothing: it reports, and exits 1 when a CLI is missing.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const versions = JSON.parse(
  fs.readFileSync(new URL("../server/agents/cli/versions.json", import.meta.url), "utf8"),
);

const args = process.argv.slice(2);
const check = args.includes("--check");
if (args.some((a) => a !== "--check")) {
  console.error("usage: node bin/agent-clis.mjs [--check]");
  process.exit(2);
}

const cache =
  process.env.HYPERION_AGENT_CLIS_DIR ||
  path.join(os.homedir(), ".cache", "hyperion", "agent-clis");

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

function unpackPackageCache(prefix, pin) {
  if (packageCacheReady(prefix, pin)) return;
  spawnSync(executableIn(prefix, pin.executable), ["--binary-version"], {
    env: { ...process.env, ...packageCacheEnv(prefix, pin), COPILOT_SEA_EXTRACT_ONLY: "1" },
    stdio: ["ignore", "ignore", "inherit"],
    timeout: 120_000,
  });
}

function isInstalled(prefix, pin) {
  return (
    installedVersion(prefix, pin.package) === pin.version &&
    fs.existsSync(executableIn(prefix, pin.executable)) &&
    packageCacheReady(prefix, pin)
  );
}

/**
 * The executable's own answer to --version: proof that it runs here, not only that it exists.
 * In a throwaway home, since some CLIs write their folders there even for that.
 */
function probe(executable, env) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "agent-clis-probe-"));
  try {
    const run = spawnSync(executable, ["--version"], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, ...env, HOME: home },
    });
    return run.status === 0 ? run.stdout.split("\n")[0].trim() : null;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

let missing = 0;
for (const [name, pin] of Object.entries(versions)) {
  const prefix = path.join(cache, `${name}@${pin.version}`);
  const executable = executableIn(prefix, pin.executable);
  let state = isInstalled(prefix, pin) ? "installed" : "missing";
  if (state === "missing" && !check) {
    console.log(`${name}: installing ${pin.package}@${pin.version} into ${prefix}`);
    fs.mkdirSync(prefix, { recursive: true });
    const upToDate = installedVersion(prefix, pin.package) === pin.version;
    const npm = upToDate
      ? { status: 0 }
      : spawnSync(
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
    if (npm.status === 0) unpackPackageCache(prefix, pin);
    state = npm.status === 0 && isInstalled(prefix, pin) ? "installed now" : "install failed";
  }
  console.log(`${name} ${pin.version} ${state}: ${executable}`);
  if (state.startsWith("installed")) {
    const version = probe(executable, packageCacheEnv(prefix, pin));
    console.log(`  --version: ${version ?? "failed"}`);
    if (version === null) state = "broken";
  }
  if (!state.startsWith("installed")) missing++;
}
process.exit(missing === 0 ? 0 : 1);

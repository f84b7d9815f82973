import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CliAgentName } from "@/schemas/agents";
import { CliHarness } from "../cli-harness";
import type { SessionSpec } from "../harness";
import { adapters, agentClisDir, cliInstallProblem, pinnedExecutable, pinnedPrefix } from "./index";
import {
  installPrefix,
  isRoot,
  lockDown,
  manifestPathOf,
  prepareClisDir,
  ROOT_AGENT_CLIS_DIR,
  recordIntegrity,
  removeInstall,
  rootTrustProblems,
  verifyIntegrity,
} from "./integrity.mjs";
import versions from "./versions.json";

// The pinned CLIs' installs are read-only, recorded and verified (integrity.mjs): on fake "CLIs"
// made here — a few files, a symlink and a tiny executable that leaves a canary file if it is
// ever run — in temp folders, as root (CI) or as an ordinary user.

const BIN = path.resolve(import.meta.dirname, "../../../bin/agent-clis.mjs");
const root = isRoot();

let tmp = "";
let saved: string | undefined;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-integrity-"));
  saved = process.env.HYPERION_AGENT_CLIS_DIR;
});
afterEach(() => {
  if (saved === undefined) delete process.env.HYPERION_AGENT_CLIS_DIR;
  else process.env.HYPERION_AGENT_CLIS_DIR = saved;
  // The installs are read-only: writable again before they go.
  execFileSync("chmod", ["-R", "u+w", tmp]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A script that, if run, leaves `canary` behind and answers like a CLI's --version. */
const fakeExecutable = (canary: string, answer: string) =>
  `#!/bin/sh\necho ran >> '${canary}'\necho '${answer}'\n`;

/**
 * A fake CLI laid out as bin/agent-clis.mjs installs `name` (versions.json), not yet locked:
 * its package.json, its script, the executable (an npm .bin link to the script, or the script
 * itself) and Copilot's unpacked package cache.
 */
function fakeLayout(prefix: string, name: CliAgentName, canary: string) {
  const pin = versions[name];
  const pkg = path.join(prefix, "node_modules", ...pin.package.split("/"));
  fs.mkdirSync(path.join(pkg, "bin"), { recursive: true });
  fs.writeFileSync(
    path.join(pkg, "package.json"),
    JSON.stringify({ name: pin.package, version: pin.version }),
  );
  fs.writeFileSync(path.join(pkg, "README.md"), "A CLI.\n");
  const script = path.join(pkg, "bin", `${name}.js`);
  fs.writeFileSync(script, fakeExecutable(canary, `${name} ${pin.version}`), { mode: 0o755 });
  const exe = path.join(
    prefix,
    pin.executable.replaceAll("{platform}", process.platform).replaceAll("{arch}", process.arch),
  );
  fs.mkdirSync(path.dirname(exe), { recursive: true });
  if (pin.executable.includes("/.bin/"))
    fs.symlinkSync(path.relative(path.dirname(exe), script), exe);
  else fs.copyFileSync(script, exe);
  if ("packageCache" in pin) {
    const done = path.join(prefix, pin.packageCache, "pkg", `${process.platform}-${process.arch}`);
    fs.mkdirSync(path.join(done, pin.version), { recursive: true });
    fs.writeFileSync(path.join(done, pin.version, ".extraction-complete"), "");
  }
}

/** A fake CLI installed as bin/agent-clis.mjs leaves one: laid out, locked, recorded. */
function fakeInstall(dir: string, name: CliAgentName, canary: string): string {
  const prefix = installPrefix(dir, name, versions[name].version);
  fakeLayout(prefix, name, canary);
  lockDown(prefix);
  recordIntegrity(prefix, { label: `${name} ${versions[name].version}` });
  return prefix;
}

/** Writes into a read-only file, keeping its mode (an agent with write access would). */
function overwrite(file: string, content: string) {
  const mode = fs.statSync(file).mode & 0o7777;
  fs.chmodSync(file, mode | 0o200);
  fs.writeFileSync(file, content);
  fs.chmodSync(file, mode);
}

/** Does `change` inside a read-only folder, leaving the folder's mode as it was. */
function inFolder(dir: string, change: () => void) {
  const mode = fs.statSync(dir).mode & 0o7777;
  fs.chmodSync(dir, 0o755);
  change();
  fs.chmodSync(dir, mode);
}

const CODEX_JS = "node_modules/@openai/codex/bin/codex.js";
const label = `codex ${versions.codex.version}`;

describe("an installed CLI's integrity", () => {
  it("is locked down: read-only folders and files (root-owned as root), x bits kept", () => {
    const prefix = fakeInstall(tmp, "codex", path.join(tmp, "canary"));
    const script = fs.statSync(path.join(prefix, CODEX_JS));
    expect(script.mode & 0o7777).toBe(0o555);
    expect(
      fs.statSync(path.join(prefix, "node_modules/@openai/codex/README.md")).mode & 0o777,
    ).toBe(0o444);
    expect(fs.statSync(prefix).mode & 0o7777).toBe(0o555);
    expect(fs.statSync(path.join(prefix, "node_modules")).mode & 0o7777).toBe(0o555);
    const manifest = fs.statSync(manifestPathOf(prefix));
    expect(manifest.mode & 0o777).toBe(0o444);
    if (root) expect([script.uid, manifest.uid]).toEqual([0, 0]);
    const recorded = JSON.parse(fs.readFileSync(manifestPathOf(prefix), "utf8"));
    const entry = recorded.entries.find((e: { path: string }) => e.path === CODEX_JS);
    expect(entry).toMatchObject({ type: "file", mode: 0o555, size: script.size });
    expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(
      recorded.entries.find((e: { path: string }) => e.path === "node_modules/.bin/codex"),
    ).toMatchObject({ type: "symlink", target: "../@openai/codex/bin/codex.js" });
  });

  it("verifies as installed, quick without hashing and full hashing every file", () => {
    const prefix = fakeInstall(tmp, "codex", path.join(tmp, "canary"));
    const quick = verifyIntegrity(prefix, { label });
    expect(quick).toMatchObject({ ok: true, hashed: 0 });
    const full = verifyIntegrity(prefix, { label, full: true });
    expect(full).toMatchObject({ ok: true, hashed: 3 });
  });

  it("names a file whose content changed, in full and in quick verification", () => {
    const prefix = fakeInstall(tmp, "codex", path.join(tmp, "canary"));
    const file = path.join(prefix, CODEX_JS);
    overwrite(file, fs.readFileSync(file, "utf8").replace("echo ran", "echo RAN"));
    const want = `${label}: ${CODEX_JS} changed since install (sha256 differs); reinstall with node bin/agent-clis.mjs`;
    expect(verifyIntegrity(prefix, { label, full: true })).toMatchObject({
      ok: false,
      message: want,
    });
    expect(verifyIntegrity(prefix, { label })).toMatchObject({ ok: false, message: want });
  });

  it("quick verification sees a change whose mtime was set back: its ctime moved", () => {
    const prefix = path.join(tmp, "codex@1");
    fakeLayout(prefix, "codex", path.join(tmp, "canary"));
    const file = path.join(prefix, CODEX_JS);
    const past = new Date("2001-09-09T01:46:40Z");
    fs.utimesSync(file, past, past);
    lockDown(prefix);
    recordIntegrity(prefix, { label });
    overwrite(file, fs.readFileSync(file, "utf8").replace("echo ran", "echo RAN"));
    fs.utimesSync(file, past, past);
    const st = fs.statSync(file, { bigint: true });
    const entry = JSON.parse(fs.readFileSync(manifestPathOf(prefix), "utf8")).entries.find(
      (e: { path: string }) => e.path === CODEX_JS,
    );
    // Same size, inode and mtime as recorded: only the ctime tells.
    expect([String(st.size), String(st.ino), String(st.mtimeNs)]).toEqual([
      String(entry.size),
      entry.ino,
      entry.mtimeNs,
    ]);
    expect(String(st.ctimeNs)).not.toBe(entry.ctimeNs);
    const quick = verifyIntegrity(prefix, { label });
    expect(quick).toMatchObject({
      ok: false,
      problems: [`${CODEX_JS} changed since install (sha256 differs)`],
    });
  });

  it("names a file added, a file removed and a file made writable", () => {
    const prefix = fakeInstall(tmp, "codex", path.join(tmp, "canary"));
    const bin = path.join(prefix, "node_modules/@openai/codex/bin");
    inFolder(bin, () => fs.writeFileSync(path.join(bin, "planted.js"), "evil\n"));
    const added = verifyIntegrity(prefix, { label });
    expect(added).toMatchObject({
      ok: false,
      problems: ["node_modules/@openai/codex/bin/planted.js was added since install"],
    });

    inFolder(bin, () => fs.rmSync(path.join(bin, "planted.js")));
    expect(verifyIntegrity(prefix, { label }).ok).toBe(true);

    const pkg = path.join(prefix, "node_modules/@openai/codex");
    inFolder(pkg, () => fs.rmSync(path.join(pkg, "README.md")));
    expect(verifyIntegrity(prefix, { label })).toMatchObject({
      ok: false,
      problems: ["node_modules/@openai/codex/README.md is missing since install"],
    });
  });

  it("names a file or folder made writable, and a retargeted symlink", () => {
    const prefix = fakeInstall(tmp, "codex", path.join(tmp, "canary"));
    fs.chmodSync(path.join(prefix, CODEX_JS), 0o755);
    fs.chmodSync(path.join(prefix, "node_modules"), 0o775);
    expect(verifyIntegrity(prefix, { label, full: true })).toMatchObject({
      ok: false,
      problems: ["node_modules is writable (mode 0775)", `${CODEX_JS} is writable (mode 0755)`],
    });
    fs.chmodSync(path.join(prefix, CODEX_JS), 0o555);
    fs.chmodSync(path.join(prefix, "node_modules"), 0o555);
    const link = path.join(prefix, "node_modules/.bin/codex");
    inFolder(path.dirname(link), () => {
      fs.rmSync(link);
      fs.symlinkSync("/bin/sh", link);
    });
    expect(verifyIntegrity(prefix, { label })).toMatchObject({
      ok: false,
      problems: [
        "node_modules/.bin/codex changed since install (symlink to /bin/sh, was ../@openai/codex/bin/codex.js)",
      ],
    });
  });

  it.runIf(root)("as root, names a file that is not root-owned", () => {
    const prefix = fakeInstall(tmp, "codex", path.join(tmp, "canary"));
    fs.lchownSync(path.join(prefix, CODEX_JS), 2_000_000, 2_000_000);
    expect(verifyIntegrity(prefix, { label })).toMatchObject({
      ok: false,
      problems: [`${CODEX_JS} is not owned by root (uid 2000000)`],
    });
  });

  it("with no manifest, or a writable one, is unverified", () => {
    const prefix = fakeInstall(tmp, "codex", path.join(tmp, "canary"));
    fs.chmodSync(manifestPathOf(prefix), 0o666);
    expect(verifyIntegrity(prefix, { label })).toMatchObject({ ok: false, unverified: true });
    fs.rmSync(manifestPathOf(prefix));
    const none = verifyIntegrity(prefix, { label });
    expect(none).toMatchObject({ ok: false, unverified: true });
    if (!none.ok)
      expect(none.message).toMatch(/codex .*: is unverified: it has no integrity manifest/);
  });

  it("many problems: the first few are named and the rest counted", () => {
    const prefix = fakeInstall(tmp, "codex", path.join(tmp, "canary"));
    const bin = path.join(prefix, "node_modules/@openai/codex/bin");
    inFolder(bin, () => {
      for (let i = 0; i < 8; i++) fs.writeFileSync(path.join(bin, `p${i}.js`), "");
    });
    const v = verifyIntegrity(prefix, { label });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.message).toMatch(/p4\.js was added since install; and 3 more; reinstall/);
  });

  it("removeInstall removes a read-only prefix and its manifest", () => {
    const prefix = fakeInstall(tmp, "codex", path.join(tmp, "canary"));
    removeInstall(prefix);
    expect(fs.existsSync(prefix)).toBe(false);
    expect(fs.existsSync(manifestPathOf(prefix))).toBe(false);
  });
});

describe("where the CLIs are installed", () => {
  it("HYPERION_AGENT_CLIS_DIR, else /opt/hyperion/agent-clis as root, else ~/.cache", () => {
    process.env.HYPERION_AGENT_CLIS_DIR = path.join(tmp, "clis");
    expect(agentClisDir()).toBe(path.join(tmp, "clis"));
    delete process.env.HYPERION_AGENT_CLIS_DIR;
    expect(agentClisDir()).toBe(
      root ? ROOT_AGENT_CLIS_DIR : path.join(os.homedir(), ".cache", "hyperion", "agent-clis"),
    );
  });

  it("the folders it creates are traversable by others (0755)", () => {
    const dir = path.join(tmp, "a", "b", "clis");
    fs.chmodSync(tmp, 0o755);
    expect(prepareClisDir(dir)).toEqual(
      // os.tmpdir() and above are the machine's: warned about, not changed.
      [],
    );
    for (const at of [path.join(tmp, "a"), path.join(tmp, "a", "b"), dir])
      expect(fs.statSync(at).mode & 0o777).toBe(0o755);
    fs.chmodSync(tmp, 0o700);
    expect(prepareClisDir(dir)).toEqual([expect.stringContaining(`${tmp} is not traversable`)]);
  });
});

describe("before a CLI runs", () => {
  function pinnedFakeCodex() {
    const dir = path.join(tmp, "clis");
    process.env.HYPERION_AGENT_CLIS_DIR = dir;
    const canary = path.join(tmp, "canary");
    fakeInstall(dir, "codex", canary);
    const exe = pinnedExecutable("codex");
    const harness = new CliHarness(
      adapters.codex,
      { endpoint: "http://127.0.0.1:9/v1" },
      () => exe,
      () => [pinnedPrefix("codex")],
    );
    return { dir, exe, canary, harness };
  }

  it("a tampered pinned install refuses the probe and the run, naming the file; nothing runs", async () => {
    const { exe, canary, harness } = pinnedFakeCodex();
    expect(cliInstallProblem("codex", exe, [pinnedPrefix("codex")])).toBeNull();
    const file = path.join(pinnedPrefix("codex"), CODEX_JS);
    overwrite(file, fs.readFileSync(file, "utf8").replace("echo ran", "echo RAN"));
    const probe = await harness.probe();
    expect(probe).toMatchObject({
      ok: false,
      problem: `${label}: ${CODEX_JS} changed since install (sha256 differs)`,
      fix: expect.stringMatching(/node bin\/agent-clis\.mjs/),
    });
    const spec = {
      run: { root: tmp, work: tmp, home: tmp },
      promptFile: path.join(tmp, "prompt.md"),
      prompt: "p",
      taskId: "T-1",
    } as unknown as SessionSpec;
    const started = await harness.start(spec);
    expect(started).toEqual({
      spawnError: expect.stringContaining(`${CODEX_JS} changed since install (sha256 differs)`),
    });
    expect(fs.existsSync(canary)).toBe(false);
  });

  it.runIf(root)(
    "as root, an executable outside the pinned install is refused unless root-owned and not group/world-writable",
    () => {
      const folder = path.join(tmp, "opt-codex");
      fs.mkdirSync(folder, { mode: 0o755 });
      fs.chmodSync(tmp, 0o755);
      const exe = path.join(folder, "codex");
      fs.writeFileSync(exe, fakeExecutable(path.join(tmp, "canary"), "codex 9.9.9"), {
        mode: 0o755,
      });
      expect(cliInstallProblem("codex", exe, [folder])).toBeNull();
      expect(rootTrustProblems(exe, folder)).toEqual([]);
      fs.chmodSync(folder, 0o777);
      fs.chownSync(exe, 2_000_000, 2_000_000);
      const refused = cliInstallProblem("codex", exe, [folder]);
      expect(refused?.problem).toContain(`${exe} is not owned by root (uid 2000000)`);
      expect(refused?.problem).toContain(
        `${folder} (its install folder) is writable by others (mode 0777)`,
      );
      expect(refused?.fix).toMatch(/root-owned and not group- or world-writable/);
    },
  );
});

describe("node bin/agent-clis.mjs", () => {
  const names = Object.keys(versions) as CliAgentName[];

  /** Every pinned CLI faked under a fresh HYPERION_AGENT_CLIS_DIR; canaries in their own folder. */
  function fakeAll() {
    const dir = path.join(tmp, "clis");
    const canaries = path.join(tmp, "canaries");
    fs.mkdirSync(canaries);
    for (const name of names) fakeInstall(dir, name, path.join(canaries, name));
    return { dir, canaries };
  }

  const run = (dir: string, args: string[], extraPath?: string) =>
    spawnSync(process.execPath, [BIN, ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        HYPERION_AGENT_CLIS_DIR: dir,
        PATH: extraPath ? `${extraPath}:${process.env.PATH}` : process.env.PATH,
      },
    });

  it("--check verifies in full, then probes: each CLI ran once", () => {
    const { dir, canaries } = fakeAll();
    const r = run(dir, ["--check"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/codex \S+: \d+ entries verified in [\d.]+ s/);
    expect(r.stdout).toContain(`  --version: codex ${versions.codex.version}`);
    expect(fs.readdirSync(canaries).sort()).toEqual([...names].sort());
  });

  it("--check with a tampered install exits 1 naming the file, and never runs it", () => {
    const { dir, canaries } = fakeAll();
    const file = path.join(pinnedPrefix("codex", dir), CODEX_JS);
    overwrite(file, fs.readFileSync(file, "utf8").replace("echo ran", "echo RAN"));
    const r = run(dir, ["--check"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `${label}: ${CODEX_JS} changed since install (sha256 differs); reinstall with node bin/agent-clis.mjs`,
    );
    expect(r.stdout).toContain(`codex ${versions.codex.version} changed since install`);
    expect(fs.existsSync(path.join(canaries, "codex"))).toBe(false);
    // The others verified, so they were probed.
    expect(fs.readdirSync(canaries).sort()).toEqual(names.filter((n) => n !== "codex").sort());
  });

  it("--check with no manifest (unverified) exits 1 and runs nothing of it", () => {
    const { dir, canaries } = fakeAll();
    fs.rmSync(manifestPathOf(pinnedPrefix("claude", dir)));
    const r = run(dir, ["--check"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/claude \S+: is unverified: it has no integrity manifest/);
    expect(fs.existsSync(path.join(canaries, "claude"))).toBe(false);
  });

  it("installing again replaces a tampered install and says so", () => {
    const { dir, canaries } = fakeAll();
    // A fake npm that lays out the package as the real one would, from versions.json.
    const npmDir = path.join(tmp, "fake-npm");
    const templates = path.join(tmp, "templates");
    fs.mkdirSync(npmDir);
    for (const name of names)
      fakeLayout(path.join(templates, name), name, path.join(canaries, name));
    const cases = names
      .map((n) => `  ${versions[n].package}@*) cp -a '${path.join(templates, n)}/.' "$prefix"/ ;;`)
      .join("\n");
    fs.writeFileSync(
      path.join(npmDir, "npm"),
      `#!/bin/sh\nprefix=$3\necho "npm $*" >> '${path.join(tmp, "npm.log")}'\nfor a; do last=$a; done\ncase "$last" in\n${cases}\n  *) exit 1 ;;\nesac\n`,
      { mode: 0o755 },
    );
    const file = path.join(pinnedPrefix("copilot", dir), "pkg-cache", "pkg");
    inFolder(file, () => fs.writeFileSync(path.join(file, "planted"), "x"));

    const r = run(dir, [], npmDir);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `copilot ${versions.copilot.version}: pkg-cache/pkg/planted was added since install`,
    );
    expect(r.stdout).toContain(
      `copilot: removing ${pinnedPrefix("copilot", dir)} to install it again`,
    );
    expect(r.stdout).toContain(`copilot ${versions.copilot.version} installed now`);
    expect(fs.readFileSync(path.join(tmp, "npm.log"), "utf8").trim().split("\n")).toHaveLength(1);
    expect(fs.existsSync(path.join(file, "planted"))).toBe(false);
    expect(verifyIntegrity(pinnedPrefix("copilot", dir), { label: "copilot", full: true }).ok).toBe(
      true,
    );
    expect(fs.statSync(pinnedPrefix("copilot", dir)).mode & 0o777).toBe(0o555);
  });
});

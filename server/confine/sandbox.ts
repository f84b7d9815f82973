import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { currentEnv, inherited } from "@/server/env.mjs";
import { sandboxUser } from "./identity";

export type Sandbox =
  | { kind: "bwrap"; bwrap: string; probe: string }
  /** `allowed`: the operator chose to run without (HYPERION_CONFINE=none). */
  | { kind: "none"; reason: string; allowed: boolean };

// The system's program and library folders; on a merged /usr the top-level ones are symlinks.
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

// The few files of /etc that programs, their dynamic linker and TLS truly read. Everything
// else in /etc — shadow, ssh keys, sudoers, the machine's own config — is not there at all.
const ETC_FILES = [
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/nsswitch.conf",
  "/etc/host.conf",
  "/etc/gai.conf",
  "/etc/alternatives",
  "/etc/ssl/certs",
  "/etc/ssl/openssl.cnf",
  "/etc/ca-certificates",
  "/etc/ca-certificates.conf",
  "/etc/localtime",
  "/etc/timezone",
  "/etc/services",
  "/etc/protocols",
  "/etc/mime.types",
  "/etc/os-release",
  "/etc/debian_version",
];

const inside = (child: string, parent: string) => {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

/** Folders a child must never see even where they fall inside what it sees. */
export function secretDirs(): string[] {
  const dirs = new Set<string>();
  const add = (p: string | undefined) => {
    if (!p) return;
    dirs.add(path.resolve(p));
    try {
      dirs.add(fs.realpathSync(p));
    } catch {
      // Not there: nothing to hide beyond the path itself.
    }
  };
  // The environment was checked at start; should it have turned bad since, the run is refused
  // (the callers turn the error into a failed run) rather than hiding a guess.
  const env = currentEnv();
  add(env.dataDir);
  add(path.dirname(env.configPath));
  if (env.HYPERION_INBOX) add(env.HYPERION_INBOX);
  add(os.homedir());
  add(env.rootDir);
  return [...dirs].filter((d) => d !== "/");
}

/**
 * The program folders to show read-only: the system's, Node's own installation, and the rest
 * of PATH — except what lies in a secret folder (a home, Hyperion's checkout or data).
 */
function visibleDirs(secrets: string[]): string[] {
  const nodePrefix = path.dirname(path.dirname(fs.realpathSync(process.execPath)));
  const fromPath = (inherited("PATH") ?? "")
    .split(":")
    .filter((d) => path.isAbsolute(d) && !secrets.some((s) => inside(d, s) || inside(s, d)));
  const out: string[] = [];
  const add = (dir: string) => {
    if (!fs.existsSync(dir) || out.some((o) => inside(dir, o))) return;
    if (fs.lstatSync(dir).isSymbolicLink() && SYSTEM_DIRS.includes(dir)) return;
    for (let i = out.length - 1; i >= 0; i--) if (inside(out[i] as string, dir)) out.splice(i, 1);
    out.push(dir);
  };
  for (const dir of [...SYSTEM_DIRS, nodePrefix, ...fromPath]) add(dir);
  return out;
}

/** The files a run reads in place of the host's passwd, group and hosts. */
export function writeSystemFiles(sysDir: string, home: string): void {
  const u = sandboxUser();
  fs.mkdirSync(sysDir, { recursive: true, mode: 0o755 });
  const write = (name: string, text: string) =>
    fs.writeFileSync(path.join(sysDir, name), text, { mode: 0o444 });
  write(
    "passwd",
    [
      "root:x:0:0:root:/nonexistent:/usr/sbin/nologin",
      `hyperion:x:${u.uid}:${u.gid}:Hyperion sandbox:${home}:/bin/sh`,
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
      "",
    ].join("\n"),
  );
  write("group", ["root:x:0:", `hyperion:x:${u.gid}:`, "nogroup:x:65534:", ""].join("\n"));
  write("hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n");
}

/** bubblewrap's arguments for a run whose only writable folder is `runDir`. */
export function bwrapArgs(opts: {
  runDir: string;
  /** Root-owned folder with the run's passwd, group, hosts (and its egress sockets). */
  sysDir: string;
  cwd: string;
  env: Record<string, string>;
  /** The host's network (checks that ask for it), or a network namespace of its own. */
  network: boolean;
  /** More folders to show read-only (an agent CLI's installation, objects to borrow). */
  readOnly?: string[];
  tmpBytes: number;
}): string[] {
  const secrets = secretDirs();
  const visible = visibleDirs(secrets);
  const args = [
    "--die-with-parent",
    "--new-session",
    "--unshare-all",
    "--unshare-user",
    // No nested user namespace: no way to become root of one and unshare the rest.
    "--disable-userns",
    "--cap-drop",
    "ALL",
    "--hostname",
    "hyperion-sandbox",
    ...(opts.network ? ["--share-net"] : []),
  ];
  for (const dir of SYSTEM_DIRS) {
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) args.push("--symlink", fs.readlinkSync(dir), dir);
  }
  for (const dir of visible) args.push("--ro-bind", dir, dir);
  // turbopackIgnore: a host path (not a project file); without it Next traces the whole project.
  for (const file of ETC_FILES)
    if (fs.existsSync(/* turbopackIgnore: true */ file)) args.push("--ro-bind", file, file);
  if (opts.network && fs.existsSync("/etc/resolv.conf"))
    args.push("--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf");
  for (const name of ["passwd", "group", "hosts"])
    args.push(
      "--ro-bind",
      path.join(/* turbopackIgnore: true */ opts.sysDir, name),
      `/etc/${name}`,
    );
  args.push("--dev", "/dev", "--proc", "/proc", "--size", String(opts.tmpBytes), "--tmpfs", "/tmp");
  // Named by the caller, after /tmp: an agent CLI installed in a temp folder, say.
  const withinRun = (opts.readOnly ?? []).filter((d) => inside(d, opts.runDir));
  for (const dir of opts.readOnly ?? [])
    if (!withinRun.includes(dir)) args.push("--ro-bind", dir, dir);
  args.push("--ro-bind", opts.sysDir, opts.sysDir);
  args.push("--bind", opts.runDir, opts.runDir);
  // A read-only folder inside the run folder (the Engineer's workspace) must come after it.
  for (const dir of withinRun) args.push("--ro-bind", dir, dir);
  // The sandbox's own root (where /etc's few files hang) is read-only too: only the run folder,
  // /tmp and /dev take writes.
  args.push("--remount-ro", "/");
  args.push("--chdir", opts.cwd, "--clearenv");
  for (const [k, v] of Object.entries(opts.env)) args.push("--setenv", k, v);
  return args;
}

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { execa, type ResultPromise } from "execa";
import { dotGitLookalike, quotePath } from "@/schemas/paths";
import { program } from "@/server/confine/programs";
import { FIXED_ENV, git } from "./run";

export type ObjectType = "blob" | "tree" | "commit" | "tag";
export type TreeEntry = { mode: string; name: string; oid: string };

export class MissingObjectError extends Error {
  override name = "MissingObjectError";
}

/** A tree entry git would not accept; the writer refuses it whatever let it through. */
export class InvalidTreeEntryError extends Error {
  override name = "InvalidTreeEntryError";
}

const TREE_MODES = new Set(["100644", "100755", "120000", "160000", "40000"]);

/**
 * The mode git writes today for one it wrote long ago: 100664 (group-writable files, before
 * git 0.99) and a zero-padded 040000. Anything else stays as it is, to be refused.
 */
export function canonicalMode(mode: string): string {
  if (mode === "040000") return "40000";
  if (mode === "100664") return "100644";
  return mode;
}

/**
 * Why git would refuse this entry in a tree (`git fsck --strict`: emptyName, hasDot,
 * hasDotdot, hasDotgit, fullPathname, badFilemode, nullSha1), or undefined.
 */
function treeEntryProblem(e: TreeEntry): string | undefined {
  const name = quotePath(e.name);
  if (!TREE_MODES.has(e.mode)) return `entry ${name} has mode '${e.mode}'`;
  if (!/^[0-9a-f]{40}$/.test(e.oid) || e.oid === ZERO_OID)
    return `entry ${name} has object id '${e.oid}'`;
  if (e.name === "") return "an entry has an empty name";
  if (e.name === "." || e.name === "..") return `entry ${name} is a relative directory name`;
  if (e.name.includes("/") || e.name.includes("\0")) return `entry ${name} contains '/' or NUL`;
  if (e.name.toLowerCase() === ".git" || dotGitLookalike(e.name))
    return `entry ${name} is or looks like .git`;
  return undefined;
}

/**
 * Reads objects through one long-running `git cat-file --batch` and writes loose objects
 * in-process. Writing a blob, the trees along a changed path and a commit this way costs the
 * size of the change, not the size of the repository — no index to read or write.
 */
export class ObjectStore {
  private proc: ResultPromise | undefined;
  private buffer = Buffer.alloc(0);
  private waiting: {
    resolve: (v: { type: ObjectType; content: Buffer } | null) => void;
    reject: (e: Error) => void;
  }[] = [];
  private cache = new Map<string, { type: ObjectType; content: Buffer }>();
  /** Temp files created ahead of need (see reserve): their creation is the slow part. */
  private spare: { fd: number; file: string }[] = [];
  private knownDirs = new Set<string>();

  private constructor(
    readonly repoPath: string,
    readonly gitDir: string,
    /** The working tree of a non-bare repository, null for a bare one. */
    readonly worktree: string | null,
  ) {}

  static async open(repoPath: string): Promise<ObjectStore> {
    const [gitDir = "", bare = ""] = (
      await git(["rev-parse", "--absolute-git-dir", "--is-bare-repository"], { cwd: repoPath })
    )
      .trim()
      .split("\n");
    const worktree =
      bare.trim() === "true"
        ? null
        : (await git(["rev-parse", "--show-toplevel"], { cwd: repoPath })).trim();
    return new ObjectStore(repoPath, gitDir.trim(), worktree);
  }

  private start(): ResultPromise {
    if (this.proc) return this.proc;
    const proc = execa(program("git"), ["--git-dir", this.gitDir, "cat-file", "--batch"], {
      env: FIXED_ENV,
      buffer: false,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "ignore",
      reject: false,
      encoding: "buffer",
    });
    proc.stdout?.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    void proc.then(() => {
      const err = new Error("git cat-file exited");
      for (const w of this.waiting.splice(0)) w.reject(err);
      this.proc = undefined;
    });
    this.proc = proc;
    return proc;
  }

  private drain(): void {
    while (this.waiting.length > 0) {
      const nl = this.buffer.indexOf(10);
      if (nl < 0) return;
      const header = this.buffer.subarray(0, nl).toString();
      const parts = header.split(" ");
      if (parts[1] === "missing" || parts.length < 3) {
        this.buffer = this.buffer.subarray(nl + 1);
        this.waiting.shift()?.resolve(null);
        continue;
      }
      const size = Number(parts[2]);
      if (this.buffer.length < nl + 1 + size + 1) return;
      const content = Buffer.from(this.buffer.subarray(nl + 1, nl + 1 + size));
      this.buffer = this.buffer.subarray(nl + 1 + size + 1);
      this.waiting.shift()?.resolve({ type: parts[1] as ObjectType, content });
    }
  }

  /** A loose object read straight from disk: what other threads just wrote is usually loose. */
  private readLoose(oid: string): { type: ObjectType; content: Buffer } | null {
    let raw: Buffer;
    try {
      raw = fs.readFileSync(path.join(this.gitDir, "objects", oid.slice(0, 2), oid.slice(2)));
    } catch {
      return null;
    }
    const full = zlib.inflateSync(raw);
    const nul = full.indexOf(0);
    const [type] = full.subarray(0, nul).toString().split(" ");
    return { type: type as ObjectType, content: Buffer.from(full.subarray(nul + 1)) };
  }

  async tryRead(oid: string): Promise<{ type: ObjectType; content: Buffer } | null> {
    const hit = this.cache.get(oid);
    if (hit) return hit;
    const loose = /^[0-9a-f]{40}$/.test(oid) ? this.readLoose(oid) : null;
    if (loose) {
      if (loose.type !== "blob" && this.cache.size < 50_000) this.cache.set(oid, loose);
      return loose;
    }
    const proc = this.start();
    const result = await new Promise<{ type: ObjectType; content: Buffer } | null>(
      (resolve, reject) => {
        this.waiting.push({ resolve, reject });
        proc.stdin?.write(`${oid}\n`);
      },
    );
    // Trees and commits are small and read again and again along hot paths.
    if (result && result.type !== "blob" && this.cache.size < 50_000) this.cache.set(oid, result);
    return result;
  }

  async read(oid: string, type?: ObjectType): Promise<Buffer> {
    const obj = await this.tryRead(oid);
    if (!obj) throw new MissingObjectError(`object ${oid} is not in ${this.repoPath}`);
    if (type && obj.type !== type)
      throw new MissingObjectError(`object ${oid} is a ${obj.type}, not a ${type}`);
    return obj.content;
  }

  async exists(oid: string): Promise<boolean> {
    return (await this.tryRead(oid)) !== null;
  }

  write(type: ObjectType, content: Buffer): string {
    const header = Buffer.from(`${type} ${content.length}\0`);
    const full = Buffer.concat([header, content]);
    const oid = createHash("sha1").update(full).digest("hex");
    const dir = path.join(this.gitDir, "objects", oid.slice(0, 2));
    const file = path.join(dir, oid.slice(2));
    if (!fs.existsSync(file)) {
      if (!this.knownDirs.has(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        this.knownDirs.add(dir);
      }
      const tmp = this.spare.pop() ?? this.createTemp();
      fs.writeSync(tmp.fd, zlib.deflateSync(full, { level: 1 }));
      fs.closeSync(tmp.fd);
      // Another thread may write the same object at the same time: same bytes, either wins.
      fs.renameSync(tmp.file, file);
    }
    if (type !== "blob") this.cache.set(oid, { type, content });
    return oid;
  }

  private createTemp(): { fd: number; file: string } {
    const file = path.join(
      this.gitDir,
      "objects",
      `tmp_obj_${process.pid}_${Math.random().toString(36).slice(2)}`,
    );
    return { fd: fs.openSync(file, "wx", 0o444), file };
  }

  /**
   * Creates temp files for `n` objects now, so that writing them later (inside the landing
   * lock) is a write and a rename. Creating a file is the costly step on many disks.
   */
  reserve(n: number): void {
    while (this.spare.length < n) this.spare.push(this.createTemp());
  }

  async readTree(oid: string): Promise<TreeEntry[]> {
    const content = await this.read(oid, "tree");
    const entries: TreeEntry[] = [];
    let i = 0;
    while (i < content.length) {
      const space = content.indexOf(32, i);
      const nul = content.indexOf(0, space);
      entries.push({
        mode: content.subarray(i, space).toString(),
        name: content.subarray(space + 1, nul).toString(),
        oid: content.subarray(nul + 1, nul + 21).toString("hex"),
      });
      i = nul + 21;
    }
    return entries;
  }

  /** Writes a tree in git's order, refusing any entry git would refuse. */
  writeTree(entries: TreeEntry[]): string {
    const sorted = entries
      .map((e) => ({ ...e, mode: canonicalMode(e.mode) }))
      .sort((a, b) => compareTreeNames(a, b));
    const names = new Set<string>();
    for (const e of sorted) {
      const problem = treeEntryProblem(e);
      if (problem) throw new InvalidTreeEntryError(`refusing to write a tree: ${problem}`);
      if (names.has(e.name))
        throw new InvalidTreeEntryError(
          `refusing to write a tree: two entries named ${quotePath(e.name)}`,
        );
      names.add(e.name);
    }
    const parts = sorted.map((e) =>
      Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, "hex")]),
    );
    return this.write("tree", Buffer.concat(parts));
  }

  async commitTree(oid: string): Promise<string> {
    const text = (await this.read(oid, "commit")).toString();
    const match = /^tree ([0-9a-f]{40})$/m.exec(text);
    if (!match?.[1]) throw new MissingObjectError(`commit ${oid} has no tree`);
    return match[1];
  }

  async commitParent(oid: string): Promise<string | null> {
    const text = (await this.read(oid, "commit")).toString();
    return /^parent ([0-9a-f]{40})$/m.exec(text)?.[1] ?? null;
  }

  close(): void {
    for (const t of this.spare.splice(0)) {
      fs.closeSync(t.fd);
      fs.rmSync(t.file, { force: true });
    }
    this.proc?.stdin?.end();
    this.proc = undefined;
  }
}

/** Git orders tree entries by name, comparing a directory as if its name ended in '/'. */
function compareTreeNames(a: TreeEntry, b: TreeEntry): number {
  const ka = Buffer.from(a.mode === "40000" ? `${a.name}/` : a.name);
  const kb = Buffer.from(b.mode === "40000" ? `${b.name}/` : b.name);
  return Buffer.compare(ka, kb);
}

export function blobOid(content: Buffer): string {
  return createHash("sha1")
    .update(Buffer.concat([Buffer.from(`blob ${content.length}\0`), content]))
    .digest("hex");
}

export const ZERO_OID = "0".repeat(40);

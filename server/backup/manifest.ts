import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";

// A backup's manifest.json: what it holds and each file's size and sha256. It is written last,
// so a folder without one is a backup that did not finish; `hyperion restore` checks every
// file against it before it writes anything.

export const MANIFEST = "manifest.json";

export const BackupManifest = z.strictObject({
  format: z.literal("hyperion-backup"),
  formatVersion: z.literal(1),
  /** The Hyperion version that made it (package.json). */
  version: z.string(),
  createdAt: z.string(),
  engine: z.enum(["sqlite", "postgres"]),
  /** The SQLite copy's file name, or null (PostgreSQL: pg_dump backs the database up). */
  database: z.string().nullable(),
  /** The migrations the copied database is at (drizzle's time stamps, and their tags). */
  migrations: z.array(z.strictObject({ when: z.number(), tag: z.string().nullable() })),
  config: z.string(),
  /** The session key file (auth-secret), when the data folder had one. */
  authSecret: z.string().nullable(),
  repositories: z.array(
    z.strictObject({
      name: z.string(),
      /** Where it goes: relative to the config's folder when it was inside it, else absolute. */
      path: z.string(),
      bare: z.boolean(),
      head: z.string().nullable(),
      /** The bundle, or null for a repository that had no refs yet. */
      bundle: z.string().nullable(),
    }),
  ),
  files: z.array(
    z.strictObject({ path: z.string(), bytes: z.number().int().min(0), sha256: z.string() }),
  ),
});
export type BackupManifest = z.infer<typeof BackupManifest>;
export type ManifestFile = BackupManifest["files"][number];

/** A file's size and sha256, streamed (a database or a bundle may be large). */
export async function describeFile(root: string, rel: string): Promise<ManifestFile> {
  const file = path.join(root, rel);
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { path: rel, bytes, sha256: hash.digest("hex") };
}

/** Writes `text` to `file` durably: a temp file, fsync, rename, then the folder fsynced. */
export function writeDurably(file: string, text: string | Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    fs.writeSync(fd, typeof text === "string" ? Buffer.from(text) : text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncFolder(path.dirname(file));
}

export function syncFolder(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A file's bytes fsynced (what was copied or written by another program). */
export function syncFile(file: string): void {
  const fd = fs.openSync(file, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Copies `from` to `to` durably: a temp file beside it, fsynced, renamed, the folder fsynced. */
export function copyDurably(from: string, to: string, mode = 0o600): void {
  const tmp = path.join(path.dirname(to), `.${path.basename(to)}.tmp`);
  fs.copyFileSync(from, tmp);
  fs.chmodSync(tmp, mode);
  syncFile(tmp);
  fs.renameSync(tmp, to);
  syncFolder(path.dirname(to));
}

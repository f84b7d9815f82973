import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { restoreBundle, verifyBundle } from "@/server/git/bundle";
import { GitError } from "@/server/git/run";
import { BackupError } from "./backup";
import {
  BackupManifest,
  copyDurably,
  describeFile,
  MANIFEST,
  syncFile,
  syncFolder,
} from "./manifest";

// `hyperion restore <dir>`: a backup made by `hyperion backup`, into an empty data folder.
// Everything is checked before anything is written: the manifest, each file's size and sha256,
// each bundle, and that no target (the data folder, the config, a repository's folder) holds
// anything already.

export type RestoreTarget = {
  dataDir: string;
  configPath: string;
  /** HYPERION_DATABASE_URL is set: the database is not the data folder's file. */
  postgres: boolean;
  /** The migrations this build knows (drizzle's time stamps). */
  knownMigrations: number[];
};

const isEmptyOrAbsent = (p: string) => {
  const stat = fs.statSync(p, { throwIfNoEntry: false });
  return !stat || (stat.isDirectory() && fs.readdirSync(p).length === 0);
};

/** Reads the manifest and checks every file against it; throws a BackupError naming the file. */
export async function checkBackup(dir: string): Promise<BackupManifest> {
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new BackupError(
      `${dir} is not a folder: name a backup folder \`hyperion backup\` made`,
      2,
    );
  const file = path.join(dir, MANIFEST);
  if (!fs.existsSync(file))
    throw new BackupError(
      `${file} is missing: the backup did not finish (the manifest is written last); use another backup`,
      2,
    );
  let manifest: BackupManifest;
  try {
    manifest = BackupManifest.parse(JSON.parse(fs.readFileSync(file, "utf8")));
  } catch (err) {
    throw new BackupError(`${file} is not a backup manifest: ${(err as Error).message}`, 2);
  }
  for (const f of manifest.files) {
    const rel = path.normalize(f.path);
    if (path.isAbsolute(rel) || rel.startsWith(".."))
      throw new BackupError(`${file}: file ${f.path} is outside the backup folder`, 2);
    const full = path.join(dir, rel);
    if (!fs.statSync(full, { throwIfNoEntry: false })?.isFile())
      throw new BackupError(`${full} is missing: the backup is incomplete`, 2);
    const seen = await describeFile(dir, rel);
    if (seen.bytes !== f.bytes)
      throw new BackupError(
        `${full} is ${seen.bytes} bytes, the manifest says ${f.bytes}: the backup is truncated or damaged`,
        2,
      );
    if (seen.sha256 !== f.sha256)
      throw new BackupError(
        `${full} does not match its sha256 in the manifest: the file was altered or damaged`,
        2,
      );
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  const named = [
    manifest.database,
    manifest.config,
    manifest.authSecret,
    ...manifest.repositories.map((r) => r.bundle),
  ].filter((n): n is string => n !== null);
  for (const n of named)
    if (!listed.has(n)) throw new BackupError(`${file} names ${n} but has no checksum for it`, 2);
  return manifest;
}

/** Restores the backup in `dir` into `target`; `say` hears each step. */
export async function restoreBackup(
  dir: string,
  target: RestoreTarget,
  say: (line: string) => void,
): Promise<BackupManifest> {
  const manifest = await checkBackup(dir);
  say(`checked ${manifest.files.length} files against ${path.join(dir, MANIFEST)}`);
  const newer = manifest.migrations.filter((m) => !target.knownMigrations.includes(m.when));
  if (manifest.database && newer.length)
    throw new BackupError(
      `the backup's database was migrated by a newer Hyperion (${newer.map((m) => m.tag ?? m.when).join(", ")}): restore it with Hyperion ${manifest.version} or later`,
      2,
    );
  if (manifest.database && target.postgres)
    throw new BackupError(
      "HYPERION_DATABASE_URL is set, but this backup's database is an SQLite file: restore without it, then `hyperion migrate-to-postgres` (docs/storage.md)",
      2,
    );
  if (!isEmptyOrAbsent(target.dataDir))
    throw new BackupError(
      `the data folder ${target.dataDir} is not empty: restore into an empty folder (set HYPERION_DATA), nothing was written`,
      2,
    );
  if (fs.existsSync(target.configPath))
    throw new BackupError(
      `the config file ${target.configPath} exists already: restore where there is none (HYPERION_CONFIG), nothing was written`,
      2,
    );
  const configDir = path.dirname(target.configPath);
  const repoDirs = manifest.repositories.map((r) => ({
    ...r,
    dir: path.isAbsolute(r.path) ? r.path : path.resolve(configDir, r.path),
  }));
  for (const r of repoDirs)
    if (!isEmptyOrAbsent(r.dir))
      throw new BackupError(
        `repository ${r.name}'s folder ${r.dir} is not empty: move it away first, nothing was written`,
        2,
      );
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-restore-"));
  try {
    for (const r of repoDirs) {
      if (!r.bundle) continue;
      try {
        await verifyBundle(path.join(dir, r.bundle), path.join(scratch, r.name));
      } catch (err) {
        if (!(err instanceof GitError)) throw err;
        throw new BackupError(
          `${path.join(dir, r.bundle)} is not a whole git bundle: ${err.stderr.trim()}`,
          2,
        );
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }

  // Checked: now written.
  fs.mkdirSync(target.dataDir, { recursive: true });
  if (manifest.database) {
    copyDurably(path.join(dir, manifest.database), path.join(target.dataDir, "hyperion.db"));
    say(`database: ${path.join(target.dataDir, "hyperion.db")}`);
  } else
    say(
      "database: not in this backup (PostgreSQL): restore it with pg_restore (docs/storage.md#postgresql)",
    );
  fs.mkdirSync(configDir, { recursive: true });
  copyDurably(path.join(dir, manifest.config), target.configPath, 0o644);
  say(`config: ${target.configPath}`);
  if (manifest.authSecret) {
    copyDurably(path.join(dir, manifest.authSecret), path.join(target.dataDir, "auth-secret"));
    say("session key: auth-secret");
  }
  for (const r of repoDirs) {
    await restoreBundle(r.bundle ? path.join(dir, r.bundle) : null, r.dir, r);
    syncFile(path.join(r.dir, r.bare ? "HEAD" : ".git/HEAD"));
    say(`repository ${r.name}: ${r.dir}${r.bundle ? "" : " (empty)"}`);
  }
  syncFolder(target.dataDir);
  return manifest;
}

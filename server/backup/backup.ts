import fs from "node:fs";
import path from "node:path";
import type { LoadedConfig } from "@/server/config/load";
import type { RootDb } from "@/server/db/client";
import { snapshotDatabase } from "@/server/db/snapshot";
import { journal } from "@/server/db/version";
import { createBundle, repoShape } from "@/server/git/bundle";
import {
  type BackupManifest,
  describeFile,
  MANIFEST,
  type ManifestFile,
  syncFile,
  syncFolder,
  writeDurably,
} from "./manifest";

// `hyperion backup <dir>`: an online, consistent copy of an install while it runs. The
// database first (one read transaction, server/db/snapshot.ts), then each repository's refs
// and objects (git bundle): a repository only gains commits, so every commit the copied
// database says landed is in the bundles. The config and the session key file, then the
// manifest, written last.

export class BackupError extends Error {
  override name = "BackupError";
  constructor(
    message: string,
    /** 2: the folder or the input was refused, nothing written. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export type BackupSource = {
  db: RootDb;
  config: LoadedConfig;
  configPath: string;
  dataDir: string;
  version: string;
};

/** Refuses a folder that is not a folder, not empty or not writable; makes one that is absent. */
export function prepareBackupFolder(dir: string): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir, { throwIfNoEntry: false });
  } catch (err) {
    throw new BackupError(
      `${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): name a folder this user can write`,
      2,
    );
  }
  if (stat && !stat.isDirectory())
    throw new BackupError(`${dir} is not a folder: name an empty folder for the backup`, 2);
  if (stat && fs.readdirSync(dir).length > 0)
    throw new BackupError(
      `${dir} is not empty: name an empty (or new) folder, so no earlier backup is mixed in`,
      2,
    );
  try {
    if (!stat) fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    throw new BackupError(
      `${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): name a folder this user can write`,
      2,
    );
  }
}

/** Makes the backup in `dir` (checked by prepareBackupFolder); `say` hears each step. */
export async function makeBackup(
  src: BackupSource,
  dir: string,
  say: (line: string) => void,
): Promise<BackupManifest> {
  const files: ManifestFile[] = [];
  const add = async (rel: string) => {
    syncFile(path.join(dir, rel));
    const f = await describeFile(dir, rel);
    files.push(f);
    return f;
  };
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MB`;

  let database: string | null = null;
  let migrations: BackupManifest["migrations"] = [];
  if (src.db.$dialect === "sqlite") {
    database = "hyperion.db";
    say("database: copying (VACUUM INTO, while Hyperion runs) …");
    const snap = await snapshotDatabase(src.db, path.join(dir, database));
    const tags = new Map(journal(src.db).map((m) => [m.when, m.tag]));
    migrations = snap.migrations.map((when) => ({ when, tag: tags.get(when) ?? null }));
    const f = await add(database);
    say(`database: ${mb(f.bytes)}, ${migrations.length} migrations`);
  } else {
    say(
      "database: on PostgreSQL, not in this backup: back it up with pg_dump (docs/storage.md#postgresql)",
    );
  }

  fs.mkdirSync(path.join(dir, "repos"));
  const repositories: BackupManifest["repositories"] = [];
  const base = path.dirname(src.configPath);
  for (const repo of src.config.repositories) {
    const rel = path.relative(base, repo.path);
    const where = rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : repo.path;
    // A remote's mirror the worker has not made yet: restored empty, fetched at its start.
    const shape =
      repo.remote && !fs.existsSync(repo.path)
        ? { bare: true, head: `refs/heads/${repo.targetBranch}`, refs: 0 }
        : await repoShape(repo.path).catch((err: Error) => {
            throw new BackupError(`repository ${repo.name} (${repo.path}): ${err.message}`);
          });
    let bundle: string | null = null;
    if (shape.refs > 0) {
      bundle = `repos/${repo.name}.bundle`;
      await createBundle(repo.path, path.join(dir, bundle));
      const f = await add(bundle);
      say(`repository ${repo.name}: ${shape.refs} refs, ${mb(f.bytes)}`);
    } else say(`repository ${repo.name}: no refs yet, recorded empty`);
    repositories.push({ name: repo.name, path: where, bare: shape.bare, head: shape.head, bundle });
  }

  const config = "hyperion.config.json";
  fs.copyFileSync(src.configPath, path.join(dir, config));
  await add(config);
  say(`config: ${src.configPath}`);
  let authSecret: string | null = null;
  if (fs.existsSync(path.join(src.dataDir, "auth-secret"))) {
    authSecret = "auth-secret";
    fs.copyFileSync(path.join(src.dataDir, authSecret), path.join(dir, authSecret));
    fs.chmodSync(path.join(dir, authSecret), 0o600);
    await add(authSecret);
    say("session key: auth-secret");
  }
  syncFolder(path.join(dir, "repos"));
  syncFolder(dir);

  const manifest: BackupManifest = {
    format: "hyperion-backup",
    formatVersion: 1,
    version: src.version,
    createdAt: new Date().toISOString(),
    engine: src.db.$dialect,
    database,
    migrations,
    config,
    authSecret,
    repositories,
    files,
  };
  writeDurably(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  say(`manifest: ${files.length} files checked by sha256`);
  return manifest;
}

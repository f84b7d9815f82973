import type { ObjectStore, TreeEntry } from "./objects";

export type PathChange = { mode: string; oid: string } | null;

/**
 * Writes a new tree from `rootTree` with the given paths set (or removed, for null), reading and
 * writing only the trees along those paths. Directories left empty disappear, as in git.
 */
export async function editTree(
  store: ObjectStore,
  rootTree: string | null,
  changes: Map<string, PathChange>,
): Promise<string | null> {
  const entries: TreeEntry[] = rootTree ? await store.readTree(rootTree) : [];
  const byName = new Map(entries.map((e) => [e.name, e]));
  const nested = new Map<string, Map<string, PathChange>>();
  for (const [path, change] of changes) {
    const slash = path.indexOf("/");
    if (slash < 0) {
      if (change) byName.set(path, { name: path, mode: change.mode, oid: change.oid });
      else byName.delete(path);
    } else {
      const dir = path.slice(0, slash);
      const sub = nested.get(dir) ?? new Map<string, PathChange>();
      nested.set(dir, sub);
      sub.set(path.slice(slash + 1), change);
    }
  }
  for (const [dir, sub] of nested) {
    const existing = byName.get(dir);
    const base = existing?.mode === "40000" ? existing.oid : null;
    // A file where a directory must go (or the reverse) is replaced, as a checkout would.
    const oid = await editTree(store, base, sub);
    if (oid) byName.set(dir, { name: dir, mode: "40000", oid });
    else byName.delete(dir);
  }
  if (byName.size === 0) return null;
  return store.writeTree([...byName.values()]);
}

/** The entry at a path in a tree, or null (also when a parent is not a directory). */
export async function entryAt(
  store: ObjectStore,
  tree: string,
  path: string,
): Promise<TreeEntry | null> {
  const parts = path.split("/");
  let current = tree;
  for (let i = 0; i < parts.length; i++) {
    const entry = (await store.readTree(current)).find((e) => e.name === parts[i]);
    if (!entry) return null;
    if (i === parts.length - 1) return entry;
    if (entry.mode !== "40000") return null;
    current = entry.oid;
  }
  return null;
}

/** The first parent directory of `path` that is a symlink in the tree, if any. */
export async function symlinkParent(
  store: ObjectStore,
  tree: string,
  path: string,
): Promise<string | null> {
  const parts = path.split("/").slice(0, -1);
  let current = tree;
  for (let i = 0; i < parts.length; i++) {
    const entry = (await store.readTree(current)).find((e) => e.name === parts[i]);
    if (!entry) return null;
    if (entry.mode === "120000") return parts.slice(0, i + 1).join("/");
    if (entry.mode !== "40000") return null;
    current = entry.oid;
  }
  return null;
}

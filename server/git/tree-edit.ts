import { InvalidTreeEntryError, type ObjectStore, type TreeEntry } from "./objects";

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
    // A file this change removes may give way to a directory; any other is refused before
    // here (apply.ts), and refused again here rather than silently replaced.
    if (existing && existing.mode !== "40000")
      throw new InvalidTreeEntryError(`refusing to write below '${dir}', which is not a directory`);
    const base = existing ? existing.oid : null;
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

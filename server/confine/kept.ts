import fs from "node:fs";
import path from "node:path";

/**
 * Makes a run folder safe to keep: no file in it keeps a setuid or setgid bit (whoever made
 * it), and says how much disk it holds (allocated blocks, so a sparse file counts what it uses),
 * for the kept workspaces' disk budget. Symlinks are not followed.
 */
export function sanitizeKept(root: string): { bytes: number; cleared: number } {
  let bytes = 0;
  let cleared = 0;
  const todo = [root];
  while (todo.length) {
    const dir = todo.pop() as string;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      bytes += st.blocks * 512;
      if (st.isDirectory()) todo.push(p);
      if ((st.isFile() || st.isDirectory()) && st.mode & 0o6000) {
        fs.chmodSync(p, st.mode & 0o1777);
        cleared++;
      }
    }
  }
  return { bytes, cleared };
}

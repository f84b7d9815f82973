import fs from "node:fs";
import path from "node:path";
import { kindOf } from "@/server/config/regular-file";

const NAME_MAX_BYTES = 255;

/**
 * Moves an inbox entry into `processed/` or `rejected/` as it is: a rename, so a symbolic link
 * moves without its target being touched, and a FIFO without being opened. A name already
 * taken there gets a time prefix. Returns the new path.
 */
export function placeAside(inbox: string, folder: "processed" | "rejected", file: string): string {
  const dir = ownFolder(inbox, folder);
  const name = path.basename(file);
  let target = path.join(dir, name);
  for (let n = 0; fs.lstatSync(target, { throwIfNoEntry: false }); n++) {
    target = path.join(dir, fitName(`${Date.now()}${n ? `-${n}` : ""}-${name}`, ""));
  }
  fs.renameSync(file, target);
  return target;
}

/**
 * Writes `<entry>.error.txt` beside an entry moved to rejected/. Created exclusively, so a file
 * or link someone left under that name is never written through; another name is taken instead.
 */
export function writeErrorFile(entry: string, text: string): string {
  const dir = path.dirname(entry);
  const base = path.basename(entry);
  for (let n = 0; ; n++) {
    const file = path.join(dir, fitName(n ? `${base}-${n}` : base, ".error.txt"));
    try {
      fs.writeFileSync(file, `${text}\n`, { flag: "wx", mode: 0o644 });
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || n >= 100) throw err;
    }
  }
}

/** The inbox's own subfolder; one that is a link or a file would carry entries elsewhere. */
function ownFolder(inbox: string, folder: string): string {
  const dir = path.join(inbox, folder);
  let stat = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (!stat) {
    fs.mkdirSync(dir, { recursive: true });
    stat = fs.lstatSync(dir);
  }
  if (!stat.isDirectory())
    throw new Error(`${folder}/ in the inbox is ${kindOf(stat)}, not a folder; move it away`);
  return dir;
}

/** `name + suffix`, shortened at the end of `name` to a length every file system takes. */
function fitName(name: string, suffix: string): string {
  const chars = Array.from(name);
  while (chars.length > 1 && Buffer.byteLength(chars.join("") + suffix) > NAME_MAX_BYTES)
    chars.pop();
  return chars.join("") + suffix;
}

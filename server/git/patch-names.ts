import { quotePath } from "@/schemas/paths";
import { type FilePatch, PatchParseError } from "./patch-format";
import type { Problems } from "./patch-problems";

// The names a patch gives its files: git's quoting undone, the `diff --git` header's two names,
// the `---`/`+++` lines' names, and every one of them settled into a file's old and new path.

/**
 * Undoes git's C-style quoting of unusual path names (`"a/caf\303\251"`). Null when the text
 * is not a well-formed quoted name or its bytes are not UTF-8 (a tree entry would not match).
 */
export function unquote(raw: string): string | null {
  if (!raw.startsWith('"')) return raw;
  if (raw.length < 2 || !raw.endsWith('"')) return null;
  const bytes: number[] = [];
  const body = raw.slice(1, -1);
  const escapes: Record<string, number> = {
    n: 10,
    t: 9,
    '"': 34,
    "\\": 92,
    a: 7,
    b: 8,
    f: 12,
    r: 13,
    v: 11,
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '"') return null;
    if (c !== "\\") {
      bytes.push(...Buffer.from(c));
      continue;
    }
    const n = body[++i] ?? "";
    const octal = /^[0-3][0-7]{2}/.exec(body.slice(i, i + 3));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 2;
    } else if (escapes[n] !== undefined) bytes.push(escapes[n]);
    else return null;
  }
  const buf = Buffer.from(bytes);
  const text = buf.toString("utf8");
  return Buffer.from(text, "utf8").equals(buf) ? text : null;
}

/** Splits a quoted name off the front of `text`: [name, rest], or null. */
function takeQuoted(text: string): [string, string] | null {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return [text.slice(0, i + 1), text.slice(i + 1)];
  }
  return null;
}

export const show = (line: string) => quotePath(line.length > 80 ? `${line.slice(0, 80)}…` : line);

/** A name with its `a/` or `b/` prefix, as `git diff` writes it, without the prefix. */
function stripPrefix(raw: string, prefix: "a/" | "b/"): string {
  const name = unquote(raw);
  if (name === null) throw new PatchParseError(`malformed quoted file name ${show(raw)}`);
  if (!name.startsWith(prefix))
    throw new PatchParseError(`file name ${quotePath(name)} does not start with '${prefix}'`);
  return name.slice(prefix.length);
}

/**
 * The two names on a `diff --git` line. Unquoted names are only certain when both are the
 * same (git's own rule, `git_header_name`); a rename's names then come from its
 * `rename from`/`rename to` lines.
 */
export function headerNames(names: string): { old: string; new: string } | null {
  if (names.startsWith('"')) {
    const first = takeQuoted(names);
    if (!first?.[1].startsWith(" "))
      throw new PatchParseError(`malformed diff header: ${show(names)}`);
    return { old: stripPrefix(first[0], "a/"), new: stripPrefix(first[1].slice(1), "b/") };
  }
  const quotedSecond = names.indexOf(' "');
  if (quotedSecond >= 0 && names.endsWith('"'))
    return {
      old: stripPrefix(names.slice(0, quotedSecond), "a/"),
      new: stripPrefix(names.slice(quotedSecond + 1), "b/"),
    };
  const half = (names.length - 1) / 2;
  if (Number.isInteger(half) && names[half] === " ") {
    const [a, b] = [names.slice(0, half), names.slice(half + 1)];
    if (a.startsWith("a/") && b.startsWith("b/") && a.slice(2) === b.slice(2))
      return { old: a.slice(2), new: b.slice(2) };
  }
  const parts = names.split(" b/");
  if (parts.length === 2 && parts[0]?.startsWith("a/"))
    return { old: (parts[0] as string).slice(2), new: parts[1] as string };
  return null;
}

/** The name on a `---` or `+++` line (null for /dev/null); git may add a tab after it. */
export function fileLineName(raw: string, prefix: "a/" | "b/"): string | null {
  const quoted = raw.startsWith('"') ? takeQuoted(raw) : null;
  if (quoted && quoted[1] !== "" && quoted[1] !== "\t")
    throw new PatchParseError(`malformed file name line ${show(raw)}`);
  const text = quoted ? quoted[0] : (raw.split("\t")[0] ?? "");
  if (text === "/dev/null") return null;
  return stripPrefix(text, prefix);
}

/** Everything in a file's header and body that names the file, gathered as it is read. */
export type NameSources = {
  header: { old: string; new: string } | null;
  /** The name problems are reported under: the header's new name, else its old one. */
  label: string;
  sawNew: boolean;
  sawDeleted: boolean;
  renameFrom?: string;
  renameTo?: string;
  copyFrom?: string;
  copyTo?: string;
  /** The `---` line's name: null for /dev/null, undefined when there is no such line. */
  minus?: string | null;
  plus?: string | null;
  problems: Problems;
};

/**
 * Decides a file's old and new names from everything that names them, and records every
 * disagreement: a header that says one thing while `---`/`+++` or `rename` say another is
 * exactly how a patch would smuggle a path past a check.
 */
export function settleNames(file: FilePatch, n: NameSources): void {
  const { header, label, problems } = n;
  const renamed = n.renameFrom !== undefined || n.renameTo !== undefined;
  const copied = n.copyFrom !== undefined || n.copyTo !== undefined;
  if (renamed && (n.renameFrom === undefined || n.renameTo === undefined))
    problems.add(label, "has only one of 'rename from' and 'rename to'");
  if (copied && (n.copyFrom === undefined || n.copyTo === undefined))
    problems.add(label, "has only one of 'copy from' and 'copy to'");
  if (renamed && copied) problems.add(label, "is both renamed and copied");
  if (n.sawNew && n.sawDeleted) problems.add(label, "is both a new and a deleted file");
  if ((renamed || copied) && (n.sawNew || n.sawDeleted))
    problems.add(label, "is renamed or copied and also new or deleted");

  let oldName = n.renameFrom ?? n.copyFrom ?? header?.old ?? n.minus ?? undefined;
  let newName = n.renameTo ?? n.copyTo ?? header?.new ?? n.plus ?? undefined;
  const agree = (what: string, named: string | undefined, expected: string | undefined) => {
    if (named !== undefined && expected !== undefined && named !== expected)
      problems.add(expected, `is named ${quotePath(named)} by its ${what}`);
  };
  if (header) {
    agree("'rename from' line", n.renameFrom, header.old);
    agree("'rename to' line", n.renameTo, header.new);
    agree("'copy from' line", n.copyFrom, header.old);
    agree("'copy to' line", n.copyTo, header.new);
  }
  agree("'---' line", n.minus ?? undefined, oldName);
  agree("'+++' line", n.plus ?? undefined, newName);
  if (n.minus === null && !n.sawNew)
    problems.add(label, "has '--- /dev/null' but is not a new file");
  if (n.plus === null && !n.sawDeleted)
    problems.add(label, "has '+++ /dev/null' but is not a deleted file");
  if (n.sawNew && typeof n.minus === "string")
    problems.add(label, "is a new file with an old name on its '---' line");
  if (n.sawDeleted && typeof n.plus === "string")
    problems.add(label, "is a deleted file with a new name on its '+++' line");
  if (!renamed && !copied && oldName !== undefined && newName !== undefined && oldName !== newName)
    problems.add(
      newName,
      `is named ${quotePath(oldName)} on the old side without a 'rename' or 'copy' line`,
    );
  if (n.sawNew) oldName = undefined;
  if (n.sawDeleted) newName = undefined;
  if (oldName === undefined && newName === undefined)
    throw new PatchParseError(`cannot tell the file names in: diff --git ${show(label)}`);
  file.oldPath = oldName ?? null;
  file.newPath = newName ?? null;
  file.copy = copied;
}

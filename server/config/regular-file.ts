import fs from "node:fs";

export type ReadRefusal = "missing" | "not-regular" | "too-large" | "unreadable" | "changed";

export type ReadResult =
  | { ok: true; bytes: Buffer; stat: fs.BigIntStats }
  | { ok: false; refusal: ReadRefusal; problem: string };

export type ReadOptions = {
  maxBytes: number;
  /** Refuse a symbolic link at the path itself instead of reading what it points at. */
  noFollow?: boolean;
  /** Runs between opening and reading; tests use it to change the file meanwhile. */
  afterOpen?: () => void;
};

/**
 * Reads a file only if it is a regular file of at most `maxBytes`. It is opened non-blocking, so
 * a FIFO or a device at the path cannot stall the event loop, and its type and size are checked
 * on the open descriptor (fstat), so nothing can be swapped in between the check and the read.
 * Problems are phrased to follow the file's name ("is a FIFO") and never quote its contents.
 */
export function readRegularFile(file: string, opts: ReadOptions): ReadResult {
  const flags =
    fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (opts.noFollow ? fs.constants.O_NOFOLLOW : 0);
  let fd: number;
  try {
    fd = fs.openSync(file, flags);
  } catch (err) {
    return openFailure(err as NodeJS.ErrnoException, opts.noFollow === true);
  }
  try {
    const before = fs.fstatSync(fd, { bigint: true });
    if (!before.isFile())
      return { ok: false, refusal: "not-regular", problem: `is ${kindOf(before)}` };
    if (before.size > BigInt(opts.maxBytes)) {
      const size = formatSize(Number(before.size));
      return { ok: false, refusal: "too-large", problem: tooLarge(size, opts.maxBytes) };
    }
    opts.afterOpen?.();
    const buffer = Buffer.alloc(Math.min(Number(before.size), opts.maxBytes) + 1);
    let length = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buffer.length) break;
    }
    if (length > opts.maxBytes) {
      return { ok: false, refusal: "too-large", problem: tooLarge("larger", opts.maxBytes) };
    }
    const after = fs.fstatSync(fd, { bigint: true });
    if (
      after.size !== before.size ||
      after.mtimeNs !== before.mtimeNs ||
      length !== Number(after.size)
    )
      return { ok: false, refusal: "changed", problem: "changed while being read" };
    return { ok: true, bytes: buffer.subarray(0, length), stat: before };
  } finally {
    fs.closeSync(fd);
  }
}

function openFailure(err: NodeJS.ErrnoException, noFollow: boolean): ReadResult {
  switch (err.code) {
    case "ENOENT":
      return { ok: false, refusal: "missing", problem: "does not exist" };
    case "ELOOP":
      return {
        ok: false,
        refusal: "not-regular",
        problem: noFollow ? "is a symbolic link" : "is a loop of symbolic links",
      };
    case "ENXIO":
      return { ok: false, refusal: "not-regular", problem: "is a socket" };
    case "EACCES":
    case "EPERM":
      return { ok: false, refusal: "unreadable", problem: "cannot be read (permission denied)" };
    default:
      return {
        ok: false,
        refusal: "unreadable",
        problem: `cannot be read (${err.code ?? "error"})`,
      };
  }
}

/** "a FIFO", "a directory", …: what is at a path, for a message. */
export function kindOf(stat: fs.Stats | fs.BigIntStats): string {
  if (stat.isFile()) return "a regular file";
  if (stat.isDirectory()) return "a directory";
  if (stat.isSymbolicLink()) return "a symbolic link";
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isSocket()) return "a socket";
  if (stat.isCharacterDevice()) return "a character device";
  if (stat.isBlockDevice()) return "a block device";
  return "not a regular file";
}

const tooLarge = (size: string, maxBytes: number) =>
  `is ${size}; the limit is ${formatSize(maxBytes)}`;

/** 9437184 → "9 MB"; rounded up, so a file just over a limit never reads as equal to it. */
export function formatSize(bytes: number): string {
  const units: [string, number][] = [
    ["GB", 1024 ** 3],
    ["MB", 1024 ** 2],
    ["KB", 1024],
  ];
  for (const [unit, size] of units) {
    if (bytes >= size) return `${Math.ceil((bytes / size) * 10) / 10} ${unit}`;
  }
  return `${bytes} bytes`;
}

export type JsonResult = { ok: true; value: unknown } | { ok: false; problem: string };

/**
 * Parses UTF-8 JSON. The problem names the place (line and column) but, unlike V8's own
 * message, never quotes the text: the file may be one its reader should not see.
 */
export function parseJson(bytes: Buffer): JsonResult {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, problem: "is not UTF-8 text" };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return {
      ok: false,
      problem: `is not valid JSON: ${syntaxProblem(text, (err as Error).message)}`,
    };
  }
}

function syntaxProblem(text: string, message: string): string {
  if (message.startsWith("Unexpected end of JSON input")) return "it ends too early";
  const at = /^(.*?)(?: in JSON)? at position (\d+)/.exec(message);
  if (!at) return "unexpected text";
  const [, what = "", position = "0"] = at;
  const before = text.slice(0, Number(position));
  const line = before.split("\n").length;
  const column = Number(position) - before.lastIndexOf("\n");
  // V8's fixed phrases ("Expected ',' or '}' after property value") quote only punctuation.
  const safe = /^[A-Za-z ,-]*('[^A-Za-z0-9]'[A-Za-z ,-]*)*$/.test(what) && !/token/i.test(what);
  return `${safe ? lowerFirst(what) : "unexpected character"} at line ${line}, column ${column}`;
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

import fs from "node:fs";
import type { FieldIssue } from "@/schemas/issues";

/** A failure the CLI reports as a message and an exit code, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
}

export const MAX_INPUT_BYTES = 1024 * 1024;

/** Reads a JSON document from a file or, for `-`, from stdin, with a size limit. */
export async function readJsonInput(source: string, limit = MAX_INPUT_BYTES): Promise<unknown> {
  let text: string;
  if (source === "-") {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new CliError(`stdin: input is larger than ${limit} bytes`);
      chunks.push(chunk as Buffer);
    }
    text = Buffer.concat(chunks).toString("utf8");
  } else {
    const stat = fs.statSync(source, { throwIfNoEntry: false });
    if (!stat) throw new CliError(`${source}: no such file`);
    if (!stat.isFile()) throw new CliError(`${source}: not a file`);
    if (stat.size > limit) {
      throw new CliError(`${source}: file is ${stat.size} bytes; the limit is ${limit} bytes`);
    }
    text = fs.readFileSync(source, "utf8");
  }
  const name = source === "-" ? "stdin" : source;
  if (!text.trim()) throw new CliError(`${name}: input is empty; expected JSON`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${name}: malformed JSON: ${(err as Error).message}`);
  }
}

export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  const widths = columns.map((c) =>
    Math.max(c.length, ...rows.map((r) => String(r[c] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  console.log(line(columns.map((c) => c.toUpperCase())));
  for (const row of rows) console.log(line(columns.map((c) => String(row[c] ?? ""))));
}

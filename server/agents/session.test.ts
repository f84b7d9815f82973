import { describe, expect, it } from "vitest";
import {
  boundedLines,
  MAX_LINE_BYTES,
  STDERR_TAIL_BYTES,
  STDERR_TAIL_LINES,
  stderrGist,
  stderrTail,
} from "./session";

async function collect(chunks: (string | Buffer)[], max = 1024 ** 3) {
  const out = [];
  for await (const item of boundedLines(
    (async function* () {
      yield* chunks;
    })(),
    max,
  ))
    out.push(item);
  return out;
}

describe("boundedLines", () => {
  it("splits lines across chunks, and keeps a last line without a newline", async () => {
    expect(await collect(["a\nb", "c\r\n", "d"])).toEqual([
      { line: "a", cut: false },
      { line: "bc", cut: false },
      { line: "d", cut: false },
    ]);
  });

  it("cuts a line longer than MAX_LINE_BYTES and skips the rest of it, holding no more", async () => {
    const big = Buffer.alloc(MAX_LINE_BYTES + 10, 120);
    const out = await collect([big, big, "tail\nnext\n"]);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ cut: true });
    expect((out[0] as { line: string }).line.length).toBe(MAX_LINE_BYTES);
    expect(out[1]).toEqual({ line: "next", cut: false });
  });

  it("stops with an overflow past the total limit", async () => {
    const out = await collect(["aaaa\n", "bbbb\n", "cccc\n"], 8);
    expect(out).toEqual([
      { line: "aaaa", cut: false },
      { line: "bbbb", cut: false },
      { overflow: 10 },
    ]);
  });
});

describe("an agent's stderr tail", () => {
  it("keeps the last 20 non-blank lines, its secrets replaced and control characters dropped", () => {
    const text = `${Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n")}\n\nkey sk-live-1234 \u001b[31mred\r\n`;
    const tail = stderrTail(text, ["sk-live-1234"]);
    const lines = tail.split("\n");
    expect(lines).toHaveLength(STDERR_TAIL_LINES);
    expect(lines[0]).toBe("line 11");
    expect(lines.at(-1)).toBe("key [secret] [31mred");
    expect(tail).not.toContain("sk-live-1234");
  });

  it("keeps at most 4 KiB, cut at a character boundary", () => {
    const tail = stderrTail(`${"é".repeat(5000)}\nlast`);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(STDERR_TAIL_BYTES);
    expect(tail.startsWith("…é")).toBe(true);
    expect(tail.endsWith("\nlast")).toBe(true);
  });

  it("quotes the line that reads as the error, not a stack frame after it", () => {
    const node = [
      "node:internal/modules/cjs/loader:1228",
      "  throw err;",
      "Error: Cannot find module '/srv/tools/agent.mjs'",
      "    at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15)",
      "  code: 'MODULE_NOT_FOUND',",
      "Node.js v20.19.0",
    ].join("\n");
    expect(stderrGist(node)).toBe("Error: Cannot find module '/srv/tools/agent.mjs'");
    expect(stderrGist("a\nb\nc\nd")).toBe("b / c / d");
  });
});

import { describe, expect, it } from "vitest";
import { boundedLines, MAX_LINE_BYTES } from "./session";

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

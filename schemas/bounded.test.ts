import { describe, expect, it } from "vitest";
import { clipReason, clipText, grouped, humanCount, listSome, REASON_MAX } from "./bounded";

describe("bounded texts", () => {
  it("groups and abbreviates counts", () => {
    expect(grouped(0)).toBe("0");
    expect(grouped(999)).toBe("999");
    expect(grouped(20_000)).toBe("20 000");
    expect(grouped(1_234_567)).toBe("1 234 567");
    expect(humanCount(950)).toBe("950");
    expect(humanCount(1000)).toBe("1 k");
    expect(humanCount(12_345)).toBe("12.3 k");
    expect(humanCount(1_234_567)).toBe("1.2 M");
    expect(humanCount(345_000_000)).toBe("345 M");
    expect(humanCount(2_500_000_000)).toBe("2.5 G");
  });

  it("lists at most 30 items, then how many more", () => {
    const paths = Array.from({ length: 100_000 }, (_, i) => `out/f${i}`);
    const listed = listSome(paths);
    const m = /^(.+) and ([\d ]+) more$/.exec(listed);
    expect(m).not.toBeNull();
    const shown = (m?.[1] ?? "").split(", ");
    expect(shown).toEqual(paths.slice(0, 30));
    expect(m?.[2]).toBe("99 970");
    expect(listSome(["a", "b"])).toBe("a, b");
    expect(listSome([])).toBe("");
  });

  it("keeps a list short when its items are long", () => {
    const long = Array.from({ length: 50 }, (_, i) => `${i}/${"d".repeat(4000)}`);
    const listed = listSome(long);
    expect(listed.length).toBeLessThan(1500);
    expect(listed).toMatch(/ and \d+ more$/);
  });

  it("clips a text at its start, saying how much was left out", () => {
    expect(clipText("short", 10)).toBe("short");
    const clipped = clipReason("x".repeat(1_400_000));
    expect(clipped.length).toBeLessThanOrEqual(REASON_MAX);
    const left = Number(/\(([\d ]+) more characters\)$/.exec(clipped)?.[1]?.replaceAll(" ", ""));
    expect(clipped.indexOf("…") + left).toBe(1_400_000);
  });
});

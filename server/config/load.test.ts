import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createDemoRepo } from "@/server/demo/create";
import { tempDir } from "@/test-support/fixtures";
import { loadConfig } from "./load";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function writeConfig(content: unknown): string {
  const dir = tempDir();
  dirs.push(dir);
  const file = path.join(dir, "hyperion.config.json");
  fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

describe("loadConfig", () => {
  it("resolves a relative repository path against the config file's folder", async () => {
    const file = writeConfig({ repositories: [{ name: "demo", path: "repo" }] });
    await createDemoRepo(path.join(path.dirname(file), "repo"));
    const config = loadConfig(file);
    expect(config.repositories[0]).toEqual({
      name: "demo",
      path: path.join(path.dirname(file), "repo"),
      targetBranch: "main",
    });
  });

  it.each([
    [{ repositories: [] }, "repositories: must list at least one repository"],
    [{ repositories: [{ name: "a b", path: "." }] }, "repositories[0].name:"],
    [{ repositories: [{ name: "demo" }] }, "repositories[0].path:"],
    [
      { repositories: [{ name: "demo", path: ".", branch: "x" }] },
      "repositories[0].branch: is not a known field",
    ],
    [{ repos: [] }, "repos: is not a known field"],
    [{ repositories: [{ name: "demo", path: "missing" }] }, "repositories[0].path: does not exist"],
    [
      { repositories: [{ name: "demo", path: "." }] },
      "repositories[0].path: is not a git repository",
    ],
    [
      { repositories: [{ name: "demo", path: "repo\u0000/../etc" }] },
      "repositories[0].path: must not contain a NUL byte",
    ],
    [
      {
        repositories: [
          {
            name: "demo",
            remote: "https://example.test/demo.git",
            credentials: { tokenFile: "token\u0000" },
          },
        ],
      },
      "repositories[0].credentials.tokenFile: must not contain a NUL byte",
    ],
    ["{ not json", "is not valid JSON"],
  ])("names the bad key in %j", (content, message) => {
    const file = writeConfig(content);
    expect(() => loadConfig(file)).toThrow(message);
  });

  it("says which file is missing and how to point at another", () => {
    expect(() => loadConfig("/nonexistent/hyperion.config.json")).toThrow(/HYPERION_CONFIG/);
  });
});

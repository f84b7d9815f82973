import { describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import { TaskRequest } from "@/schemas/task-request";
import { demoFiles } from "@/server/demo/files";
import { demoPolicy } from "@/server/demo/policy";
import { assertAcyclic, CycleError, decompose } from "@/server/planning/decompose";
import { areaOf, overlappingAreas } from "./areas";
import { BuiltinEngineer } from "./engineer";
import corpus from "./fixtures/corpus.json";

const policy = Policy.parse(demoPolicy);
const files = Object.entries(demoFiles).map(([path, content]) => ({
  path,
  size: Buffer.byteLength(content),
}));
const engineer = new BuiltinEngineer();
const scope = (input: Record<string, unknown>) =>
  engineer.scope({
    request: TaskRequest.parse({ description: "", repo: "demo", ...input }),
    policy,
    files,
  });

describe("the built-in Engineer", () => {
  it("finds files named in the description and infers the kind", () => {
    const result = scope({
      title: "Fix cart total",
      description: "`total` in src/cart/cart.js is wrong.",
    });
    expect(result.spec).toMatchObject({
      kind: "bugfix",
      files: ["src/cart/cart.js"],
      areas: ["cart"],
      risk: "medium",
      acceptance: [],
      checks: ["test"],
    });
  });

  it("infers docs when only docs are involved, and takes no checks from the policy for docs", () => {
    expect(scope({ title: "Typo", description: "README.md says 'libary'." }).spec).toMatchObject({
      kind: "docs",
      risk: "low",
      checks: [],
    });
  });

  it("matches words against file names", () => {
    expect(scope({ title: "Cart should merge skus case-insensitively" }).spec?.files).toEqual([
      "src/cart/cart.js",
      "tests/cart.test.js",
    ]);
  });

  it("rates cross-area work high", () => {
    expect(scope({ title: "Tax", files: ["src/tax.js", "tests/tax.test.js"] }).spec?.risk).toBe(
      "high",
    );
  });

  it("keeps acceptance as prose and runs only the policy's checks", () => {
    const spec = scope({
      title: "x",
      files: ["src/cart/cart.js"],
      acceptance: ["node --test tests/cart.test.js", "sh -c id>/tmp/x", "totals round to cents"],
    }).spec;
    expect(spec?.acceptance).toEqual([
      "node --test tests/cart.test.js",
      "sh -c id>/tmp/x",
      "totals round to cents",
    ]);
    expect(spec?.checks).toEqual(["test"]);
  });

  it("adds a policy check that acceptance names, by name or by its command", () => {
    const docs = (acceptance: string[]) =>
      scope({ title: "Typo", files: ["docs/guide.md"], acceptance }).spec?.checks;
    expect(docs([])).toEqual([]);
    expect(docs(["test"])).toEqual(["test"]);
    expect(docs(["npm test"])).toEqual(["test"]);
    expect(docs(["npm test; id"])).toEqual([]);
  });

  it("asks when nothing matches, when fields contradict, and when a file has no area", () => {
    expect(scope({ title: "Make it better", description: "Improve things." }).questions[0]).toMatch(
      /No file or area matches/,
    );
    expect(scope({ title: "x", kind: "docs", files: ["src/cart/cart.js"] }).questions[0]).toMatch(
      /kind is docs/,
    );
    expect(scope({ title: "x", files: ["lib/other.js"] }).questions[0]).toMatch(
      /belong to no area/,
    );
  });

  it("suggests a path only the prose names when the requester named files, and leaves it out of the scope", () => {
    const result = scope({
      title: "Round totals",
      description: "See line 12 of src/pricing/pricing.js, and README.md for the wording.",
      files: ["src/cart/cart.js"],
    });
    expect(result.spec).toMatchObject({
      files: ["src/cart/cart.js"],
      areas: ["cart"],
      risk: "medium",
      suggestedFiles: ["README.md", "src/pricing/pricing.js"],
    });
  });

  it("suggests prose paths beside the requester's areas too", () => {
    const result = scope({
      title: "Docs",
      description: "As src/pricing/pricing.js does it.",
      areas: ["docs"],
    });
    expect(result.spec?.files.every((f) => f.startsWith("docs/") || f === "README.md")).toBe(true);
    expect(result.spec?.files).not.toContain("src/pricing/pricing.js");
    expect(result.spec?.suggestedFiles).toEqual(["src/pricing/pricing.js"]);
  });

  it("takes prose paths as scope when the requester named no file or area", () => {
    const result = scope({
      title: "Fix",
      description: "line 3 of src/pricing/pricing.js is wrong",
    });
    expect(result.spec?.files).toEqual(["src/pricing/pricing.js"]);
    expect(result.spec?.suggestedFiles).toBeUndefined();
  });

  it("asks when a request needs more files than any split allows", () => {
    const many = Array.from({ length: 8 * 20 + 1 }, (_, i) => `docs/p${i}.md`);
    expect(scope({ title: "x", files: many }).questions[0]).toMatch(/at most 160/);
  });
});

describe("the policy", () => {
  it("gives an overlapping path to the first listed area and reports the overlap", () => {
    const overlapping = Policy.parse({
      areas: [
        { name: "cart", paths: ["src/cart/**"] },
        { name: "src", paths: ["src/**"] },
      ],
    });
    expect(areaOf(overlapping, "src/cart/cart.js")?.name).toBe("cart");
    expect(areaOf(overlapping, "src/tax.js")?.name).toBe("src");
    expect(overlappingAreas(overlapping, ["src/cart/cart.js"])).toEqual([
      { first: "cart", second: "src", example: "src/cart/cart.js" },
    ]);
  });

  it("the demo's own areas do not overlap, so a fresh start warns of nothing", () => {
    expect(
      overlappingAreas(policy, [...Object.keys(demoFiles), "src/tax.js", "src/lib/x.js"]),
    ).toEqual([]);
    expect(areaOf(policy, "src/tax.js")?.name).toBe("src");
  });

  it("is validated with messages that name the key", () => {
    const bad = Policy.safeParse({
      areas: [{ name: "Bad Name", paths: [] }],
      validation: { byArea: { nope: {} } },
    });
    expect(bad.success).toBe(false);
    const paths = bad.error?.issues.map((i) => i.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["areas.0.name", "areas.0.paths"]));
  });
});

describe("the Orchestrator", () => {
  it("splits by area with tests after the code they test and docs after the feature", () => {
    const request = TaskRequest.parse({
      title: "Tax",
      description: "",
      repo: "demo",
      kind: "feature",
      files: ["src/tax.js", "tests/tax.test.js", "docs/tax.md"],
    });
    const spec = engineer.scope({ request, policy, files }).spec;
    if (!spec) throw new Error("no spec");
    const { tasks } = decompose({ requestId: 7, request, repo: "demo", spec, policy, files });
    const byArea = Object.fromEntries(tasks.map((t) => [t.area, t]));
    expect(byArea.src?.dependsOn).toEqual([]);
    expect(byArea.tests?.dependsOn).toEqual([byArea.src?.id]);
    expect(byArea.docs?.dependsOn).toEqual([byArea.src?.id]);
    expect(byArea.src?.lockKeys).toEqual(["demo:file:src/tax.js"]);
  });

  it("splits a large area into tasks within maxFilesPerTask", () => {
    const many = Array.from({ length: 20 }, (_, i) => `docs/d${i % 3}/p${i}.md`);
    const request = TaskRequest.parse({
      title: "Docs sweep",
      description: "",
      repo: "demo",
      files: many,
    });
    const spec = engineer.scope({ request, policy, files }).spec;
    if (!spec) throw new Error("no spec");
    const { tasks } = decompose({ requestId: 1, request, repo: "demo", spec, policy, files });
    expect(tasks.length).toBeGreaterThanOrEqual(3);
    for (const t of tasks) expect(t.neededFiles.length).toBeLessThanOrEqual(8);
    expect(tasks.flatMap((t) => t.neededFiles).sort()).toEqual([...many].sort());
  });

  it("refuses a dependency cycle and names it", () => {
    expect(() =>
      assertAcyclic([
        { id: "1.1", dependsOn: ["1.3"] },
        { id: "1.2", dependsOn: ["1.1"] },
        { id: "1.3", dependsOn: ["1.2"] },
      ]),
    ).toThrow(new CycleError("dependency cycle: 1.1 → 1.3 → 1.2 → 1.1"));
  });

  it(`over a corpus of ${corpus.length} requests: >= 80% of tasks independent, no limit broken, no file shared`, () => {
    let total = 0;
    let independent = 0;
    let asked = 0;
    for (const [i, raw] of corpus.entries()) {
      const request = TaskRequest.parse(raw);
      const result = engineer.scope({ request, policy, files });
      if (!result.spec) {
        asked++;
        continue;
      }
      const out = decompose({
        requestId: i + 1,
        request,
        repo: "demo",
        spec: result.spec,
        policy,
        files,
      });
      const all = out.tasks.flatMap((t) => t.neededFiles);
      expect(new Set(all).size).toBe(all.length);
      for (const t of out.tasks) {
        expect(t.neededFiles.length).toBeLessThanOrEqual(policy.limits.maxFilesPerTask);
        expect(t.contextTokens).toBeLessThanOrEqual(policy.limits.maxContextTokens);
      }
      expect(out.tasks.length).toBeLessThanOrEqual(policy.limits.maxTasksPerRequest);
      total += out.tasks.length;
      independent += out.independent;
    }
    expect(corpus.length).toBeGreaterThanOrEqual(40);
    expect(asked).toBe(3);
    expect(independent / total).toBeGreaterThanOrEqual(0.8);
  });
});

import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeWorld, type TestWorld } from "@/server/testing/fixtures";
import { ingestFile } from "./ingest";
import { watchInbox } from "./watch";

let world: TestWorld;
let inbox: string;
beforeEach(async () => {
  world = await makeWorld();
  inbox = path.join(world.dir, "inbox");
  fs.mkdirSync(inbox);
});
afterEach(() => world.cleanup());

const count = () =>
  world.db.$client.prepare("SELECT count(*) FROM requests WHERE source = 'inbox'").pluck().get();
const ok = JSON.stringify({
  title: "From the inbox",
  description: "",
  repo: "demo",
  files: ["docs/guide.md"],
});
const waitFor = async (check: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe("the inbox", () => {
  it("takes in a dropped file within a second and moves it to processed/", async () => {
    const w = watchInbox(world.db, () => world.config, inbox);
    await w.ready;
    const t0 = Date.now();
    fs.writeFileSync(path.join(inbox, "one.json"), ok);
    await waitFor(() => fs.existsSync(path.join(inbox, "processed", "one.json")));
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(count()).toBe(1);
    await w.close();
  });

  it("does not read a half-written file early", async () => {
    const w = watchInbox(world.db, () => world.config, inbox, { stabilityMs: 300 });
    await w.ready;
    const file = path.join(inbox, "slow.json");
    const fd = fs.openSync(file, "w");
    fs.writeSync(fd, ok.slice(0, 20));
    await new Promise((r) => setTimeout(r, 150));
    fs.writeSync(fd, ok.slice(20));
    fs.closeSync(fd);
    await waitFor(() => fs.existsSync(path.join(inbox, "processed", "slow.json")));
    expect(fs.existsSync(path.join(inbox, "rejected"))).toBe(false);
    expect(count()).toBe(1);
    await w.close();
  });

  it("rejects invalid input with an error file beside it, writing nothing", () => {
    const file = path.join(inbox, "bad.json");
    fs.writeFileSync(file, JSON.stringify({ title: "", repo: "demo", files: ["../x"] }));
    const result = ingestFile(world.db, world.config, inbox, file);
    expect(result.outcome).toBe("rejected");
    const error = fs.readFileSync(path.join(inbox, "rejected", "bad.json.error.txt"), "utf8");
    expect(error).toContain("title: is required");
    expect(error).toContain("files[0]: must not contain '..'");
    expect(count()).toBe(0);
  });

  it("never files the same content twice, also across restarts", async () => {
    fs.writeFileSync(path.join(inbox, "a.json"), ok);
    expect(ingestFile(world.db, world.config, inbox, path.join(inbox, "a.json")).outcome).toBe(
      "processed",
    );
    // A crash before the move would leave the file in place; a restart sees it again.
    fs.writeFileSync(path.join(inbox, "a-again.json"), ok);
    const w = watchInbox(world.db, () => world.config, inbox);
    await w.ready;
    await waitFor(() => fs.existsSync(path.join(inbox, "processed", "a-again.json")));
    expect(count()).toBe(1);
    await w.close();
  });
});

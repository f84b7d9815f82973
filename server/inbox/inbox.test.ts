import fs from "node:fs";
import path from "node:path";
import { count as countRows, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { requests } from "@/server/db/schema";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { type IngestResult, ingestFile } from "./ingest";
import { watchInbox } from "./watch";

let world: TestWorld;
let inbox: string;
beforeEach(async () => {
  world = await makeWorld();
  inbox = path.join(world.dir, "inbox");
  fs.mkdirSync(inbox);
});
afterEach(() => world.cleanup());

const count = async () =>
  (await world.db.select({ n: countRows() }).from(requests).where(eq(requests.source, "inbox")))[0]
    ?.n;
const ok = JSON.stringify({
  title: "From the inbox",
  description: "",
  repo: "demo",
  files: ["docs/guide.md"],
});

/**
 * Every outcome the watcher reports through `onResult`, in order, and a promise for the first
 * final outcome (anything but `skipped`, which the watcher takes again when the file settles)
 * for a named file: the tests wait on the watcher's own report, never on the clock.
 */
function results() {
  const seen: IngestResult[] = [];
  const waiters: { file: string; resolve: (r: IngestResult) => void }[] = [];
  const onResult = (r: IngestResult) => {
    seen.push(r);
    if (r.outcome === "skipped") return;
    for (const w of waiters.filter((x) => x.file === r.file)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(r);
    }
  };
  const settled = (file: string) => {
    const done = seen.find((r) => r.file === file && r.outcome !== "skipped");
    if (done) return Promise.resolve(done);
    return new Promise<IngestResult>((resolve) => waiters.push({ file, resolve }));
  };
  return { seen, onResult, settled };
}

describe("the inbox", () => {
  it("takes in a dropped file and moves it to processed/", async () => {
    const r = results();
    const w = watchInbox(world.db, () => world.config, inbox, { onResult: r.onResult });
    await w.ready;
    fs.writeFileSync(path.join(inbox, "one.json"), ok);
    expect(await r.settled("one.json")).toMatchObject({ outcome: "processed" });
    await w.close();
    expect(fs.existsSync(path.join(inbox, "processed", "one.json"))).toBe(true);
    expect(await count()).toBe(1);
  });

  it("does not read a half-written file early", async () => {
    const r = results();
    // The watcher waits for a file to stay unchanged this long; the test's two writes are
    // separated only by the file system's own notice of the first one, far less than that.
    const w = watchInbox(world.db, () => world.config, inbox, {
      stabilityMs: 1000,
      onResult: r.onResult,
    });
    await w.ready;
    const file = path.join(inbox, "slow.json");
    // Our own watch on the folder: its event for the first half means the file system has told
    // watchers in this process about the half-written file before the rest is written.
    const ours = fs.watch(inbox);
    const noticed = new Promise<void>((resolve) =>
      ours.on("change", (_event, name) => {
        if (name === "slow.json") resolve();
      }),
    );
    const fd = fs.openSync(file, "w");
    fs.writeSync(fd, ok.slice(0, 20));
    await noticed;
    ours.close();
    fs.writeSync(fd, ok.slice(20));
    fs.closeSync(fd);
    expect(await r.settled("slow.json")).toMatchObject({ outcome: "processed" });
    await w.close();
    expect(r.seen.filter((x) => x.outcome !== "skipped")).toEqual([
      expect.objectContaining({ file: "slow.json", outcome: "processed" }),
    ]);
    expect(fs.existsSync(path.join(inbox, "rejected"))).toBe(false);
    expect(await count()).toBe(1);
  });

  it("rejects invalid input with an error file beside it, writing nothing", async () => {
    const file = path.join(inbox, "bad.json");
    fs.writeFileSync(file, JSON.stringify({ title: "", repo: "demo", files: ["../x"] }));
    const result = await ingestFile(world.db, world.config, inbox, file);
    expect(result.outcome).toBe("rejected");
    const error = fs.readFileSync(path.join(inbox, "rejected", "bad.json.error.txt"), "utf8");
    expect(error).toContain("title: is required");
    expect(error).toContain("files[0]: must not contain '..'");
    expect(await count()).toBe(0);
  });

  it('files a batch whose items name earlier ones by position ("#0"), and refuses a bad position whole', async () => {
    const item = { title: "Batch", description: "", repo: "demo", files: ["docs/guide.md"] };
    const good = path.join(inbox, "batch.json");
    fs.writeFileSync(good, JSON.stringify([item, { ...item, title: "After", dependsOn: ["#0"] }]));
    const filed = await ingestFile(world.db, world.config, inbox, good);
    expect(filed.outcome).toBe("processed");
    const [first, second] = filed.requestIds;
    const [row] = await world.db
      .select({ dependsOn: requests.dependsOn })
      .from(requests)
      .where(eq(requests.id, second ?? 0));
    expect(row?.dependsOn).toEqual([first]);

    const bad = path.join(inbox, "forward.json");
    fs.writeFileSync(bad, JSON.stringify([{ ...item, dependsOn: ["#1"] }, item]));
    const refused = await ingestFile(world.db, world.config, inbox, bad);
    expect(refused.outcome).toBe("rejected");
    const error = fs.readFileSync(path.join(inbox, "rejected", "forward.json.error.txt"), "utf8");
    expect(error).toContain('[0].dependsOn[0]: "#1" is not an earlier item of this call');
    expect(await count()).toBe(2);
  });

  it("refuses a file main does not have unless the request says allowNewFiles", async () => {
    const item = { title: "New file", description: "", repo: "demo", files: ["docs/new-page.md"] };
    const refused = path.join(inbox, "new.json");
    fs.writeFileSync(refused, JSON.stringify(item));
    expect((await ingestFile(world.db, world.config, inbox, refused)).outcome).toBe("rejected");
    const error = fs.readFileSync(path.join(inbox, "rejected", "new.json.error.txt"), "utf8");
    // The inbox never echoes the file: the path is cut from the message, the field names it.
    expect(error).toContain("files[0]: … does not exist on main");
    expect(error).toContain("allowNewFiles: true");
    expect(await count()).toBe(0);

    const allowed = path.join(inbox, "allowed.json");
    fs.writeFileSync(allowed, JSON.stringify({ ...item, allowNewFiles: true }));
    expect((await ingestFile(world.db, world.config, inbox, allowed)).outcome).toBe("processed");
    expect(await count()).toBe(1);
  });

  it("never files the same content twice, also across restarts", async () => {
    fs.writeFileSync(path.join(inbox, "a.json"), ok);
    expect(
      (await ingestFile(world.db, world.config, inbox, path.join(inbox, "a.json"))).outcome,
    ).toBe("processed");
    // A crash before the move would leave the file in place; a restart sees it again.
    fs.writeFileSync(path.join(inbox, "a-again.json"), ok);
    const r = results();
    const w = watchInbox(world.db, () => world.config, inbox, { onResult: r.onResult });
    await w.ready;
    expect(await r.settled("a-again.json")).toMatchObject({ outcome: "duplicate" });
    await w.close();
    expect(fs.existsSync(path.join(inbox, "processed", "a-again.json"))).toBe(true);
    expect(await count()).toBe(1);
  });
});

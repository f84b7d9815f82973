import fs from "node:fs";
import path from "node:path";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { sql } from "drizzle-orm";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HyperionConfig, type ShippingConfig } from "@/schemas/config";
import { fieldIssues } from "@/schemas/issues";
import { logShipments } from "@/server/db/schema";
import { beat } from "@/server/workers/heartbeat";
import { makeWorld, type TestWorld, tempDir, worldEnv } from "@/test-support/fixtures";
import { S3RVER_ACCESS_KEY, startS3 } from "@/test-support/s3";
import {
  addLogRows,
  caughtUp,
  configureShipping,
  maxLogId,
  range,
  segmentIds,
  shippedUpTo,
  shippingWorkers,
} from "@/test-support/shipping";
import { s3Credentials } from "./s3";
import { STREAMS, type Stream, shipOnce, shippingProblem } from "./shipping";

// Log shipping to an S3-compatible bucket, against s3rver (test-support/s3.ts), a real S3 API
// server: segments uploaded under the folder's names, the cursor moved only after the upload,
// a segment uploaded before a crash found in the bucket and not shipped again under another
// name; a worker restarted ships on with ids contiguous; a bad config or no credentials
// refused, naming the path or the variables.

const BIN = path.resolve("bin/hyperion.mjs");
const SECRET = "secret-that-is-never-logged-7f3a";
const credentials = { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: SECRET };
const BUCKETS = ["unit", "both", "worker"];
let world: TestWorld;
let s3: Awaited<ReturnType<typeof startS3>>;
let client: S3Client;
const dirs: string[] = [];
const workers = shippingWorkers();

beforeAll(async () => {
  world = await makeWorld();
  s3 = await startS3(BUCKETS);
  client = new S3Client({
    endpoint: s3.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials,
  });
}, 60_000);
afterAll(async () => {
  await workers.killAll();
  client?.destroy();
  await s3?.close();
  await world?.cleanup();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const s3Config = (bucket: string, prefix = "audit/") => ({
  endpoint: s3.endpoint,
  bucket,
  prefix,
  region: "us-east-1",
  forcePathStyle: true,
});

async function keys(bucket: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key);
    token = page.NextContinuationToken;
  } while (token);
  return out.sort();
}

/** Every row uploaded to the bucket under `prefix`, by stream: ids in key order, checked. */
async function uploadedIds(bucket: string, prefix = "audit/"): Promise<Record<Stream, number[]>> {
  const out: Record<Stream, number[]> = { change_queue_logs: [], events: [] };
  for (const key of await keys(bucket, prefix)) {
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const seg = segmentIds(key.slice(prefix.length), (await got.Body?.transformToString()) ?? "");
    expect(seg, key).not.toBeNull();
    if (seg) out[seg.stream].push(...seg.ids);
  }
  return out;
}

const maxId = (stream: Stream) => maxLogId(world.db, stream);
const cursor = (stream: Stream) => shippedUpTo(world.db, stream);

/** Every test ships the whole log again, from the start, into its own bucket. */
beforeEach(async () => {
  await world.db.delete(logShipments);
});

describe("the shipping config", () => {
  const refusal = (shipping: unknown) => {
    const parsed = HyperionConfig.safeParse({
      repositories: [{ name: "demo", path: "repos/demo" }],
      shipping,
    });
    return parsed.success ? [] : fieldIssues(parsed.error).map((i) => `${i.path}: ${i.message}`);
  };

  it("takes a folder, a bucket, or both, with the bucket's defaults", () => {
    const parsed = HyperionConfig.parse({
      repositories: [{ name: "demo", path: "repos/demo" }],
      shipping: { s3: { endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: "audit-log" } },
    });
    expect(parsed.shipping).toEqual({
      intervalSeconds: 60,
      s3: {
        endpoint: "https://s3.eu-west-1.amazonaws.com",
        bucket: "audit-log",
        region: "us-east-1",
        forcePathStyle: true,
      },
    });
    expect(
      refusal({ folder: "shipped", s3: { endpoint: "http://minio:9000", bucket: "a.b-c" } }),
    ).toEqual([]);
  });

  it("refuses a bad target, naming the path", () => {
    expect(refusal({ intervalSeconds: 5 })).toEqual([
      "shipping.folder: is required (or name s3: a bucket to upload the segments to; or both)",
    ]);
    expect(refusal({ s3: { endpoint: "ftp://host/", bucket: "audit" } })).toEqual([
      "shipping.s3.endpoint: must be an http(s) URL such as https://s3.eu-west-1.amazonaws.com",
    ]);
    expect(refusal({ s3: { endpoint: "http://minio:9000" } })).toEqual([
      "shipping.s3.bucket: is required: the name of the bucket segments are uploaded to",
    ]);
    expect(refusal({ s3: { endpoint: "http://minio:9000", bucket: "Audit_Log" } })).toEqual([
      "shipping.s3.bucket: must be a bucket name: 3-63 lowercase letters, digits, '.' or '-'",
    ]);
    expect(refusal({ s3: { endpoint: "http://key:secret@minio:9000", bucket: "audit" } })).toEqual([
      "shipping.s3.endpoint: must not carry credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead",
    ]);
    expect(
      refusal({ s3: { endpoint: "http://minio:9000", bucket: "audit", accessKey: "x" } }),
    ).toEqual(["shipping.s3.accessKey: is not a known field"]);
    expect(
      refusal({ s3: { endpoint: "http://minio:9000", bucket: "audit", prefix: "/abs" } }),
    ).toHaveLength(1);
  });

  it("names the variables when a bucket is configured and they are not set", () => {
    const shipping = { intervalSeconds: 60, s3: s3Config("unit") } as ShippingConfig;
    expect(shippingProblem({ shipping }, {})).toBe(
      "shipping.s3 needs the bucket's credentials in the environment: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the config never holds them)",
    );
    expect(shippingProblem({ shipping }, { AWS_ACCESS_KEY_ID: "k" })).toContain(
      "set AWS_SECRET_ACCESS_KEY (",
    );
    expect(
      shippingProblem({ shipping }, { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" }),
    ).toBeNull();
    expect(shippingProblem({ shipping: { intervalSeconds: 60, folder: "/x" } }, {})).toBeNull();
  });
});

describe("shipping to a bucket", () => {
  it("uploads segments named by their ids, moves the cursor after each, and after a crash finds the upload and ships nothing twice", async () => {
    const config = { intervalSeconds: 1, s3: s3Config("unit") } as ShippingConfig;
    await beat(world.db, "worker-a", Date.now());
    await addLogRows(world.db, 25);
    const a = {
      owner: "worker-a/shipping",
      leaseMs: 60_000,
      rows: 10,
      settleMs: 0,
      credentials,
    };
    const first = await shipOnce(world.db, config, a);
    const logs = first.filter((s) => s.stream === "change_queue_logs");
    expect(logs.map((s) => s.rows)).toEqual([10, 10, 5]);
    expect(await keys("unit", "audit/change_queue_logs-")).toEqual(
      logs.map((s) => `audit/${s.segment}`),
    );
    expect(await shipOnce(world.db, config, a)).toEqual([]);

    // A crash between the upload and the cursor, and rows written since: the next round finds
    // the uploaded segment by its first id and moves past it, rather than uploading those rows
    // again in a longer segment under another name.
    const last = logs.at(-1);
    await world.db
      .update(logShipments)
      .set({ lastId: (last?.first ?? 1) - 1 })
      .where(sql`${logShipments.stream} = 'change_queue_logs'`);
    await addLogRows(world.db, 2);
    const again = await shipOnce(world.db, config, a);
    expect(again.filter((s) => s.stream === "change_queue_logs")).toEqual([
      { ...last, rows: 0 },
      expect.objectContaining({ rows: 2 }),
    ]);

    const shipped = await uploadedIds("unit");
    for (const stream of STREAMS) {
      expect(await cursor(stream)).toBe(await maxId(stream));
      expect(shipped[stream]).toEqual(range(await maxId(stream)));
    }
  });

  it("an upload the bucket refuses leaves the cursor where it was, and says why without the secret", async () => {
    const config = { intervalSeconds: 1, s3: s3Config("unit", "refused/") } as ShippingConfig;
    const bad = { accessKeyId: "NOT-A-KNOWN-KEY", secretAccessKey: SECRET };
    const err = await shipOnce(world.db, config, {
      owner: "worker-a/shipping",
      leaseMs: 60_000,
      settleMs: 0,
      credentials: bad,
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).not.toContain(SECRET);
    for (const stream of STREAMS) expect(await cursor(stream)).toBe(0);
    expect(await keys("unit", "refused/")).toEqual([]);
    // And with no credentials at all, the round says which variables to set.
    await expect(
      shipOnce(world.db, config, {
        owner: "worker-a/shipping",
        leaseMs: 60_000,
        credentials: s3Credentials({}),
      }),
    ).rejects.toThrow("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  });

  it("with a folder and a bucket: a crash after the folder, before the upload, uploads the folder's segment", async () => {
    const folder = tempDir("hyperion-shipped-both-");
    dirs.push(folder);
    const config = { intervalSeconds: 1, folder, s3: s3Config("both") } as ShippingConfig;
    const a = { owner: "worker-a/shipping", leaseMs: 60_000, settleMs: 0, credentials };
    const first = await shipOnce(world.db, config, a);
    const ev = first.find((s) => s.stream === "events");
    expect(ev).toBeDefined();
    if (!ev) return;
    expect(fs.readdirSync(folder).sort()).toEqual(
      (await keys("both")).map((k) => k.slice("audit/".length)),
    );
    // The segment in the folder, not in the bucket, the cursor before it.
    await client.send(new DeleteObjectCommand({ Bucket: "both", Key: `audit/${ev.segment}` }));
    await world.db
      .update(logShipments)
      .set({ lastId: ev.first - 1 })
      .where(sql`${logShipments.stream} = 'events'`);
    expect(await shipOnce(world.db, config, a)).toEqual([{ ...ev, rows: 0 }]);
    const body = await client.send(
      new GetObjectCommand({ Bucket: "both", Key: `audit/${ev.segment}` }),
    );
    expect(await body.Body?.transformToString()).toBe(
      fs.readFileSync(path.join(folder, ev.segment), "utf8"),
    );
  });
});

describe("the worker shipping to a bucket", () => {
  it("refuses to start with a bucket and no credentials, naming the variables", async () => {
    configureShipping(world, { intervalSeconds: 1, s3: s3Config("worker") });
    const res = await execa("node", [BIN, "worker"], {
      env: { ...worldEnv(world), AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
      reject: false,
    });
    expect(res.exitCode, res.stderr).toBe(2);
    expect(res.stderr).toContain(
      "shipping.s3 needs the bucket's credentials in the environment: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
  }, 120_000);

  it("SIGKILLed while it ships and started again: every row uploaded once, ids contiguous, the secret in no log", async () => {
    configureShipping(world, { intervalSeconds: 1, s3: s3Config("worker") });
    const env = {
      ...worldEnv(world),
      AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: SECRET,
      HYPERION_LOG: "1",
      HYPERION_LEASE_MS: "1500",
    };
    await addLogRows(world.db, 5);
    let worker = workers.start(env);
    await workers.until(worker, async () => (await cursor("change_queue_logs")) > 0);
    worker.kill("SIGKILL");
    await worker;

    await addLogRows(world.db, 7);
    worker = workers.start(env);
    const target = { change_queue_logs: await maxId("change_queue_logs"), events: 0 };
    await workers.until(worker, () => caughtUp(world.db, target));
    worker.kill("SIGTERM");
    const stopped = await worker;
    expect([stopped.exitCode, stopped.signal], stopped.stderr.slice(-3000)).toEqual([0, undefined]);
    // What the worker wrote while stopping is shipped by the next round; here, by hand.
    await shipOnce(world.db, { intervalSeconds: 1, s3: s3Config("worker") } as ShippingConfig, {
      owner: "test/shipping",
      leaseMs: 60_000,
      settleMs: 0,
      credentials,
    });
    const all = { change_queue_logs: 0, events: 0 };
    for (const s of STREAMS) all[s] = await maxId(s);
    expect(await caughtUp(world.db, all)).toBe(true);

    const shipped = await uploadedIds("worker");
    for (const stream of STREAMS) expect(shipped[stream]).toEqual(range(await cursor(stream)));
    expect(workers.stderr).toContain("audit log shipped");
    expect(workers.stderr).not.toContain(SECRET);
  }, 600_000);
});

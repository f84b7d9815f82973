import http from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AlertRule, AlertRules } from "@/schemas/alerts";
import { alertDeliveries, alerts, events, remotes, workerHeartbeats } from "@/server/db/schema";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { backoffMs, deliverDue } from "./deliver";
import { evaluateAlerts } from "./evaluate";
import { listAlerts, openAlertCount } from "./list";

const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;

type Received = { headers: http.IncomingHttpHeaders; body: string };

/** A webhook receiver: answers each POST with the next status of `script` (then the last one). */
async function receiver(script: (number | "hang")[]) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const answer = script[Math.min(received.length - 1, script.length - 1)];
      if (answer === "hang") return; // never answers
      res.writeHead(answer ?? 200, { "content-type": "text/plain" });
      res.end(answer === 200 ? "ok" : "receiver is down");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/hyperion`;
  return {
    url,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const silentRule = (url: string, extra: Record<string, unknown> = {}): AlertRule[] =>
  AlertRules.parse([
    { kind: "worker_silent", seconds: 60, webhooks: [{ url, secret: SECRET, ...extra }] },
  ]);

let world: TestWorld;
const T0 = 1_800_000_000_000;

beforeAll(async () => {
  world = await makeWorld();
});
afterAll(() => world.cleanup());

beforeEach(async () => {
  await world.db.delete(alertDeliveries);
  await world.db.delete(alerts);
  await world.db.delete(workerHeartbeats);
  await world.db.delete(remotes);
});

/** A worker that beat last at `beatAt` and never said it stopped. */
async function deadWorker(id: string, beatAt: number) {
  await world.db
    .insert(workerHeartbeats)
    .values({ id, pid: 4242, host: "build-7", startedAt: beatAt - 1000, beatAt });
}

async function deliveries() {
  return await world.db.select().from(alertDeliveries).orderBy(alertDeliveries.id);
}

describe("an alert reaches its webhook", () => {
  it("fires once for a silent worker, and its delivery verifies with the library", async () => {
    const hook = await receiver([200]);
    try {
      const rules = silentRule(hook.url);
      await deadWorker("worker-gone", T0 - 120_000);
      const fired = await evaluateAlerts(world.db, rules, { now: T0 });
      expect(fired).toHaveLength(1);
      expect(fired[0]).toMatchObject({ kind: "worker_silent", subjectType: "host" });
      // Another pass, or another worker host on the same database, stores nothing more.
      const again = await Promise.all([
        evaluateAlerts(world.db, rules, { now: T0 + 1000 }),
        evaluateAlerts(world.db, rules, { now: T0 + 1000 }),
      ]);
      expect(again.flat()).toHaveLength(0);
      expect(await world.db.select().from(alerts)).toHaveLength(1);
      expect(await openAlertCount(world.db)).toBe(1);

      // Two workers send at once: the lease lets one of them.
      const tried = await Promise.all([
        deliverDue(world.db, rules, { owner: "w1", clock: () => T0 + 2000 }),
        deliverDue(world.db, rules, { owner: "w2", clock: () => T0 + 2000 }),
      ]);
      expect(tried[0] + tried[1]).toBe(1);
      expect(hook.received).toHaveLength(1);
      const got = hook.received[0] as Received;
      const payload = new Webhook(SECRET).verify(got.body, got.headers as Record<string, string>);
      expect(payload).toMatchObject({
        type: "alert.fired",
        data: { kind: "worker_silent", subject: { type: "host", id: "worker-gone" } },
      });
      expect(got.headers["webhook-id"]).toMatch(/^msg_/);
      // A wrong secret does not verify.
      const other = `whsec_${Buffer.from("another-secret-of-32-bytes-long!").toString("base64")}`;
      expect(() =>
        new Webhook(other).verify(got.body, got.headers as Record<string, string>),
      ).toThrow();
      const [d] = await deliveries();
      expect(d).toMatchObject({ state: "delivered", attempts: 1, lastStatus: 200 });

      const types = (await world.db.select().from(events).where(eq(events.topic, "alert"))).map(
        (e) => e.type,
      );
      expect(types).toEqual(["alert.fired", "delivery.sending", "delivery.delivered"]);

      // The worker beats again: the alert is resolved, once.
      await world.db
        .update(workerHeartbeats)
        .set({ beatAt: T0 + 5000 })
        .where(eq(workerHeartbeats.id, "worker-gone"));
      await evaluateAlerts(world.db, rules, { now: T0 + 6000 });
      expect(await openAlertCount(world.db)).toBe(0);
      const [a] = await world.db.select().from(alerts);
      expect(a?.resolvedAt).toBe(T0 + 6000);
    } finally {
      await hook.close();
    }
  });

  it("a receiver that answers 500 twice gets the third try, and it is delivered", async () => {
    const hook = await receiver([500, 500, 200]);
    try {
      const rules = silentRule(hook.url);
      await deadWorker("worker-flaky", T0 - 120_000);
      await evaluateAlerts(world.db, rules, { now: T0 });
      let now = T0;
      const clock = () => now;
      expect(await deliverDue(world.db, rules, { owner: "w1", clock })).toBe(1);
      expect((await deliveries())[0]).toMatchObject({
        state: "retrying",
        attempts: 1,
        lastStatus: 500,
        nextAttemptAt: T0 + backoffMs(1),
      });
      expect((await deliveries())[0]?.lastError).toContain("answered 500: receiver is down");
      // Not due yet: nothing is sent.
      expect(await deliverDue(world.db, rules, { owner: "w1", clock })).toBe(0);
      now += backoffMs(1);
      expect(await deliverDue(world.db, rules, { owner: "w1", clock })).toBe(1);
      expect((await deliveries())[0]).toMatchObject({ state: "retrying", attempts: 2 });
      now += backoffMs(2);
      expect(await deliverDue(world.db, rules, { owner: "w1", clock })).toBe(1);
      expect((await deliveries())[0]).toMatchObject({
        state: "delivered",
        attempts: 3,
        lastStatus: 200,
      });
      expect(hook.received).toHaveLength(3);
      // Every try carries the same webhook-id, so a receiver can drop a repeat.
      expect(new Set(hook.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
    } finally {
      await hook.close();
    }
  });

  it("a receiver that never answers ends dead-lettered, and the list shows it", async () => {
    const hook = await receiver(["hang"]);
    try {
      const rules = silentRule(hook.url);
      await deadWorker("worker-lost", T0 - 120_000);
      await evaluateAlerts(world.db, rules, { now: T0, maxAttempts: 3 });
      let now = T0;
      const clock = () => now;
      for (let i = 1; i <= 3; i++) {
        expect(await deliverDue(world.db, rules, { owner: "w1", clock, timeoutMs: 300 })).toBe(1);
        now += backoffMs(i);
      }
      const [d] = await deliveries();
      expect(d).toMatchObject({ state: "dead", attempts: 3, lastStatus: null });
      expect(d?.lastError).toBe("no answer within 0.3 s");
      // Dead is dead: nothing more is tried.
      expect(await deliverDue(world.db, rules, { owner: "w1", clock })).toBe(0);
      const list = await listAlerts(world.db);
      expect(list.alerts[0]?.deliveries[0]).toMatchObject({
        state: "dead",
        attempts: 3,
        maxAttempts: 3,
        lastError: "no answer within 0.3 s",
        // The path (a token, on Slack) is not shown.
        target: `${new URL(hook.url).origin}/…`,
      });
    } finally {
      await hook.close();
    }
  });

  it("a redirect is not followed; a webhook taken out of the config is dead-lettered", async () => {
    const hook = await receiver([307]);
    try {
      const rules = silentRule(hook.url);
      await deadWorker("worker-moved", T0 - 120_000);
      await evaluateAlerts(world.db, rules, { now: T0 });
      await deliverDue(world.db, rules, { owner: "w1", clock: () => T0 });
      expect((await deliveries())[0]).toMatchObject({ state: "retrying", lastStatus: 307 });
      expect((await deliveries())[0]?.lastError).toContain("does not follow redirects");
      const without = AlertRules.parse([{ kind: "worker_silent", seconds: 60 }]);
      await deliverDue(world.db, without, { owner: "w1", clock: () => T0 + 3_600_000 });
      expect((await deliveries())[0]).toMatchObject({
        state: "dead",
        lastError: "the webhook is no longer in the config",
      });
    } finally {
      await hook.close();
    }
  });

  it("a Slack-compatible body is {text}, and a delivery left by a dead worker is tried again", async () => {
    const hook = await receiver([200]);
    try {
      const rules = AlertRules.parse([
        { kind: "remote_unreachable", webhooks: [{ url: hook.url, format: "slack" }] },
      ]);
      await world.db.insert(remotes).values({
        repo: "demo",
        url: "https://git.example.test/demo.git",
        failure: "unreachable",
        failureMessage: "could not resolve host git.example.test",
        failedAt: T0,
        updatedAt: T0,
      });
      const [fired] = await evaluateAlerts(world.db, rules, { now: T0 });
      expect(fired?.summary).toContain("The remote of demo cannot be reached");
      // A worker took it and died: its lease runs out, and the next pass sends it.
      const [d] = await deliveries();
      await world.db
        .update(alertDeliveries)
        .set({ state: "sending", attempts: 1, leaseOwner: "dead", leaseExpiresAt: T0 + 10 })
        .where(eq(alertDeliveries.id, d?.id ?? 0));
      expect(await deliverDue(world.db, rules, { owner: "w2", clock: () => T0 + 60_000 })).toBe(1);
      expect((await deliveries())[0]).toMatchObject({ state: "delivered", attempts: 2 });
      const body = JSON.parse(hook.received[0]?.body ?? "{}");
      expect(Object.keys(body)).toEqual(["text"]);
      expect(body.text).toContain("A remote repository cannot be reached");
      expect(hook.received[0]?.headers["webhook-signature"]).toBeUndefined();
    } finally {
      await hook.close();
    }
  });
});

// Hostile input against sign-in, passwords, user creation, live views and error texts. Every
// case names the refusal (or the safe fallback) it expects and checks that nothing it should
// not have written was written.
import path from "node:path";
import { TRPCError } from "@trpc/server";
import bcrypt from "bcryptjs";
import { count, eq } from "drizzle-orm";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { safeCallbackPath } from "@/server/auth/callback-url";
import { clientAddress } from "@/server/auth/client-address";
import { verifyCredentials } from "@/server/auth/credentials";
import { authOptions } from "@/server/auth/options";
import { LOCKED_MESSAGE, PASSWORD_TOO_LONG_MESSAGE } from "@/server/auth/sign-in-messages";
import {
  ACCOUNT_ADDRESS_LIMIT,
  ADDRESS_LIMIT,
  delayFor,
  MAX_DELAY_MS,
  MAX_WAIT_MS,
  recordAttempt,
} from "@/server/auth/throttle";
import { loginAttempts, users } from "@/server/db/schema";
import { ConflictError, ValidationError } from "@/server/errors";
import { LiveInput, liveCursor } from "@/server/events/log";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import { addUser, type User } from "@/server/users/service";
import { createToken, userForToken } from "@/server/users/tokens";
import { makeWorld, type TestWorld, worldEnv } from "@/test-support/fixtures";
import { callOverHttp, contextFor, seedFailedRequest } from "@/test-support/trpc-fixtures";

let world: TestWorld;
let requester: User;
let seeded: Awaited<ReturnType<typeof seedFailedRequest>>;
const VICTIM = { email: "victim@example.test", password: "victim-password-1" };

beforeAll(async () => {
  world = await makeWorld();
  requester = await world.userWith("requester");
  await addUser(world.db, { email: VICTIM.email, role: "operator", password: VICTIM.password });
  seeded = await seedFailedRequest(world, requester);
});
afterAll(async () => {
  delete runtimeSlot().__hyperionRuntime;
  await world.cleanup();
});
beforeEach(async () => {
  await world.db.delete(loginAttempts);
});

// ── helpers ───────────────────────────────────────────────────────────────────

const runtimeSlot = () => globalThis as { __hyperionRuntime?: { env: unknown; db: unknown } };

/** The next-auth options the app serves, on this test's data directory. */
function options(trustProxy = false) {
  runtimeSlot().__hyperionRuntime = {
    env: { ...world.env, HYPERION_TRUST_PROXY: trustProxy ? "1" : "0" },
    db: world.db,
  };
  return authOptions();
}

type Authorize = (
  credentials: Record<string, string>,
  req: { headers: Record<string, string>; body: object; query: object; method: string },
) => Promise<{ id: string; email: string } | null>;

/** next-auth's `authorize` as the credentials callback calls it: a user, null, or a thrown text. */
async function signIn(
  email: string,
  password: string,
  headers: Record<string, string> = {},
  trustProxy = false,
): Promise<string> {
  const provider = options(trustProxy).providers[0] as unknown as {
    options: { authorize: Authorize };
  };
  try {
    const user = await provider.options.authorize(
      { email, password },
      { headers, body: {}, query: {}, method: "POST" },
    );
    return user ? `signed in as ${user.email}` : "CredentialsSignin";
  } catch (err) {
    return (err as Error).message;
  }
}

async function redirectCallback(url: string, baseUrl = "http://127.0.0.1:3000") {
  return options().callbacks?.redirect?.({ url, baseUrl });
}

const attemptRows = async () =>
  (await world.db.select({ n: count() }).from(loginAttempts).limit(1))[0]?.n ?? 0;
const userCount = async () =>
  (await world.db.select({ n: count() }).from(users).limit(1))[0]?.n ?? 0;
const hashOf = async (email: string) =>
  (await world.db.select().from(users).where(eq(users.email, email)).limit(1))[0]?.passwordHash;

function recordingSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

const caller = (user: User | null) => createCallerFactory(appRouter)(contextFor(world, user));

async function trpcCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (err) {
    return err instanceof TRPCError ? err.code : `THREW ${(err as Error).name}`;
  }
}

// ── callbackUrl ───────────────────────────────────────────────────────────────

// The query string as an attacker writes it, and the path the user may be sent to.
const callbackCases: [name: string, query: string, expected: string][] = [
  ["protocol-relative //host", "%2F%2Fevil.example", "/"],
  ["backslash /\\host", "%2F%5Cevil.example", "/"],
  ["tab between slashes /\\t/host", "%2F%09%2Fevil.example", "/"],
  ["newline between slashes /\\n/host", "%2F%0A%2Fevil.example", "/"],
  ["a lone newline (was a 500)", "%0A", "/"],
  [
    "CRLF header injection",
    "%2F%0D%0ALocation%3A%20https%3A%2F%2Fevil.example",
    "/Location:%20https://evil.example",
  ],
  ["an absolute https URL", "https%3A%2F%2Fevil.example%2F", "/"],
  ["a scheme-relative https:host", "https%3Aevil.example", "/"],
  ["javascript:", "javascript%3Aalert(document.cookie)", "/"],
  ["data:", "data%3Atext%2Fhtml%2C%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/"],
  ["userinfo trick", "http%3A%2F%2F127.0.0.1%3A3000%40evil.example%2F", "/"],
  ["double backslash \\\\host", "%5C%5Cevil.example", "/"],
  ["leading space before //host", "%20%2F%2Fevil.example", "/"],
  ["dot segment /.//host", "%2F.%2F%2Fevil.example", "/evil.example"],
  ["ideographic full stop //evil。example", "%2F%2Fevil%E3%80%82example", "/"],
  ["another port on the same host", "http%3A%2F%2F127.0.0.1%3A3001%2F", "/"],
  ["a very long value", `%2F${"a".repeat(5000)}`, "/"],
  ["encoded dot-dot stays on the site", "%2F%252e%252e%2F%252e%252e%2Fetc", "/etc"],
  ["an ordinary path is kept", "%2Frequests%2F7%3Ffiled%3D1%23top", "/requests/7?filed=1#top"],
];

describe("callbackUrl", () => {
  it.each(callbackCases)("%s: the sign-in page returns to %j", async (_name, query, expected) => {
    const value = new URLSearchParams(`callbackUrl=${query}`).get("callbackUrl");
    expect(safeCallbackPath(value)).toBe(expected);
    const target = new URL((await redirectCallback(value ?? "")) ?? "");
    expect(target.origin).toBe("http://127.0.0.1:3000");
    expect(`${target.pathname}${target.search}${target.hash}`).toBe(expected);
  });

  it("a repeated callbackUrl (an array in searchParams) falls back to /", () => {
    expect(safeCallbackPath(["/history", "//evil.example"])).toBe("/");
  });
});

// ── passwords at sign-in ──────────────────────────────────────────────────────

describe("passwords", () => {
  it.each([
    ["empty", ""],
    ["the right one with a trailing space", `${VICTIM.password} `],
    ["the right one followed by a NUL and more", `${VICTIM.password}\u0000anything`],
    ["the right one in upper case", VICTIM.password.toUpperCase()],
  ])("a wrong password (%s) is refused and counted", async (_name, password) => {
    const hash = await hashOf(VICTIM.email);
    expect(await signIn(VICTIM.email, password)).toBe("CredentialsSignin");
    expect(await attemptRows()).toBe(1);
    expect(await hashOf(VICTIM.email)).toBe(hash);
  });

  it.each([
    ["1 025 characters", 1025],
    ["a megabyte", 1024 * 1024],
  ])("a password of %s is refused with the limit, counted, and never hashed", async (_n, size) => {
    const hash = await hashOf(VICTIM.email);
    expect(await signIn(VICTIM.email, "x".repeat(size))).toBe(PASSWORD_TOO_LONG_MESSAGE);
    expect(await attemptRows()).toBe(1);
    expect(await hashOf(VICTIM.email)).toBe(hash);
  });

  it("a 100-byte password is checked in full: its twin after byte 72 is refused", async () => {
    const password = `${"ü".repeat(36)}${"k".repeat(28)}`;
    expect(Buffer.byteLength(password)).toBe(100);
    await addUser(world.db, { email: "long@example.test", role: "requester", password });
    const twin = `${password.slice(0, -1)}q`;
    expect(await signIn("long@example.test", twin)).toBe("CredentialsSignin");
    expect(await signIn("long@example.test", password)).toBe("signed in as long@example.test");
  });

  it("a unicode password must match exactly: its NFD form is another password", async () => {
    const password = "pässwörd-密码-🔑-Ω";
    await addUser(world.db, { email: "unicode@example.test", role: "requester", password });
    expect(await signIn("unicode@example.test", password.normalize("NFD"))).toBe(
      "CredentialsSignin",
    );
    expect(await signIn("unicode@example.test", password)).toBe(
      "signed in as unicode@example.test",
    );
  });

  it("a bcrypt user over 72 bytes signs in once, is moved to argon2id, and the cut closes", async () => {
    const password = `${"b".repeat(72)}-the-real-tail`;
    const { user } = await addUser(world.db, { email: "legacy@example.test", role: "requester" });
    await world.db
      .update(users)
      .set({ passwordHash: bcrypt.hashSync(password, 4) })
      .where(eq(users.id, user.id));
    expect(await signIn(user.email, password)).toBe(`signed in as ${user.email}`);
    expect(await hashOf(user.email)).toMatch(/^\$argon2id\$/);
    expect(await signIn(user.email, `${"b".repeat(72)}-another-tail`)).toBe("CredentialsSignin");
  });
});

// ── emails ────────────────────────────────────────────────────────────────────

const badEmails: [name: string, email: string, message: RegExp][] = [
  ["2 000 characters", `${"a".repeat(1990)}@x.example`, /email: must be at most 254 characters/],
  ["255 characters", `${"a".repeat(64)}@${"b".repeat(182)}.example`, /email: must be at most 254/],
  ["a NUL byte", "ad\u0000min@example.test", /email: must be an email address/],
  ["CRLF and a header", "a@example.test\r\nBcc: all@example.test", /email: must be an email/],
  ["a tab", "a\t@example.test", /email: must be an email address/],
  ["a right-to-left override", "admin\u202e@example.test", /email: must be an email address/],
  ["no @ at all", "administrator", /email: must be an email address/],
];

describe("emails", () => {
  it.each(badEmails)(
    "user add refuses an email with %s and creates no user",
    async (_n, email, message) => {
      const before = await userCount();
      const err = await addUser(world.db, { email, role: "requester" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(message);
      expect(await userCount()).toBe(before);
    },
  );

  it("user add refuses an existing email in another case and creates no user", async () => {
    const before = await userCount();
    const err = await addUser(world.db, { email: "ADMIN@Hyperion.Local", role: "admin" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConflictError);
    expect(await userCount()).toBe(before);
  });

  it("user.add over tRPC refuses a 2 000-character email with BAD_REQUEST naming the field", async () => {
    const before = await userCount();
    const res = await callOverHttp(
      world,
      world.admin,
      "user.add",
      { email: `${"a".repeat(1990)}@x.example`, role: "requester" },
      { method: "POST" },
    );
    expect(res.status).toBe(400);
    expect(res.body?.error?.data.issues).toEqual([
      { path: "email", message: "must be at most 254 characters" },
    ]);
    expect(await userCount()).toBe(before);
  });

  it.each([
    [
      "a 2 000-character email",
      [`${"a".repeat(1990)}@x.example`],
      {},
      "email: must be at most 254 characters",
    ],
    [
      "a 1 025-character HYPERION_NEW_PASSWORD",
      ["cli@example.test"],
      { HYPERION_NEW_PASSWORD: "x".repeat(1025) },
      "HYPERION_NEW_PASSWORD: must be at most 1024 characters",
    ],
  ])(
    "hyperion user add with %s exits 1 naming it, and adds no one",
    async (_n, args, env, text) => {
      const before = await userCount();
      const res = await execa(
        "node",
        [path.resolve("bin/hyperion.mjs"), "user", "add", ...args, "--role", "requester"],
        { env: { ...worldEnv(world), ...env }, reject: false },
      );
      expect(res.exitCode).toBe(1);
      expect(res.stderr).toContain(text);
      expect(await userCount()).toBe(before);
    },
  );

  it("sign-in with a 2 000-character email is refused and not worth a row", async () => {
    expect(await signIn(`${"a".repeat(1990)}@x.example`, "whatever")).toBe("CredentialsSignin");
    expect(await attemptRows()).toBe(0);
  });

  it("sign-in with a NUL in the email is refused; surrounding whitespace is only trimmed", async () => {
    expect(await signIn(`${VICTIM.email}\u0000`, VICTIM.password)).toBe("CredentialsSignin");
    expect(await signIn(`${VICTIM.email}\r\n`, VICTIM.password)).toBe(
      `signed in as ${VICTIM.email}`,
    );
  });
});

// ── guessing and lockout abuse ────────────────────────────────────────────────

describe("guessing", () => {
  const T = 7_000_000;
  /**
   * How long guesses arriving together on a fresh account wait: each turn comes its delay after
   * the one before; the 15th would be 63.75 s away, past MAX_WAIT_MS, and is refused at once.
   */
  const TURNS = [0, 0, 0, 250, 750, 1750, 3750, 7750, 15750, 23750, 31750, 39750, 47750, 55750];
  const BUSY = { ok: false, reason: "locked", retryAfterMs: 55750 + MAX_DELAY_MS - MAX_WAIT_MS };

  it("40 concurrent wrong guesses are all recorded before any is checked, and take turns", async () => {
    const { delays, sleep } = recordingSleep();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        verifyCredentials(world.db, VICTIM.email, `guess-${i}`, {
          address: `10.1.0.${i}`,
          sleep,
          now: () => T,
        }),
      ),
    );
    expect(await attemptRows()).toBe(40);
    expect(delays).toEqual(TURNS);
    expect(delays[4]).toBeGreaterThan(delays[3] ?? 0);
    expect(results.slice(0, TURNS.length).every((r) => !r.ok && r.reason === "invalid")).toBe(true);
    expect(results.slice(TURNS.length)).toEqual(Array(40 - TURNS.length).fill(BUSY));
  });

  it("guesses that arrive MAX_DELAY_MS apart each wait only their own delay", async () => {
    const { delays, sleep } = recordingSleep();
    for (let i = 0; i < 40; i++) {
      const r = await verifyCredentials(world.db, VICTIM.email, `guess-${i}`, {
        address: `10.1.0.${i}`,
        sleep,
        now: () => T + i * MAX_DELAY_MS,
      });
      expect(r).toEqual({ ok: false, reason: "invalid" });
    }
    expect(delays).toEqual(Array.from({ length: 40 }, (_, n) => delayFor(n)));
    expect(delays[39]).toBe(MAX_DELAY_MS);
  });

  it("40 concurrent guesses from one address on one account: all recorded, the last 20 refused unchecked", async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        verifyCredentials(world.db, VICTIM.email, i === 39 ? VICTIM.password : `g${i}`, {
          address: "203.0.113.5",
          sleep: async () => {},
          now: () => T,
        }),
      ),
    );
    expect(await attemptRows()).toBe(40);
    expect(results.slice(ACCOUNT_ADDRESS_LIMIT)).toEqual(
      Array(40 - ACCOUNT_ADDRESS_LIMIT).fill({ ok: false, reason: "locked" }),
    );
    expect(results[39]).toEqual({ ok: false, reason: "locked" });
    // Before that, those whose turn would be more than a minute away are refused too.
    expect(results.slice(TURNS.length, ACCOUNT_ADDRESS_LIMIT)).toEqual(
      Array(ACCOUNT_ADDRESS_LIMIT - TURNS.length).fill(BUSY),
    );
  });

  it("a stranger's failures slow the owner down but never lock the owner out", async () => {
    for (let i = 0; i < 40; i++) {
      await verifyCredentials(world.db, VICTIM.email, `g${i}`, {
        address: "198.51.100.66",
        sleep: async () => {},
        now: () => T,
      });
    }
    const { delays, sleep } = recordingSleep();
    // The stranger's guesses hold the account's turns for the next minute: the owner is told
    // when the next one comes within reach, and then waits at most MAX_WAIT_MS for it.
    const soon = await verifyCredentials(world.db, VICTIM.email, VICTIM.password, {
      address: "192.0.2.44",
      sleep,
      now: () => T,
    });
    expect(soon).toEqual(BUSY);
    const later = () => T + BUSY.retryAfterMs;
    const owner = await verifyCredentials(world.db, VICTIM.email, VICTIM.password, {
      address: "192.0.2.44",
      sleep,
      now: later,
    });
    expect(owner).toMatchObject({ ok: true });
    expect(delays).toEqual([MAX_WAIT_MS]);
    const stranger = await verifyCredentials(world.db, VICTIM.email, VICTIM.password, {
      address: "198.51.100.66",
      sleep,
      now: later,
    });
    expect(stranger).toEqual({ ok: false, reason: "locked" });
    // Refused on that account only: the same address is still heard on another.
    const elsewhere = await verifyCredentials(world.db, "other@example.test", "x", {
      address: "198.51.100.66",
      sleep,
      now: later,
    });
    expect(elsewhere).toEqual({ ok: false, reason: "invalid" });
    expect(await attemptRows()).toBe(42);
  });

  it('without the start-up hook every client is "unknown": guesses are slowed, never refused for it', async () => {
    const { delays, sleep } = recordingSleep();
    const guesses = ACCOUNT_ADDRESS_LIMIT + 5;
    for (let i = 0; i < guesses; i++) {
      const address = clientAddress({ "x-forwarded-for": `10.8.${i}.1` }, { trustProxy: false });
      expect(address).toBe("unknown");
      const now = () => T + i * MAX_DELAY_MS;
      const r = await verifyCredentials(world.db, VICTIM.email, `g${i}`, { address, sleep, now });
      expect(r).toEqual({ ok: false, reason: "invalid" });
    }
    // The owner, who under `next dev` shares the address with the guesser, still gets in.
    const owner = await verifyCredentials(world.db, VICTIM.email, VICTIM.password, {
      address: clientAddress({}, { trustProxy: false }),
      sleep,
      now: () => T + guesses * MAX_DELAY_MS,
    });
    expect(owner).toMatchObject({ ok: true });
    expect(delays.at(-1)).toBe(MAX_DELAY_MS);
  });

  it("a forged X-Forwarded-For earns no fresh address without HYPERION_TRUST_PROXY", async () => {
    // As client-address-hook.mjs leaves a request: its mark set, the socket's peer in its header.
    const mark = Symbol.for("hyperion.clientAddressHook");
    const slot = globalThis as Record<symbol, unknown>;
    slot[mark] = true;
    try {
      const results: string[] = [];
      for (let i = 0; i < ACCOUNT_ADDRESS_LIMIT + 2; i++) {
        const address = clientAddress(
          { "x-hyperion-client-address": "192.0.2.7", "x-forwarded-for": `10.9.${i}.1` },
          { trustProxy: false },
        );
        const r = await verifyCredentials(world.db, VICTIM.email, `g${i}`, {
          address,
          sleep: async () => {},
          now: () => T + i * MAX_DELAY_MS,
        });
        results.push(r.ok ? "ok" : r.reason);
      }
      expect(results.slice(0, ACCOUNT_ADDRESS_LIMIT).every((r) => r === "invalid")).toBe(true);
      expect(results.slice(ACCOUNT_ADDRESS_LIMIT)).toEqual(["locked", "locked"]);
    } finally {
      delete slot[mark];
    }
  });

  it("behind a trusted proxy a sprayer is refused on every account by its own entry, not the client's prefix", async () => {
    const headers = { "x-forwarded-for": "192.0.2.250, 203.0.113.77" };
    // One failure on each of many accounts, short of the ceiling by one…
    for (let i = 0; i < ADDRESS_LIMIT - 1; i++) {
      await recordAttempt(world.db, { email: `spray${i}@example.test`, address: "203.0.113.77" });
    }
    // …and the last one through the sign-in form, keyed by the proxy's entry.
    expect(await signIn("spray-last@example.test", "x", headers, true)).toBe("CredentialsSignin");
    expect(await signIn(VICTIM.email, VICTIM.password, headers, true)).toBe(LOCKED_MESSAGE);
    const other = { "x-forwarded-for": "192.0.2.250, 203.0.113.78" };
    expect(await signIn(VICTIM.email, VICTIM.password, other, true)).toBe(
      `signed in as ${VICTIM.email}`,
    );
  });

  it("a success clears only the failures of its own address on that account", async () => {
    for (const address of ["a", "a", "b"]) {
      await verifyCredentials(world.db, VICTIM.email, "x", { address, sleep: async () => {} });
    }
    await verifyCredentials(world.db, VICTIM.email, VICTIM.password, {
      address: "a",
      sleep: async () => {},
    });
    const left = await world.db.select().from(loginAttempts);
    expect(left.map((r) => r.address)).toEqual(["b"]);
  });
});

// ── live views ────────────────────────────────────────────────────────────────

describe("lastEventId", () => {
  it.each([
    ["request", "abc"],
    ["request", "-1"],
    ["request", "1e3"],
    ["request", ""],
    ["request", " 12"],
    ["request", "9".repeat(400)],
    ["queue", "NaN"],
    ["queue", "0x10"],
  ] as const)("%s.live refuses lastEventId %j with BAD_REQUEST", async (topic, lastEventId) => {
    const err = await caller(world.admin)
      [topic].live({ lastEventId })
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect((err as TRPCError).code).toBe("BAD_REQUEST");
    expect((err as TRPCError).message).toContain("lastEventId");
  });

  it("a numeric lastEventId is where the stream resumes", async () => {
    const input = LiveInput.parse({ lastEventId: "12" });
    expect(await liveCursor(input, async () => 99)).toBe(12);
  });

  it("a bad Last-Event-ID header gets an error event with status 400, not a silent stream", async () => {
    const res = await callOverHttp(
      world,
      requester,
      "request.live",
      {},
      {
        headers: { "last-event-id": "1; DROP TABLE events" },
      },
    );
    expect(res.stream).toMatch(/event: serialized-error/);
    expect(res.stream).toMatch(/"code":"BAD_REQUEST","httpStatus":400/);
    expect(res.stream).toMatch(/"path":"lastEventId"/);
  });
});

// ── server paths in error texts ───────────────────────────────────────────────

describe("server paths", () => {
  it("a requester's request detail names no server path", async () => {
    const detail = await caller(requester).request.detail({ id: seeded.requestId });
    expect(JSON.stringify(detail)).not.toContain(world.dir);
    expect(detail?.changes[0]?.lastError?.message).toContain("<server path>");
  });

  it("a reviewer's queue overview names no server path", async () => {
    const reviewer = await world.userWith("reviewer");
    expect(JSON.stringify(await caller(reviewer).queue.overview())).not.toContain(world.dir);
  });

  it("an API token of a non-admin gets the same redaction", async () => {
    const { token } = await createToken(world.db, requester, "script");
    const user = (await userForToken(world.db, token)) ?? null;
    const ctx = { ...contextFor(world, user), via: "token" as const };
    const detail = await createCallerFactory(appRouter)(ctx).request.detail({
      id: seeded.requestId,
    });
    expect(JSON.stringify(detail)).not.toContain(seeded.repoPath);
  });

  it("an error message naming the config file is redacted for a requester, not an admin", async () => {
    const env = { ...world.env, configPath: path.join(world.dir, "gone", "hyperion.config.json") };
    const asRequester = await callOverHttp(world, requester, "system.status", undefined, { env });
    expect(asRequester.body?.error?.message).not.toContain(world.dir);
    expect(asRequester.body?.error?.message).toContain("<server path>");
    const asAdmin = await callOverHttp(world, world.admin, "system.status", undefined, { env });
    expect(asAdmin.body?.error?.message).toContain(env.configPath);
  });

  it("an anonymous caller's error names no server path either", async () => {
    expect(await trpcCode(caller(null).request.detail({ id: seeded.requestId }))).toBe(
      "UNAUTHORIZED",
    );
    const res = await callOverHttp(world, null, "request.detail", { id: seeded.requestId });
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toContain(world.dir);
  });
});

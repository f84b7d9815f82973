import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddress } from "./client-address";

describe("clientAddress without the start-up hook", () => {
  it("believes X-Forwarded-For only behind a trusted proxy, and then its last entry", () => {
    const headers = { "x-forwarded-for": "6.6.6.6, 192.0.2.10" };
    expect(clientAddress(headers, { trustProxy: true })).toBe("192.0.2.10");
    expect(clientAddress(headers, { trustProxy: false })).toBe("unknown");
    expect(clientAddress(new Headers(headers), { trustProxy: true })).toBe("192.0.2.10");
  });

  it("ignores the hook's header when the hook is not loaded: a client could have sent it", () => {
    const headers = { "x-hyperion-client-address": "192.0.2.99" };
    expect(clientAddress(headers, { trustProxy: false })).toBe("unknown");
  });
});

describe("clientAddress with the start-up hook", () => {
  let server: http.Server;
  let seen: Record<string, string | string[] | undefined> = {};
  beforeAll(async () => {
    // Loaded for its side effect, as `node --import` loads it into the web server.
    await import("./client-address-hook.mjs");
    server = http.createServer((req, res) => {
      seen = req.headers;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function send(headers: Record<string, string>) {
    const { port } = server.address() as AddressInfo;
    await fetch(`http://127.0.0.1:${port}/`, { headers });
    return seen;
  }

  it("takes the socket's address, whatever the client claims", async () => {
    const headers = await send({
      "x-hyperion-client-address": "192.0.2.99",
      "x-forwarded-for": "192.0.2.98",
    });
    expect(clientAddress(headers, { trustProxy: false })).toBe("127.0.0.1");
    expect(clientAddress(headers, { trustProxy: true })).toBe("192.0.2.98");
  });

  it("falls back to the socket behind a proxy when the proxy sent no header", async () => {
    expect(clientAddress(await send({}), { trustProxy: true })).toBe("127.0.0.1");
  });
});

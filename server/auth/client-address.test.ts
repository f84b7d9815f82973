import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddress, UNKNOWN_ADDRESS } from "./client-address";

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
    expect(headers["x-hyperion-client-address"]).toBe("127.0.0.1");
    // This test's client is on loopback, which names no one client (see the next case).
    expect(clientAddress(headers, { trustProxy: false })).toBe(UNKNOWN_ADDRESS);
    expect(clientAddress(headers, { trustProxy: true })).toBe("192.0.2.98");
  });

  it("reports a loopback peer as unknown: everyone on the machine, or an untrusted local proxy", () => {
    const peer = (address: string) =>
      clientAddress({ "x-hyperion-client-address": address }, { trustProxy: false });
    expect(peer("192.0.2.5")).toBe("192.0.2.5");
    expect(peer("::ffff:198.51.100.3")).toBe("198.51.100.3");
    expect(peer("2001:db8::1")).toBe("2001:db8::1");
    for (const loopback of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) {
      expect(peer(loopback)).toBe(UNKNOWN_ADDRESS);
    }
    const viaProxy = { "x-forwarded-for": "192.0.2.7, 127.0.0.1" };
    expect(clientAddress(viaProxy, { trustProxy: true })).toBe(UNKNOWN_ADDRESS);
  });

  it("falls back to the socket behind a proxy when the proxy sent no header", async () => {
    const headers = await send({});
    expect(headers["x-hyperion-client-address"]).toBe("127.0.0.1");
    expect(clientAddress(headers, { trustProxy: true })).toBe(UNKNOWN_ADDRESS);
  });
});

import { describe, expect, it } from "vitest";
import { JsonRpcLines, type RpcHandlers, requestLine } from "./jsonrpc";

type Seen = [string, ...unknown[]];

function conversation(opts: { io?: boolean; serves?: string[] } = {}) {
  const sent: unknown[] = [];
  let ends = 0;
  const io =
    opts.io === false
      ? undefined
      : { write: (line: string) => sent.push(JSON.parse(line)), end: () => ends++ };
  const handlers: RpcHandlers<Seen> = {
    request: (method, params) =>
      opts.serves?.includes(method)
        ? { result: { ok: method }, events: [["request", method, params]] }
        : undefined,
    notification: (method, params) => [["notification", method, params]],
    result: (id, result) => [["result", id, result]],
    error: (id, message) => [["error", id, message]],
  };
  const rpc = new JsonRpcLines(io, handlers, 10);
  return { rpc, sent, ends: () => ends };
}

describe("JsonRpcLines", () => {
  it("hands a notification, an answer and an error answer to their handlers", () => {
    const { rpc, sent } = conversation();
    expect(rpc.line('{"jsonrpc":"2.0","method":"tick","params":{"n":1}}')).toEqual([
      ["notification", "tick", { n: 1 }],
    ]);
    expect(rpc.line('{"jsonrpc":"2.0","id":2,"result":{"ok":true}}')).toEqual([
      ["result", 2, { ok: true }],
    ]);
    expect(rpc.line('{"jsonrpc":"2.0","id":"s","error":{"code":1,"message":"no"}}')).toEqual([
      ["error", "s", "no"],
    ]);
    expect(sent).toEqual([]);
  });

  it("an error without a message is passed on as its JSON", () => {
    const { rpc } = conversation();
    expect(rpc.line('{"jsonrpc":"2.0","id":3,"error":{"code":7}}')).toEqual([
      ["error", 3, '{"code":7}'],
    ]);
  });

  it("answers a request it serves with the handler's result, under the request's id", () => {
    const { rpc, sent } = conversation({ serves: ["ask"] });
    expect(rpc.line('{"jsonrpc":"2.0","id":"q1","method":"ask","params":[1]}')).toEqual([
      ["request", "ask", [1]],
    ]);
    expect(sent).toEqual([{ jsonrpc: "2.0", id: "q1", result: { ok: "ask" } }]);
  });

  it("refuses a request it does not serve as method-not-found, so the peer does not wait", () => {
    const { rpc, sent } = conversation();
    expect(rpc.line('{"jsonrpc":"2.0","id":4,"method":"other/thing"}')).toEqual([]);
    expect(sent).toEqual([
      {
        jsonrpc: "2.0",
        id: 4,
        error: { code: -32601, message: "other/thing is not supported by this client" },
      },
    ]);
  });

  it("a line that is not a JSON object is null; an object of no known kind means nothing", () => {
    const { rpc } = conversation();
    expect(rpc.line("Starting server…")).toBeNull();
    expect(rpc.line("[1,2]")).toBeNull();
    expect(rpc.line("{not json")).toBeNull();
    expect(rpc.line('{"jsonrpc":"2.0","id":null,"result":1}')).toEqual([]);
  });

  it("numbers its requests on from the first free id, even with no one to write to", () => {
    const talking = conversation();
    expect(talking.rpc.call("a", { x: 1 })).toBe(10);
    talking.rpc.request(2, "fixed", null);
    expect(talking.rpc.call("b", {})).toBe(11);
    expect(talking.sent).toEqual([
      { jsonrpc: "2.0", id: 10, method: "a", params: { x: 1 } },
      { jsonrpc: "2.0", id: 2, method: "fixed", params: null },
      { jsonrpc: "2.0", id: 11, method: "b", params: {} },
    ]);
    const reading = conversation({ io: false });
    expect(reading.rpc.call("a", {})).toBe(10);
    expect(reading.rpc.call("a", {})).toBe(11);
  });

  it("sends a notification without params, and ends its side once", () => {
    const { rpc, sent, ends } = conversation();
    rpc.notify("initialized");
    expect(sent).toEqual([{ jsonrpc: "2.0", method: "initialized" }]);
    expect(rpc.ended).toBe(false);
    rpc.end();
    rpc.end();
    expect(rpc.ended).toBe(true);
    expect(ends()).toBe(1);
  });

  it("writes a request as one line of JSON-RPC 2.0", () => {
    expect(requestLine(1, "initialize", { a: 1 })).toBe(
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"a":1}}',
    );
  });
});

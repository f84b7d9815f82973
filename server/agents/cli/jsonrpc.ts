import { z } from "zod";
import { jsonLine, type SessionIo } from "./adapter";

export type RpcId = number | string;

/** What a request from the peer is answered with, and the events it means for the run. */
export type RpcAnswer<E> = { result: unknown; events?: E[] };

/** What one side of the conversation does with each kind of message the peer sends. */
export type RpcHandlers<E> = {
  /** A request from the peer, which waits for an answer; undefined when it is not served. */
  request(method: string, params: unknown): RpcAnswer<E> | undefined;
  notification(method: string, params: unknown): E[];
  /** The answer to one of our requests. */
  result(id: RpcId, result: unknown): E[];
  /** An error answer to one of our requests: its message (the error as JSON when it has none). */
  error(id: RpcId, message: string): E[];
};

/** A JSON-RPC 2.0 request, as one line (without its newline). */
export const requestLine = (id: RpcId, method: string, params: unknown) =>
  JSON.stringify({ jsonrpc: "2.0", id, method, params });

/** JSON-RPC's "method not found". */
export const METHOD_NOT_FOUND = -32601;

const Id = z.union([z.string(), z.number()]);
const RpcError = z.looseObject({ message: z.string() });

/**
 * A JSON-RPC 2.0 conversation over lines (codex app-server, ACP): each line the peer writes is
 * a request (a method and an id: it is answered here, or refused as not served), a
 * notification (a method, no id), or the answer to one of ours (an id, a result or an error);
 * each is handed to its handler. Our requests get ids counting on from `firstId`, also when
 * there is no `io` (only reading a recorded conversation, whose requests were sent).
 */
export class JsonRpcLines<E> {
  private nextId: number;
  private closed = false;

  constructor(
    private readonly io: SessionIo | undefined,
    private readonly on: RpcHandlers<E>,
    firstId: number,
  ) {
    this.nextId = firstId;
  }

  /** The events one line means; null when it is not a JSON object. */
  line(text: string): E[] | null {
    const raw = jsonLine(text);
    if (!raw) return null;
    const id = Id.safeParse(raw.id);
    if (typeof raw.method === "string") {
      if (!id.success) return this.on.notification(raw.method, raw.params);
      const answer = this.on.request(raw.method, raw.params);
      if (answer) this.reply(id.data, { result: answer.result });
      else
        this.reply(id.data, {
          error: {
            code: METHOD_NOT_FOUND,
            message: `${raw.method} is not supported by this client`,
          },
        });
      return answer?.events ?? [];
    }
    if (!id.success) return [];
    if ("error" in raw) {
      const e = RpcError.safeParse(raw.error);
      return this.on.error(id.data, e.success ? e.data.message : JSON.stringify(raw.error));
    }
    return this.on.result(id.data, raw.result);
  }

  /** Sends a request with an id of its own choosing (the fixed steps of a session's opening). */
  request(id: RpcId, method: string, params: unknown): void {
    this.io?.write(requestLine(id, method, params));
  }

  /** Sends a request with the next id, and returns the id. */
  call(method: string, params: unknown): number {
    const id = this.nextId++;
    this.request(id, method, params);
    return id;
  }

  notify(method: string): void {
    this.io?.write(JSON.stringify({ jsonrpc: "2.0", method }));
  }

  /** Closes our side (stdin), once. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.io?.end();
  }

  get ended(): boolean {
    return this.closed;
  }

  private reply(
    id: RpcId,
    body: { result: unknown } | { error: { code: number; message: string } },
  ) {
    this.io?.write(JSON.stringify({ jsonrpc: "2.0", id, ...body }));
  }
}

import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";
import type { EgressOptions } from "../egress";
import {
  type Counters,
  clip,
  errorCode,
  forwardHeaders,
  KEY_HEADERS,
  pipeThrough,
  rawResponse,
  type Started,
  sendText,
  serveOn,
} from "./sockets";

/** The model API's paths under its base; `models` may be followed by a model's name. */
const API_PATHS = new Set([
  "responses",
  "chat/completions",
  "completions",
  "messages",
  "messages/count_tokens",
]);
const METHODS = new Set(["GET", "HEAD", "POST"]);
const SEGMENT = /^[A-Za-z0-9._~:@+-]+$/;

// ---------------------------------------------------------------------------------------------
// The model socket

type ModelOptions = NonNullable<EgressOptions["model"]>;

/** Which paths go to the model: its API under the endpoint's base, and the roots (probes). */
function modelRoutes(endpoint: URL) {
  const base = endpoint.pathname.split("/").filter(Boolean);
  const endsInV1 = base.at(-1) === "v1";
  const apiBases = endsInV1 ? [base] : base.length === 0 ? [["v1"]] : [base, [...base, "v1"]];
  const roots = [[], endsInV1 ? base.slice(0, -1) : base];
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  return (pathname: string): boolean => {
    if (!pathname.startsWith("/")) return false;
    const segs = pathname === "/" ? [] : pathname.slice(1).split("/");
    if (segs.some((s) => !SEGMENT.test(s) || s === "." || s === "..")) return false;
    if (roots.some((r) => same(r, segs))) return true;
    return apiBases.some((b) => {
      if (!same(b, segs.slice(0, b.length))) return false;
      const rest = segs.slice(b.length);
      return API_PATHS.has(rest.join("/")) || (rest[0] === "models" && rest.length >= 1);
    });
  };
}

/** The header the real key goes in, given the one the client used. */
function keyHeader(mode: ModelOptions["header"], headers: http.IncomingHttpHeaders) {
  const sent =
    headers["x-api-key"] !== undefined
      ? "x-api-key"
      : headers.authorization !== undefined
        ? "authorization"
        : headers["api-key"] !== undefined
          ? "api-key"
          : "authorization";
  return !mode || mode === "auto" ? sent : mode;
}

export async function modelProxy(
  file: string,
  model: ModelOptions,
  counters: Counters,
  refuse: (what: string) => void,
): Promise<Started> {
  let endpoint: URL;
  try {
    endpoint = new URL(model.endpoint);
  } catch {
    throw new Error("the model endpoint is not a URL");
  }
  if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") {
    throw new Error(`the model endpoint must be http or https, not ${endpoint.protocol}`);
  }
  const secure = endpoint.protocol === "https:";
  // A connection per request upstream: no reused socket that the server has just closed (a
  // model request is seconds long; a handshake is not).
  const agent = secure
    ? new https.Agent({ keepAlive: false })
    : new http.Agent({ keepAlive: false });
  const allowed = modelRoutes(endpoint);
  const hostname = endpoint.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(endpoint.port) || (secure ? 443 : 80);
  // Whatever is said to the agent, the real key is not in it.
  const scrub = (text: string) =>
    model.apiKey ? text.split(model.apiKey).join("<redacted>") : text;

  const refusal = (res: http.ServerResponse, method: string, target: string) => {
    refuse(`${method} ${target}`);
    sendText(
      res,
      403,
      scrub(
        `Hyperion's model proxy refused ${method} ${clip(target)}: only model API paths ` +
          "(/v1/responses, /v1/chat/completions, /v1/completions, /v1/messages, /v1/models) " +
          "are forwarded.\n",
      ),
    );
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? "";
    const target = req.url ?? "";
    const q = target.indexOf("?");
    const pathname = q < 0 ? target : target.slice(0, q);
    if (!METHODS.has(method) || !allowed(pathname)) {
      refusal(res, method, target);
      return;
    }
    counters.forwarded++;
    const headers = forwardHeaders(req.headers, KEY_HEADERS);
    headers.host = endpoint.host;
    if (model.apiKey) {
      const name = keyHeader(model.header, req.headers);
      headers[name] = name === "authorization" ? `Bearer ${model.apiKey}` : model.apiKey;
    }
    const upReq = (secure ? https : http).request({
      hostname,
      port,
      method,
      path: target,
      headers,
      agent,
    });
    pipeThrough(req, res, upReq, (err) =>
      scrub(`Hyperion's model proxy could not reach ${endpoint.origin} (${errorCode(err)}).\n`),
    );
  });
  server.on("connect", (req: http.IncomingMessage, socket: Duplex) => {
    refuse(`CONNECT ${req.url ?? ""}`);
    socket.on("error", () => {});
    socket.end(rawResponse(403, "Hyperion's model proxy is not a tunnel.\n"));
  });
  return serveOn(file, server, [agent]);
}

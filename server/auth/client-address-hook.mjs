// Loaded into the web server by `hyperion start` (`node --import`). Next.js fills
// X-Forwarded-For from the socket only when the client sent none, so the app cannot tell the
// peer's address from one the client made up. This copies the socket's address into a header of
// our own, replacing whatever the client sent, before Next.js sees the request; the mark tells
// client-address.ts that the header can be believed. Names kept in step with client-address.ts.
import diagnosticsChannel from "node:diagnostics_channel";

const HEADER = "x-hyperion-client-address";

diagnosticsChannel.subscribe("http.server.request.start", (message) => {
  const { request, socket } =
    /** @type {{ request: import("node:http").IncomingMessage, socket: import("node:net").Socket }} */ (
      message
    );
  request.headers[HEADER] = socket.remoteAddress ?? "unknown";
});

/** @type {Record<symbol, unknown>} */ (globalThis)[Symbol.for("hyperion.clientAddressHook")] =
  true;

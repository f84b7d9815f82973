import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { EVENT_ID } from "@/server/events/log";
import { runtime } from "@/server/runtime";
import { createContext } from "@/server/trpc/context";
import { appRouter } from "@/server/trpc/root";
import { boundedBody } from "../../bounded-body";

export const dynamic = "force-dynamic";

function tooLarge(limit: number): Response {
  const message = `Request body is larger than ${limit} bytes (HYPERION_MAX_BODY_BYTES).`;
  return Response.json(
    { error: { message, code: -32600, data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 } } },
    { status: 413 },
  );
}

/**
 * A subscription answers over SSE with status 200 and its errors inside the stream, so a bad
 * resume cursor is refused here, before the stream opens, as a plain 400 naming the field.
 */
function badLastEventId(req: Request): Response | null {
  if (req.method !== "GET") return null;
  const url = new URL(req.url);
  const candidates = [req.headers.get("last-event-id"), url.searchParams.get("lastEventId")];
  const input = url.searchParams.get("input");
  if (input) {
    try {
      const parsed = JSON.parse(input) as { lastEventId?: unknown } | null;
      if (parsed && typeof parsed === "object" && "lastEventId" in parsed)
        candidates.push(parsed.lastEventId === null ? null : String(parsed.lastEventId));
    } catch {
      // tRPC answers malformed input itself.
    }
  }
  if (candidates.every((c) => c === null || c === undefined || EVENT_ID.test(c))) return null;
  const message = "lastEventId: must be an event id (digits only)";
  return Response.json(
    {
      error: {
        message,
        code: -32600,
        data: {
          code: "BAD_REQUEST",
          httpStatus: 400,
          issues: [{ path: "lastEventId", message: "must be an event id (digits only)" }],
        },
      },
    },
    { status: 400 },
  );
}

async function handler(req: Request): Promise<Response> {
  const badCursor = badLastEventId(req);
  if (badCursor) return badCursor;
  let request = req;
  if (req.method === "POST") {
    const limit = runtime().env.HYPERION_MAX_BODY_BYTES;
    const body = await boundedBody(req, limit);
    if (body === null) return tooLarge(limit);
    request = new Request(req.url, {
      method: req.method,
      headers: req.headers,
      body: new Blob([body]),
    });
  }
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: request,
    router: appRouter,
    createContext: () => createContext(request),
  });
}

export { handler as GET, handler as POST };

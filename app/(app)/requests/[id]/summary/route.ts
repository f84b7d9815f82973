import { can } from "@/server/auth/permissions";
import { sessionUser } from "@/server/auth/session";
import { NotFoundError } from "@/server/errors";
import { runtime } from "@/server/runtime";
import { requestSummary } from "@/server/views/request-summary";

export const dynamic = "force-dynamic";

/** A request's summary as a markdown file: what changed and how it was verified. */
export async function GET(_req: Request, props: { params: Promise<{ id: string }> }) {
  const user = await sessionUser();
  if (!user) return new Response("Sign in first.\n", { status: 401 });
  if (!can(user.role, "request.read"))
    return new Response(`Your role (${user.role}) does not allow request.read.\n`, { status: 403 });
  const { id } = await props.params;
  if (!/^\d{1,9}$/.test(id)) return new Response("No such request.\n", { status: 404 });
  try {
    const { markdown } = await requestSummary(runtime().db, Number(id));
    return new Response(markdown, {
      headers: {
        "Content-Type": "text/markdown; charset=utf-8",
        "Content-Disposition": `attachment; filename="request-${id}-summary.md"`,
      },
    });
  } catch (err) {
    if (err instanceof NotFoundError) return new Response(`${err.message}\n`, { status: 404 });
    throw err;
  }
}

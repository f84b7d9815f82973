import { Forbidden } from "@/components/forbidden";
import { QaView } from "@/components/qa/view";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { pageCaller } from "@/server/trpc/page-caller";

export const metadata = { title: "QA" };
export const dynamic = "force-dynamic";

export default async function QaPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const user = await requirePageUser("/qa");
  if (!can(user.role, "qa.operate")) return <Forbidden need="qa.operate" />;
  const caller = pageCaller(user);
  const queue = await caller.qa.queue();
  const asked = (await searchParams).request;
  const wanted = /^R?(\d{1,15})$/i.exec(typeof asked === "string" ? asked : "")?.[1];
  const selected =
    queue.order.find((i) => String(i.requestId) === wanted)?.requestId ??
    queue.next?.requestId ??
    null;
  return (
    <section>
      <h1 className="mb-1 text-2xl font-semibold">QA</h1>
      <p className="mb-4 text-sm text-slate-600">
        Changes of the kinds a repository&apos;s policy sends to manual QA (<code>qa.kinds</code>,
        features and bug fixes by default) wait here after their checks pass, before they land. Test
        the next one, then pass it, or fail it with notes for the developer. See{" "}
        <code>docs/worker-factory.md</code>.
      </p>
      <QaView initial={queue} selected={selected} />
    </section>
  );
}

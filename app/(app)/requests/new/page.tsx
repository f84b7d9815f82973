import { Forbidden } from "@/components/forbidden";
import { RequestForm } from "@/components/request/request-form";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { getRequest } from "@/server/requests/service";
import { runtime } from "@/server/runtime";
import { recentRequests } from "@/server/views/history";

export const metadata = { title: "New request" };
export const dynamic = "force-dynamic";

export default async function NewRequestPage(props: { searchParams: Promise<{ from?: string }> }) {
  const user = await requirePageUser("/requests/new");
  if (!can(user.role, "request.create")) return <Forbidden need="request.create" />;
  const { db, env } = runtime();
  // What the pickers offer: each repository's policy areas (null: no policy, any name goes),
  // and the newest requests to depend on.
  const repos = currentConfig(env.configPath).repositories.map((r) => ({
    name: r.name,
    areas: r.policy ? r.policy.areas.map((a) => a.name) : null,
    // The policy's named checks, which the form offers to run.
    checks: Object.entries(r.policy?.checks ?? {}).map(([name, def]) => ({
      name,
      run: typeof def === "string" ? def : def.run,
    })),
  }));
  const requests = await recentRequests(db, 500);
  // "File a new request like it": the form starts from an earlier request's fields.
  const { from } = await props.searchParams;
  const earlier = from && /^\d{1,9}$/.test(from) ? await getRequest(db, Number(from)) : undefined;
  const initial = earlier
    ? {
        title: earlier.title,
        description: earlier.description,
        repo: earlier.repo,
        kind: earlier.kind ?? "",
        priority: earlier.priority,
        areas: earlier.areas,
        files: earlier.files.join("\n"),
        dependsOn: earlier.dependsOn,
        acceptance: earlier.acceptance.join("\n"),
        checks: earlier.checks,
      }
    : undefined;
  return (
    <section>
      <h1 className="mb-6 text-2xl font-semibold">New request</h1>
      {earlier && (
        <p className="mb-4 text-sm text-slate-600" data-testid="refile-note">
          Starting from #{earlier.id} {earlier.title}: change what needs changing, then file it.
        </p>
      )}
      <RequestForm repos={repos} requests={requests} initial={initial} />
    </section>
  );
}

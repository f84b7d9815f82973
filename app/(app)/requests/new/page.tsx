import { Forbidden } from "@/components/forbidden";
import { RequestForm } from "@/components/request-form";
import { can } from "@/server/auth/permissions";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { runtime } from "@/server/runtime";

export const metadata = { title: "New request" };
export const dynamic = "force-dynamic";

export default async function NewRequestPage() {
  const user = await requirePageUser("/requests/new");
  if (!can(user.role, "request.create")) return <Forbidden need="request.create" />;
  const repos = currentConfig(runtime().env.configPath).repositories.map((r) => r.name);
  return (
    <section>
      <h1 className="mb-6 text-2xl font-semibold">New request</h1>
      <RequestForm repos={repos} />
    </section>
  );
}

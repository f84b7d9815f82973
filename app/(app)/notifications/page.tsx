import { NotificationList } from "@/components/notifications";
import { requirePageUser } from "@/server/auth/session";
import { runtime } from "@/server/runtime";
import { notificationsFor } from "@/server/views/notifications";

export const metadata = { title: "Notifications" };
export const dynamic = "force-dynamic";

/** What happened that concerns me: derived from the events, newest first. */
export default async function NotificationsPage() {
  const user = await requirePageUser("/notifications");
  const { items, latest } = await notificationsFor(runtime().db, user);
  return (
    <section className="space-y-4">
      <h1 className="text-2xl font-semibold">Notifications</h1>
      <NotificationList initial={{ items, latest }} />
    </section>
  );
}

"use client";
import { toast } from "sonner";

/**
 * The outcome of an action a person took, shown as a toast for a few seconds. Every action
 * also leaves its result on the page (a state, a message); the toast is the moment's feedback,
 * so a person who looked away loses nothing.
 */
export const notify = {
  success: (message: string, detail?: string) =>
    toast.success(message, detail ? { description: detail } : undefined),
  error: (message: string, next?: string) =>
    toast.error(message, next ? { description: next } : undefined),
  /** Something that happened without anyone's action (an alert fired), with where to see it. */
  alert: (message: string, detail: string, href: string) =>
    toast.warning(message, {
      description: detail,
      action: { label: "See alerts", onClick: () => window.location.assign(href) },
      duration: 12_000,
    }),
};

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
};

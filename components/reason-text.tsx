import { Fragment } from "react";
import { RequestLink, TaskLink } from "./ids";

/**
 * A reason in words, with each task or request it names (`R6.1`, `R6`) as a link to its page,
 * so "Lock conflict: R6.1 currently holds …" leads to R6.1.
 */
export function ReasonText({ text }: { text: string }) {
  const parts = text.split(/\b(R\d+(?:\.\d+)?)\b/);
  return (
    <>
      {parts.map((part, i) => {
        const key = `${i}-${part}`;
        if (i % 2 === 0) return <Fragment key={key}>{part}</Fragment>;
        const id = part.slice(1);
        return id.includes(".") ? (
          <TaskLink key={key} id={id} />
        ) : (
          <RequestLink key={key} id={Number(id)} />
        );
      })}
    </>
  );
}

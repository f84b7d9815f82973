import type { DbLike, Tx } from "@/server/db/client";

/** A machine's legal moves: for each state, the states it may move to. */
export type MoveTable<S extends string> = { readonly [K in S]: readonly S[] };

/**
 * One move, as its store makes it: `swap` updates the row only if it is still in `from` (and
 * whatever else the store guards on) and returns it, or nothing when the row was elsewhere;
 * `record` writes the move's audit event; `refused` says why nothing was written.
 */
export type MoveSpec<S extends string, R> = {
  from: S;
  to: S;
  /** Names the row in the error a move outside the table throws ("entry 7"). */
  subject?: string;
  swap: (tx: Tx) => Promise<R | undefined>;
  record: (tx: Tx, row: R) => Promise<unknown>;
  refused: (tx: Tx) => Promise<Error> | Error;
};

export type Machine<S extends string> = {
  readonly name: string;
  readonly states: readonly S[];
  readonly moves: MoveTable<S>;
  can(from: S, to: S): boolean;
  /** Throws the machine's own error when the table does not list the move; `subject` names the row. */
  assert(from: S, to: S, subject?: string): void;
  /**
   * The one way a row of this machine changes state: checks the move against the table, then,
   * in one transaction (a savepoint inside the caller's), compares-and-swaps the row and writes
   * its audit event. A refused swap writes nothing and throws `refused`'s error.
   */
  move<R>(db: DbLike, spec: MoveSpec<S, R>): Promise<R>;
};

/**
 * A state machine as data. `illegal` builds the error a move outside the table throws (each
 * store keeps its own error class, which its callers catch).
 */
export function defineMachine<S extends string>(def: {
  name: string;
  moves: MoveTable<S>;
  illegal?: (message: string) => Error;
}): Machine<S> {
  const { name, moves } = def;
  const illegal = def.illegal ?? ((message: string) => new Error(message));
  const can = (from: S, to: S) => moves[from]?.includes(to) ?? false;
  const assert = (from: S, to: S, subject?: string) => {
    if (!can(from, to))
      throw illegal(`${subject ? `${subject}: ` : ""}illegal ${name} move ${from} → ${to}`);
  };
  return {
    name,
    states: Object.keys(moves) as S[],
    moves,
    can,
    assert,
    async move(db, spec) {
      assert(spec.from, spec.to, spec.subject);
      return inTransaction(db, async (tx) => {
        const row = await spec.swap(tx);
        if (row === undefined) throw await spec.refused(tx);
        await spec.record(tx, row);
        return row;
      });
    },
  };
}

/** Runs `fn` in a transaction of its own, or in a savepoint of the caller's. */
export async function inTransaction<T>(db: DbLike, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return await (db as Tx).transaction(fn);
}

"use client";
import type { ReactNode } from "react";
import { requestKinds } from "@/schemas/task-request";
import { FieldError, type FieldErrorsForm, useFieldErrors } from "../form-field";
import { Picker as PickerInput, type PickerOption } from "../picker";

/**
 * The fields of a request, shared by the forms that write one: filing it (/requests/new), editing
 * it, and answering or re-scoping it on its page. Each field is its label, its control and the
 * messages under it, tied together by the form's ids (form-field.tsx); the forms differ only in
 * which fields they show, their words and their look. Read as a namespace, as Radix's parts are:
 * `import * as Field from "./fields"`, then `<Field.Text …/>`.
 */

type RequestKind = (typeof requestKinds)[number];

/** How a form's fields look: roomy on a page of their own, or compact inside the request page. */
export type Look = {
  label: string;
  /** A text box, red-bordered when invalid; `mono` for paths and commands. */
  box: (invalid: boolean, mono?: boolean) => string;
  select: (invalid: boolean) => string;
};

const redWhen = (invalid: boolean) => (invalid ? " border-red-600" : "");
const monoWhen = (mono = false) => (mono ? " font-mono" : "");
const roomyBox = (invalid: boolean, mono?: boolean) =>
  `mt-1 w-full rounded border border-slate-300 px-3 py-2 font-normal${monoWhen(mono)}${redWhen(invalid)}`;

export const roomy: Look = { label: "block text-sm font-medium", box: roomyBox, select: roomyBox };

export const compact: Look = {
  label: "block",
  box: (invalid, mono) =>
    `mt-1 w-full rounded border px-2 py-1${redWhen(invalid)}${monoWhen(mono)}`,
  select: () => "mt-1 block rounded border px-2 py-1",
};

/** A form's errors and ids, its look, and the prefix of its messages' test ids. */
export type Form = FieldErrorsForm & { look: Look; errorTestId: string };

/**
 * A form's fields: ids start with `prefix` (its errors are kept by useFieldErrors), they have
 * `look`, and the test ids of their messages start with `errorTestId`.
 */
export function useForm(prefix: string, look: Look, errorTestId: string): Form {
  return { ...useFieldErrors(prefix), look, errorTestId };
}

/** What every field takes: its form, the name it is read by, its label and what follows it. */
type Props = {
  form: Form;
  name: string;
  label: ReactNode;
  /** Words after the label, in brackets, that say what goes in: "markdown", "optional". */
  aside?: string;
};

const invalid = (form: Form, name: string) => Boolean(form.errors[name]);

function labelText(label: ReactNode, aside: string | undefined) {
  if (!aside) return label;
  return (
    <>
      {label} <span className="font-normal text-slate-500">({aside})</span>
    </>
  );
}

/** The messages under a field, named by its aria-describedby. */
function Messages({ form, name }: Pick<Props, "form" | "name">) {
  return (
    <FieldError
      fieldId={form.id(name)}
      messages={form.errors[name]}
      testId={`${form.errorTestId}${name}`}
    />
  );
}

function Labelled({ form, name, label, aside, children }: Props & { children: ReactNode }) {
  return (
    <div>
      <label htmlFor={form.id(name)} className={form.look.label}>
        {labelText(label, aside)}
      </label>
      {children}
      <Messages form={form} name={name} />
    </div>
  );
}

/** One line of text: the title, the answer's note. */
export function Text({ defaultValue, ...props }: Props & { defaultValue?: string }) {
  const { form, name } = props;
  return (
    <Labelled {...props}>
      <input
        name={name}
        className={form.look.box(invalid(form, name))}
        defaultValue={defaultValue}
        {...form.aria(name)}
      />
    </Labelled>
  );
}

/** Several lines: the description, or a list with one item a line (files, acceptance). */
export function TextArea({
  rows,
  mono,
  defaultValue,
  hint,
  ...props
}: Props & { rows: number; mono?: boolean; defaultValue?: string; hint?: string }) {
  const { form, name } = props;
  const hintId = hint ? `${form.id(name)}-hint` : undefined;
  return (
    <Labelled {...props}>
      {hint && (
        <p id={hintId} className="text-sm text-slate-600">
          {hint}
        </p>
      )}
      <textarea
        name={name}
        rows={rows}
        className={form.look.box(invalid(form, name), mono)}
        defaultValue={defaultValue}
        {...form.aria(name, hintId)}
      />
    </Labelled>
  );
}

/** A check the repository's policy names: its name, and the command line it runs. */
export type CheckChoice = { name: string; run: string };

/**
 * The repository policy's named checks, as boxes to tick: those run on the change (besides its
 * areas' checks). `checks` empty: the repository names none, and the group says so.
 */
export function CheckBoxes({
  form,
  repo,
  checks,
  value,
  onChange,
}: {
  form: Form;
  repo: string;
  checks: CheckChoice[];
  value: string[];
  onChange: (next: string[]) => void;
}) {
  const aria = form.aria("checks", `${form.id("checks")}-hint`);
  return (
    <fieldset aria-describedby={aria["aria-describedby"]} data-testid="check-boxes">
      <legend className={form.look.label}>
        Checks to run <span className="font-normal text-slate-500">(optional)</span>
      </legend>
      <p id={`${form.id("checks")}-hint`} className="text-sm text-slate-600">
        {checks.length
          ? `Checks ${repo}'s policy defines. Ticked ones run on the change before it lands, besides the checks of its areas.`
          : `${repo}'s policy names no checks; its areas' checks, if any, still run.`}
      </p>
      {checks.length > 0 && (
        <div className="mt-1 flex flex-col gap-1">
          {checks.map((c, i) => (
            <label key={c.name} className="flex flex-wrap items-baseline gap-x-2 text-sm">
              <input
                type="checkbox"
                name="checks"
                value={c.name}
                checked={value.includes(c.name)}
                onChange={(e) =>
                  onChange(
                    e.target.checked ? [...value, c.name] : value.filter((n) => n !== c.name),
                  )
                }
                // The first box stands for the group: the summary links to it, focus lands on it.
                {...(i === 0 ? { id: aria.id, "aria-invalid": aria["aria-invalid"] } : {})}
              />
              <span className="font-medium">{c.name}</span>
              <code className="break-all text-xs text-slate-600">{c.run}</code>
            </label>
          ))}
        </div>
      )}
      <Messages form={form} name="checks" />
    </fieldset>
  );
}

/** One of a list; controlled when `value` is given. */
export function Select({
  options,
  defaultValue,
  value,
  onChange,
  ...props
}: Props & {
  options: PickerOption[];
  defaultValue?: string;
  value?: string;
  onChange?: (next: string) => void;
}) {
  const { form, name } = props;
  return (
    <Labelled {...props}>
      <select
        name={name}
        className={form.look.select(invalid(form, name))}
        {...(value === undefined ? { defaultValue } : { value })}
        onChange={onChange && ((e) => onChange(e.target.value))}
        {...form.aria(name)}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Labelled>
  );
}

/** Options that are their own labels. */
export const named = (values: readonly string[]): PickerOption[] =>
  values.map((v) => ({ value: v, label: v }));

/** The request's kind; `unset` names the empty choice (infer it, or keep it). */
export function Kind({
  form,
  unset,
  defaultValue,
}: {
  form: Form;
  unset: string;
  defaultValue: string;
}) {
  return (
    <Select
      form={form}
      name="kind"
      label="Kind"
      options={[{ value: "", label: unset }, ...named(requestKinds)]}
      defaultValue={defaultValue}
    />
  );
}

/** Several picked from a list (areas, requests depended on); `allowCustom` takes any text. */
export function Picker({
  form,
  name,
  label,
  aside,
  ...picker
}: Props & {
  noun: string;
  hint?: string;
  options: PickerOption[];
  allowCustom?: boolean;
  value: string[];
  onChange: (next: string[]) => void;
}) {
  return (
    <div>
      <PickerInput
        id={form.id(name)}
        name={name}
        label={labelText(label, aside)}
        {...picker}
        invalid={invalid(form, name)}
        describedBy={form.aria(name)["aria-describedby"]}
      />
      <Messages form={form} name={name} />
    </div>
  );
}

/** Areas picked from the repository's policy; `areas` null: it has none, any name is taken. */
export function Areas({
  areas,
  ...props
}: Omit<Props, "name" | "label"> & {
  hint?: string;
  areas: string[] | null;
  value: string[];
  onChange: (next: string[]) => void;
}) {
  return (
    <Picker
      {...props}
      name="areas"
      label="Areas"
      noun="area"
      options={named(areas ?? [])}
      allowCustom={areas === null}
    />
  );
}

/** The repository's areas as checkboxes, those in `checked` ticked. */
export function AreaBoxes({
  form,
  areas,
  checked,
}: {
  form: Form;
  areas: string[];
  checked: string[];
}) {
  const aria = form.aria("areas");
  return (
    <fieldset aria-describedby={aria["aria-describedby"]}>
      <legend>Areas</legend>
      <div className="mt-1 flex flex-wrap gap-3">
        {areas.map((a, i) => (
          <label key={a} className="flex items-center gap-1">
            <input
              type="checkbox"
              name="areas"
              value={a}
              defaultChecked={checked.includes(a)}
              // The first box stands for the group: the summary links to it, focus lands on it.
              {...(i === 0 ? { id: aria.id, "aria-invalid": aria["aria-invalid"] } : {})}
            />
            {a}
          </label>
        ))}
      </div>
      <Messages form={form} name="areas" />
    </fieldset>
  );
}

/** A list typed one item a line, blank lines and outer spaces dropped. */
export const readLines = (data: FormData, name: string) =>
  String(data.get(name) ?? "")
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);

/** The checks ticked. */
export const readChecks = (data: FormData) => data.getAll("checks").map(String);

/** The areas picked or ticked. */
export const readAreas = (data: FormData) => data.getAll("areas").map(String);

/** The kind, when one was chosen; the select offers only the kinds, and the server checks again. */
export function readKind(data: FormData): { kind?: RequestKind } {
  const kind = String(data.get("kind") ?? "");
  return kind ? { kind: kind as RequestKind } : {};
}

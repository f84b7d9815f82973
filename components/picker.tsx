"use client";
import { useCombobox, useMultipleSelection } from "downshift";
import { useMemo, useState } from "react";

export type PickerOption = { value: string; label: string };

/**
 * A searchable multi-select in the ARIA combobox pattern (downshift's useCombobox with
 * useMultipleSelection): type to filter, arrows to move, Enter to pick; picked values are chips
 * that Backspace (at the start of the input, or on a chip reached with ArrowLeft) or × removes.
 * Each picked value is also a hidden input named `name`, so the form reads it like any field.
 */
export function Picker({
  id,
  name,
  label,
  hint,
  options,
  value,
  onChange,
  allowCustom = false,
  noun,
  invalid,
  describedBy,
}: {
  id: string;
  name: string;
  label: React.ReactNode;
  hint?: string;
  options: PickerOption[];
  value: string[];
  onChange: (next: string[]) => void;
  /** Offer what was typed when it is not an option (where the schema takes free text). */
  allowCustom?: boolean;
  /** "area", "request": for the "no … matches" line and the remove buttons. */
  noun: string;
  invalid?: boolean;
  describedBy?: string;
}) {
  // Downshift owns the input's text (its change callbacks run after render, so a controlled
  // value would drop keys typed quickly); this copy only filters the options.
  const [inputValue, setInputValue] = useState("");
  const labelOf = (v: string) => options.find((o) => o.value === v)?.label ?? v;
  const items = useMemo(() => {
    const text = inputValue.trim().toLowerCase();
    const open = options.filter(
      (o) =>
        !value.includes(o.value) &&
        (!text || o.label.toLowerCase().includes(text) || o.value.toLowerCase().includes(text)),
    );
    const typed = inputValue.trim();
    if (allowCustom && typed && !value.includes(typed) && !options.some((o) => o.value === typed))
      open.push({ value: typed, label: `Add “${typed}”` });
    return open;
  }, [options, value, inputValue, allowCustom]);

  const { getSelectedItemProps, getDropdownProps, removeSelectedItem } = useMultipleSelection({
    selectedItems: value,
    onStateChange({ selectedItems, type }) {
      switch (type) {
        case useMultipleSelection.stateChangeTypes.SelectedItemKeyDownBackspace:
        case useMultipleSelection.stateChangeTypes.SelectedItemKeyDownDelete:
        case useMultipleSelection.stateChangeTypes.DropdownKeyDownBackspace:
        case useMultipleSelection.stateChangeTypes.FunctionRemoveSelectedItem:
          onChange(selectedItems ?? []);
          break;
      }
    },
  });

  const hintId = hint ? `${id}-hint` : undefined;
  const { isOpen, getLabelProps, getMenuProps, getInputProps, highlightedIndex, getItemProps } =
    useCombobox<PickerOption>({
      items,
      inputId: id,
      labelId: `${id}-label`,
      menuId: `${id}-menu`,
      getItemId: (index) => `${id}-option-${index}`,
      itemToString: (item) => item?.label ?? "",
      defaultHighlightedIndex: 0,
      selectedItem: null,
      onInputValueChange: ({ inputValue: typed }) => setInputValue(typed ?? ""),
      stateReducer(state, { changes, type }) {
        switch (type) {
          case useCombobox.stateChangeTypes.InputKeyDownEnter:
          case useCombobox.stateChangeTypes.ItemClick:
            // Stay open after a pick, so several can be picked in a row.
            return { ...changes, isOpen: true, highlightedIndex: 0, inputValue: "" };
          case useCombobox.stateChangeTypes.InputBlur:
            // Leaving the field never picks what happened to be highlighted.
            return { ...changes, selectedItem: null, inputValue: state.inputValue };
          case useCombobox.stateChangeTypes.ControlledPropUpdatedSelectedItem:
            // selectedItem stays null (picks live in `value`); after a pick downshift sees it
            // "change" back to null and would clear what is being typed.
            return { ...changes, inputValue: state.inputValue };
          default:
            return changes;
        }
      },
      onStateChange({ type, selectedItem }) {
        if (
          selectedItem &&
          (type === useCombobox.stateChangeTypes.InputKeyDownEnter ||
            type === useCombobox.stateChangeTypes.ItemClick)
        )
          onChange([...value, selectedItem.value]);
      },
    });

  return (
    <div className="relative">
      <label {...getLabelProps()} htmlFor={id} className="block text-sm font-medium">
        {label}
      </label>
      {hint && (
        <p id={hintId} className="text-xs text-slate-500">
          {hint}
        </p>
      )}
      <div
        className={`mt-1 flex flex-wrap items-center gap-1 rounded border bg-white px-2 py-1 focus-within:ring-2 focus-within:ring-slate-400 ${invalid ? "border-red-600" : "border-slate-300"}`}
      >
        {value.map((v, index) => (
          <span
            key={v}
            {...getSelectedItemProps({ selectedItem: v, index })}
            className="inline-flex max-w-full items-center gap-1 rounded bg-slate-200 px-2 py-0.5 text-sm focus:outline-2 focus:outline-slate-700"
            data-testid={`${name}-chip`}
          >
            <span className="truncate">{labelOf(v)}</span>
            <button
              type="button"
              tabIndex={-1}
              aria-label={`Remove ${noun} ${labelOf(v)}`}
              className="px-1 text-slate-600 hover:text-slate-900"
              onClick={(e) => {
                e.stopPropagation();
                removeSelectedItem(v);
              }}
            >
              ×
            </button>
          </span>
        ))}
        <input
          {...getInputProps(
            getDropdownProps({
              "aria-invalid": invalid ? true : undefined,
              "aria-describedby": [describedBy, hintId].filter(Boolean).join(" ") || undefined,
            }),
          )}
          className="min-w-32 flex-1 py-1 outline-none"
        />
      </div>
      <ul
        {...getMenuProps()}
        className={`absolute z-10 mt-1 max-h-60 w-full overflow-auto rounded border border-slate-300 bg-white py-1 text-sm shadow ${isOpen && items.length ? "" : "hidden"}`}
      >
        {isOpen &&
          items.map((item, index) => (
            <li
              key={item.value}
              {...getItemProps({ item, index })}
              className={`cursor-pointer px-3 py-1 ${highlightedIndex === index ? "bg-slate-200" : ""}`}
            >
              {item.label}
            </li>
          ))}
      </ul>
      {isOpen && !items.length && (
        <p className="absolute z-10 mt-1 w-full rounded border bg-white px-3 py-1 text-sm text-slate-500">
          {inputValue.trim() ? `No ${noun} matches “${inputValue.trim()}”` : `No more ${noun}s`}
        </p>
      )}
      {value.map((v) => (
        <input key={v} type="hidden" name={name} value={v} />
      ))}
    </div>
  );
}

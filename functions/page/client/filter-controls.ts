// One control per filterable field, built from its GET /fields description:
// a from/to pair for dates and numbers, a select for a string with few values.
// Each reads its part of the filter and writes it back, or says it cannot show it.
import type { Field } from "./api.ts";
import { h, type Props } from "./dom.ts";
import { isPlain } from "./filter-json.ts";
import { asDate, label } from "./meta-values.ts";

// A select beyond this many values is too long to scan; such fields get no control.
const MAX_SELECT_VALUES = 64;
// Typing a date changes the input's value once per segment: wait for a pause before searching.
const TYPING_PAUSE_MS = 400;

export interface Control {
  name: string;
  element: HTMLElement;
  /** The field's condition, undefined for none. */
  read(): unknown;
  /** Shows the condition (undefined clears); false when this control cannot show it. */
  write(condition: unknown): boolean;
}

/** Called when the user changes a control, with how long to wait for more changes (ms). */
export type OnControlChange = (delay: number) => void;

/** A from/to pair: read gives {$gte,$lte} (the "to" is inclusive); write takes $eq, $gte and $lte. */
function rangeControl(field: Field, i: number, type: "date" | "number", toValue: (v: string) => unknown, fromValue: (v: unknown) => string | null, onChange: OnControlChange): Control {
  const name = label(field.name);
  const id = "ff-" + i;
  const bound: Props = { type, class: "fin" };
  const min = field.min !== null ? fromValue(field.min) : null;
  const max = field.max !== null ? fromValue(field.max) : null;
  if (min !== null) bound.min = min;
  if (max !== null) bound.max = max;
  if (type === "number") bound.step = "any";
  const from = h("input", { ...bound, id: id + "-from" });
  const to = h("input", { ...bound, id: id + "-to" });
  for (const input of [from, to]) input.addEventListener("change", () => onChange(TYPING_PAUSE_MS));
  const element = h("div", { class: "fgroup", role: "group", "aria-labelledby": id + "-l" },
    h("span", { class: "flabel", id: id + "-l" }, name),
    h("label", { for: id + "-from", class: "fsub" }, h("span", { class: "vh" }, name + " "), "from"), from,
    h("label", { for: id + "-to", class: "fsub" }, h("span", { class: "vh" }, name + " "), "to"), to);
  return {
    name: field.name,
    element,
    read() {
      const c: Record<string, unknown> = {};
      if (from.value !== "") c.$gte = toValue(from.value);
      if (to.value !== "") c.$lte = toValue(to.value);
      return Object.keys(c).length ? c : undefined;
    },
    write(c) {
      if (c === undefined) {
        from.value = to.value = "";
        return true;
      }
      const ops = isPlain(c) ? c : { $eq: c };
      const keys = Object.keys(ops);
      if (keys.length === 0 || keys.some((op) => op !== "$eq" && op !== "$gte" && op !== "$lte") || (ops.$eq !== undefined && keys.length > 1)) return false;
      const lo = ops.$eq !== undefined ? ops.$eq : ops.$gte;
      const hi = ops.$eq !== undefined ? ops.$eq : ops.$lte;
      const shown = [lo, hi].map((v) => (v === undefined ? "" : fromValue(v)));
      const [fromText, toText] = shown;
      if (fromText === null || toText === null) return false;
      from.value = fromText;
      to.value = toText;
      // An input refuses a value outside its type (e.g. a malformed date) by emptying itself.
      return from.value === fromText && to.value === toText;
    },
  };
}

function isoDate(v: unknown): string | null {
  const d = asDate(v);
  return d ? d.iso : null;
}

function numberText(v: unknown): string | null {
  return typeof v === "number" && isFinite(v) ? String(v) : null;
}

/** A select of the field's values with "any" first; read gives the value ($eq shorthand). */
function selectControl(field: Field & { values: string[] }, i: number, onChange: OnControlChange): Control {
  const id = "ff-" + i;
  const select = h("select", { id, class: "fsel" }, h("option", { value: "" }, "any"), ...field.values.map((v) => h("option", { value: v }, v)));
  select.addEventListener("change", () => onChange(0));
  return {
    name: field.name,
    element: h("div", { class: "fgroup" }, h("label", { for: id, class: "flabel" }, label(field.name)), select),
    read() {
      return select.value === "" ? undefined : select.value;
    },
    write(c) {
      const v = isPlain(c) && Object.keys(c).length === 1 && "$eq" in c ? c.$eq : c;
      if (v === undefined) {
        select.value = "";
        return true;
      }
      if (typeof v !== "string" || !field.values.includes(v)) return false;
      select.value = v;
      return true;
    },
  };
}

/** The field's control, or null for a field the page offers none for. */
export function controlFor(field: Field, i: number, onChange: OnControlChange): Control | null {
  if (field.type === "date") return rangeControl(field, i, "date", (v) => v, isoDate, onChange);
  if (field.type === "number") return rangeControl(field, i, "number", Number, numberText, onChange);
  const values = field.values;
  if (field.type === "string" && Array.isArray(values) && values.length > 0 && values.length <= MAX_SELECT_VALUES) return selectControl({ ...field, values }, i, onChange);
  return null;
}

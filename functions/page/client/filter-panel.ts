// The filter panel: its controls come from GET /fields, are set from the URL's
// filter and read back into one. A filter the controls cannot show (e.g. an $or)
// is kept as it is, and named, until a control changes.
import { getJson, type FieldsBody } from "./api.ts";
import { byId, h } from "./dom.ts";
import { controlFor, type Control } from "./filter-controls.ts";
import { parseFilter, type Filter } from "./filter-json.ts";
import { readState } from "./url-state.ts";

const filtersEl = byId("filters", HTMLFieldSetElement);
const filterList = byId("filter-list", HTMLDivElement);
const filterNote = byId("filter-note", HTMLParagraphElement);
const clearButton = byId("fclear", HTMLButtonElement);

export class FilterPanel {
  private controls: Control[] = [];
  private fieldsState: "unloaded" | "loading" | "loaded" = "unloaded";
  // A filter from the URL that the controls cannot show: kept and sent as it is until a control changes.
  private customFilter = "";
  private typingTimer = 0;

  /** `onChange` runs when the user changes the filter (after a typing pause). */
  constructor(private readonly onChange: () => void) {
    clearButton.addEventListener("click", () => this.clear());
  }

  /** The filter JSON to search with, "" for none. */
  current(): string {
    return this.customFilter || this.fromControls();
  }

  /** Loads the controls once; a failed load leaves none, and a later call asks again. */
  ensureLoaded(): void {
    if (this.fieldsState === "unloaded") void this.load();
  }

  /** Drops a change still waiting for the typing pause. */
  cancelPending(): void {
    clearTimeout(this.typingTimer);
  }

  /** Sets the controls from the URL's filter; one they cannot show is kept as it is and named. */
  show(text: string): void {
    clearButton.hidden = !text;
    if (this.fieldsState !== "loaded") {
      // Until the controls exist the URL's filter is kept as it is.
      this.customFilter = text;
      return;
    }
    const f: Filter | null = text ? parseFilter(text) : {};
    const byName = new Map(this.controls.map((c) => [c.name, c]));
    const fits = f !== null && Object.keys(f).every((name) => byName.has(name));
    let shown = fits;
    for (const c of this.controls) shown = c.write(fits ? f[c.name] : undefined) && shown;
    if (!shown) for (const c of this.controls) c.write(undefined);
    this.customFilter = shown ? "" : text;
    filterNote.hidden = shown;
    filterNote.replaceChildren(...(shown ? [] : ["Filter from the link, which these controls cannot show: ", h("code", {}, text)]));
    filtersEl.hidden = this.controls.length === 0 && shown;
  }

  /** Clears every control and searches without a filter. */
  clear(): void {
    this.cancelPending();
    for (const c of this.controls) c.write(undefined);
    this.customFilter = "";
    this.onChange();
  }

  private async load(): Promise<void> {
    this.fieldsState = "loading";
    let fields: FieldsBody["fields"] | undefined;
    try {
      const r = await getJson<FieldsBody>("/v1/fields");
      if (r.ok && Array.isArray(r.body.fields)) fields = r.body.fields;
    } catch {
      fields = undefined;
    }
    // No fields (or no answer yet: a later render asks again) means no controls; the search itself reports errors.
    if (!fields) {
      this.fieldsState = "unloaded";
      return;
    }
    this.controls = fields.map((field, i) => controlFor(field, i, (delay) => this.changed(delay))).filter((c): c is Control => c !== null);
    filterList.replaceChildren(...this.controls.map((c) => c.element));
    this.fieldsState = "loaded";
    this.show(readState().filter);
  }

  private fromControls(): string {
    const f: Filter = {};
    for (const c of this.controls) {
      const v = c.read();
      if (v !== undefined) f[c.name] = v;
    }
    return Object.keys(f).length ? JSON.stringify(f) : "";
  }

  private changed(delay: number): void {
    clearTimeout(this.typingTimer);
    this.customFilter = "";
    this.typingTimer = setTimeout(this.onChange, delay);
  }
}

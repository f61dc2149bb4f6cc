// DOM helpers: the page's elements by id, typed, and one element builder.

/** The element with this id, which the page's HTML (functions/page/document.ts) must hold with this type. */
export function byId<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`page element #${id} is missing or not a ${type.name}`);
  return e;
}

/** Attributes by name; `class` sets className and `on<event>` adds a listener. */
export type Props = Record<string, string | ((e: Event) => void)>;
export type Child = Node | string | null | undefined;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (typeof v === "function") {
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    } else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children.filter((c): c is Node | string => c !== null && c !== undefined));
  return e;
}

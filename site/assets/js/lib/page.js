// What every interactive page shares: its language, bilingual text and a small DOM helper.

export const lang = document.documentElement.lang.toLowerCase().startsWith("en") ? "en" : "zh";

/** The text for this page's language from a {zh, en} pair (the rules' Bilingual). */
export function pick(pair) {
  return lang === "en" ? pair.en : pair.zh;
}

/** The text for this page's language. */
export function say(zh, en) {
  return lang === "en" ? en : zh;
}

/** A parenthetical in this page's typography: "（…）" in Chinese, " (…)" in English. */
export function aside(text) {
  return say(`（${text}）`, ` (${text})`);
}

/**
 * Create an element: `h("p", {class: "x", "data-id": 1}, "text", child)`. Attributes
 * set to null, undefined or false are left out; text is never parsed as HTML.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** A labelled control, with a hint below it if given (`${id}-hint`, for aria-describedby). */
export function field(id, label, control, hint = null) {
  return h("div", { class: "beian-field" }, h("label", { for: id }, label), control, hint ? h("p", { class: "beian-hint", id: `${id}-hint` }, hint) : null);
}

/**
 * A table with a caption and a row of column headings over `rows`. It scrolls on a narrow
 * screen, so it takes keyboard focus.
 */
export function scrollingTable(id, caption, headings, rows) {
  return h(
    "table",
    { id, tabindex: "0" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows),
  );
}

/** The page's mount point, marked ready once `build` has filled it. */
export async function mount(id, build) {
  const root = document.getElementById(id);
  if (!root) return;
  try {
    await build(root);
  } finally {
    root.removeAttribute("aria-busy");
  }
}

/** Data the site build wrote from the rules file (generated/*.json). */
export async function generated(name) {
  const response = await fetch(new URL(`../../../generated/${name}`, import.meta.url));
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return response.json();
}

/** A byte count for people: 1.5 MB, 64 KB. */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A timestamp or date from the API, in the reader's locale (China Standard Time for dates). */
export function formatDate(iso) {
  if (!iso) return "";
  const locale = lang === "en" ? "en-GB" : "zh-CN";
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;
  return new Date(iso).toLocaleString(locale, { timeZone: "Asia/Shanghai", hour12: false });
}

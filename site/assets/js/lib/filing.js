// Opening a filing with its id and access token, and showing its documents and history.

import { api } from "./api.js";
import { submitForm } from "./form.js";
import { field, formatBytes, formatDate, h, pick, say, scrollingTable } from "./page.js";

const STORE = { id: "beian.filing", token: "beian.token" };

const DOCUMENT_STATES = {
  awaiting_upload: { zh: "未收到", en: "Not received" },
  received: { zh: "已收妥", en: "Received" },
  rejected: { zh: "被拒收", en: "Rejected" },
};

/** The document the system makes on site (documents.py VERIFICATION_FORM). */
const VERIFICATION_FORM = "verification_form";

/** Document names by id: the rules' identity documents and evidence, and the form's title. */
export function documentNames(rules) {
  const names = { [VERIFICATION_FORM]: rules.verification_form.title };
  for (const document of [...rules.documents, ...rules.evidence]) names[document.id] = document.name;
  return names;
}

/**
 * The filing id and token form. `onOpen({id, token, filing})` runs once the API
 * accepts them; the pair is kept for this browser tab only (sessionStorage).
 */
export function accessForm(onOpen) {
  const id = h("input", {
    id: "filing-id", name: "filing-id", required: true, autocomplete: "off", spellcheck: "false",
    value: sessionStorage.getItem(STORE.id) || "",
  });
  const token = h("input", {
    id: "filing-token", name: "filing-token", type: "password", required: true,
    autocomplete: "off", spellcheck: "false", value: sessionStorage.getItem(STORE.token) || "",
    "aria-describedby": "filing-token-hint",
  });
  const message = h("div", { class: "beian-message", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "md-button md-button--primary" }, say("打开备案", "Open the filing"));
  const form = submitForm(
    {
      id: "access-form",
      button,
      message,
      pending: say("正在打开……", "Opening…"),
      submit: async () => {
        const pair = { id: id.value.trim().toUpperCase(), token: token.value.trim() }; // ids are upper case; people type either
        const filing = await api(`/filings/${encodeURIComponent(pair.id)}`, { token: pair.token });
        sessionStorage.setItem(STORE.id, pair.id);
        sessionStorage.setItem(STORE.token, pair.token);
        message.replaceChildren();
        await onOpen({ ...pair, filing });
      },
    },
    field("filing-id", say("备案编号", "Filing id"), id),
    field("filing-token", say("访问令牌", "Access token"), token, say("提交备案时显示，以 bft_ 开头。", "Shown when you submitted the filing; starts with bft_.")),
    button,
    message,
  );
  return form;
}

/** The filing's documents, with the state the server reports (never guessed here). */
export function documentTable(documents, names) {
  if (!documents.length) {
    return h("p", { id: "documents-empty" }, say("尚未上传任何材料。", "No document has been uploaded yet."));
  }
  const rows = documents.map((d) =>
    h(
      "tr",
      { "data-document": d.id, "data-state": d.state },
      h("td", {}, names[d.document_type] ? pick(names[d.document_type]) : d.document_type),
      h("td", {}, d.declared_size === undefined ? "—" : formatBytes(d.declared_size)), // the form is made here, not uploaded
      h("td", {}, h("span", { class: `beian-state beian-state--${d.state}` }, DOCUMENT_STATES[d.state] ? pick(DOCUMENT_STATES[d.state]) : d.state)),
      h("td", {}, formatDate(d.received_at || d.created_at)),
    ),
  );
  return scrollingTable(
    "documents",
    say("本备案的材料", "Documents of this filing"),
    [say("材料", "Document"), say("原文件大小", "Original size"), say("状态", "State"), say("时间", "Time")],
    rows,
  );
}

/**
 * The filing's history, one item per step: when, then `step(entry)` (the state reached, and
 * for staff who took the step), then the step's note.
 */
export function historyList(id, entries, step) {
  return h(
    "ol",
    { id },
    entries.map((entry) =>
      h(
        "li",
        {},
        h("time", { datetime: entry.at }, formatDate(entry.at)),
        " ",
        step(entry),
        entry.note ? h("span", { class: "beian-hint" }, ` — ${entry.note}`) : null,
      ),
    ),
  );
}

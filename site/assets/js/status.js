// The status page: where a filing stands, its deadlines and its documents, as the API reports
// them; a filing returned to its applicant shows why, and the form to correct and resubmit it.

import { api, showError } from "./lib/api.js";
import { accessForm, documentNames, documentTable, historyList } from "./lib/filing.js";
import { aside, formatDate, generated, h, mount, pick, say } from "./lib/page.js";
import { FilingForm } from "./submit.js";

const RETURNED_TO_APPLICANT = "returned_to_applicant";

function deadlineRow(rule, deadline) {
  let state;
  if (!deadline) state = say("尚未开始", "Not started");
  else if (deadline.met_at) {
    state = say(`已于 ${formatDate(deadline.met_at)} 完成`, `Done on ${formatDate(deadline.met_at)}`);
    if (deadline.late) state += aside(say("超期", "late"));
  } else if (deadline.overdue) state = say("已超期", "Overdue");
  else state = say("进行中", "In progress");
  const due = deadline ? deadline.due + (deadline.provisional ? aside(say("暂定", "provisional")) : "") : "—";
  // Calendar months and a last day on a weekend or holiday are explained, as the API words it.
  const notes = deadline && !deadline.met_at ? deadline.notes || [] : [];
  return h(
    "tr",
    { "data-deadline": rule.id, "data-overdue": deadline && deadline.overdue ? "true" : "false" },
    h("th", { scope: "row" }, pick(rule.label)),
    h("td", {}, due, notes.map((note) => h("span", { class: "beian-hint", "data-note": "due" }, h("br"), pick(note)))),
    h("td", {}, state),
  );
}

export function deadlinesTable(rules, deadlines) {
  return h(
    "table",
    { id: "deadlines" },
    h("caption", {}, say("时限", "Deadlines")),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col" }, say("环节", "Step")), h("th", { scope: "col" }, say("到期日", "Due")), h("th", { scope: "col" }, say("状态", "State"))),
    ),
    h(
      "tbody",
      {},
      rules.deadlines.filter((rule) => rule.bound === "within").map((rule) => deadlineRow(rule, deadlines[rule.id])),
    ),
  );
}

/** What the filing holds, section by section, as the API shows it (ID numbers masked). */
export function filingDetails(rules, names, payload) {
  const shown = (field, value) => {
    const text = (one) => {
      const options = { choice: field.choices, nationality: rules.nationalities }[field.validator] || [];
      const named = options.find((c) => c.id === one);
      if (named) return pick(named.name);
      return field.validator === "document_type" && names[one] ? pick(names[one]) : String(one);
    };
    return Array.isArray(value) ? value.map(text).join("，") : text(value);
  };
  const sections = rules.sections.map((section) => {
    const rows = rules.fields
      .filter((field) => field.id.startsWith(`${section.id}.`))
      .map((field) => [field, (payload[section.id] || {})[field.id.slice(section.id.length + 1)]])
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .map(([field, value]) => h("tr", { "data-field": field.id }, h("th", { scope: "row" }, pick(field.label)), h("td", {}, shown(field, value))));
    return rows.length ? [h("h4", {}, pick(section.label)), h("table", {}, h("tbody", {}, rows))] : [];
  }).flat();
  return h(
    "details",
    { id: "filing-details" },
    h("summary", {}, say("备案信息（证件号码只显示部分）", "Filing details (ID numbers shown in part)")),
    sections,
  );
}

/** Why the filing was last returned, as the verifier or the province wrote it. */
function returnReasons(filing) {
  if (filing.refusal) {
    return h(
      "div",
      { class: "admonition failure", id: "refusal-reasons" },
      h("p", { class: "admonition-title" }, say(`不予受理原因（${formatDate(filing.refusal.at)}）`, `Why it was refused (${formatDate(filing.refusal.at)})`)),
      h("ul", {}, (filing.refusal.reasons || []).map((reason) => h("li", {}, reason))),
    );
  }
  const last = (filing.returns || []).at(-1);
  if (!last || !filing.state.startsWith("returned")) return null;
  return h(
    "div",
    { class: "admonition warning", id: "return-reasons" },
    h("p", { class: "admonition-title" }, say(`退回原因（${formatDate(last.at)}）`, `Why it was returned (${formatDate(last.at)})`)),
    h("ul", {}, (last.reasons || []).map((reason) => h("li", {}, reason))),
  );
}

/** The form to correct a returned filing, filled in with what it holds. */
function resubmitPart(data, opened, reopen) {
  if (opened.filing.state !== RETURNED_TO_APPLICANT) return null;
  const resubmitted = say("已重新提交：备案已回到预核验，结果将以短信通知。", "Resubmitted: the filing is back in pre-verification; the result comes by SMS.");
  const form = new FilingForm(data, { ...opened, done: (filing) => reopen({ ...opened, filing }, resubmitted) });
  return h(
    "section",
    { id: "resubmit" },
    h("h3", {}, say("修改并重新提交", "Correct and resubmit")),
    h(
      "p",
      { class: "beian-hint" },
      say(
        "表单已按备案现有信息填好；证件号码以加密方式保存、只显示部分，请重新填写。修改后提交，备案将重新进入预核验。",
        "The form holds what the filing holds; ID numbers are stored encrypted and shown only in part, so type them again. Once resubmitted, the filing goes back to pre-verification.",
      ),
    ),
    form.summary,
    form.element,
  );
}

async function overview(data, names, opened, reopen, notice) {
  const { rules, states } = data;
  const { id, token, filing } = opened;
  const documents = h("div", { id: "documents-holder" });
  try {
    const reply = await api(`/filings/${encodeURIComponent(id)}/documents`, { token });
    documents.replaceChildren(documentTable(reply.documents, names));
  } catch (error) {
    showError(documents, error);
  }
  return h(
    "div",
    {},
    notice ? h("div", { class: "admonition success", id: "status-notice", tabindex: "-1" }, h("p", {}, notice)) : null,
    h("h2", {}, say(`备案 ${id}`, `Filing ${id}`)),
    h(
      "p",
      { id: "filing-state", class: `beian-state beian-state--${filing.state}` },
      say("当前环节：", "Current step: "),
      h("strong", {}, pick(filing.state_name)),
    ),
    filing.filing_number ? h("p", { id: "filing-number" }, say(`备案号：${filing.filing_number}`, `Filing number: ${filing.filing_number}`)) : null,
    returnReasons(filing),
    resubmitPart(data, opened, reopen),
    filingDetails(rules, names, filing.payload || {}),
    deadlinesTable(rules, filing.deadlines || {}),
    h(
      "p",
      { class: "beian-hint" },
      say("工作日不含周末和法定节假日；“暂定”表示该年的节假日安排尚未公布。", "Working days exclude weekends and public holidays; “provisional” means that year's holidays are not yet published."),
    ),
    h("h3", {}, say("办理记录", "History")),
    historyList("history", filing.history || [], (entry) => (states[entry.to] ? pick(states[entry.to]) : entry.to)),
    h("h3", {}, say("材料", "Documents")),
    documents,
  );
}

mount("status", async (root) => {
  let data;
  try {
    const [rules, states, checklists, consent] = await Promise.all(["rules.json", "states.json", "checklists.json", "consent.json"].map(generated));
    data = { rules, states, checklists, consent };
  } catch (error) {
    showError(root, error);
    return;
  }
  const names = documentNames(data.rules);
  const area = h("div", { id: "status-workspace", "aria-live": "polite" });
  const show = async (opened, notice) => {
    area.replaceChildren(await overview(data, names, opened, show, notice));
    if (notice) area.querySelector("#status-notice").focus(); // where the keyboard and a screen reader continue
  };
  root.replaceChildren(accessForm(show), area);
});

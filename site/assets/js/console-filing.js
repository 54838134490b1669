// The staff console's filing page: details (ID numbers masked by the API), documents with
// their state (each opened here after an audited key release), ID-check findings, the trail
// of the filing, and the steps the caller's role may take from its state now. Every step is
// checked by the API as from the CLI, and all of its field errors are shown at once.

import { showError } from "./lib/api.js";
import { documentNames, documentTable, historyList } from "./lib/filing.js";
import { consolePage, takeStep } from "./lib/console.js";
import { submitForm } from "./lib/form.js";
import { field, h, pick, say } from "./lib/page.js";
import { retrievalForm } from "./lib/retrieve.js";
import { scanUploader } from "./lib/scans.js";
import { consoleUrl, roleName, staffApi } from "./lib/staff.js";
import { deadlinesTable, filingDetails } from "./status.js";

// Each workflow action's name, and the console page that takes it where it needs one of its own.
const ACTIONS = {
  pre_verify_pass: { name: ["预核验通过", "Pass pre-verification"] },
  pre_verify_return: { name: ["预核验未通过，退回申请人", "Fail pre-verification: return to the applicant"] },
  refuse: { name: ["不予受理（终局）", "Refuse (final)"] },
  record_on_site: { name: ["当面核验", "Verify on site"], page: "on-site" },
  submit_to_province: { name: ["提交通信管理局审核", "Submit to the province"] },
  approve: { name: ["审核通过，下发备案号", "Approve and issue the number"], page: "review" },
  return_to_provider: { name: ["审核不通过，退回接入服务单位", "Return to the provider"], page: "review" },
  send_back_to_applicant: { name: ["交申请人修改后重新提交", "Send back to the applicant to correct"] },
  follow_up: { name: ["记录回访", "Record a follow-up"] },
  cancel: { name: ["注销备案", "Cancel the filing"] },
};
const CONTACT_CHECKS = [
  ["phone", "电话", "Phone"],
  ["email", "电子邮件", "Email"],
  ["sms", "短信", "SMS"],
];
const FOLLOW_UP_OUTCOMES = [
  ["confirmed", "信息无变化", "Confirmed unchanged"],
  ["changed", "信息有变化", "Changed"],
  ["unreachable", "无法联系", "Unreachable"],
];
// Before the one transition table, follow-ups had a route of their own.
const FOLLOW_UP = { sources: ["approved"], roles: ["verifier"] };

function choice(id, options) {
  return h("select", { id, name: id }, options.map(([value, zh, en]) => h("option", { value }, say(zh, en))));
}

/** The inputs a step takes, and how they become its params. */
function stepInputs(action) {
  const id = (name) => `${action}-${name}`;
  if (action === "pre_verify_pass") {
    const by = choice(id("contact"), CONTACT_CHECKS);
    return { fields: [field(id("contact"), say("联系方式核验方式", "Contact details checked by"), by)], params: () => ({ contact_verified_by: by.value }) };
  }
  if (action === "submit_to_province" || action === "approve") return { fields: [], params: () => ({}) };
  if (action === "follow_up") {
    const outcome = choice(id("outcome"), FOLLOW_UP_OUTCOMES);
    const note = h("textarea", { id: id("note"), name: id("note"), rows: 2 });
    return {
      fields: [field(id("outcome"), say("回访结果", "Outcome"), outcome), field(id("note"), say("说明", "Note"), note)],
      params: () => ({ outcome: outcome.value, note: note.value }),
    };
  }
  const reasons = h("textarea", { id: id("reasons"), name: id("reasons"), rows: 3 });
  return {
    fields: [field(id("reasons"), say("原因（每行一条）", "Reasons (one a line)"), reasons)],
    params: () => ({ reasons: reasons.value.split("\n").map((line) => line.trim()).filter(Boolean) }),
  };
}

function stepForm(filing, action, transitions, reload) {
  const { name: words, page } = ACTIONS[action] || {};
  const name = words ? say(...words) : action;
  if (page) {
    return h("p", { class: "beian-step", "data-action": action }, h("a", { class: "md-button md-button--primary", href: consoleUrl(page, { id: filing.id }), id: `go-${action}` }, name));
  }
  const inputs = stepInputs(action);
  const message = h("div", { class: "beian-message", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "md-button md-button--primary", id: `do-${action}` }, name);
  return submitForm(
    {
      class: "beian-form beian-step",
      "data-action": action,
      button,
      message,
      submit: async () => {
        await takeStep(filing, action, inputs.params(), transitions);
        await reload(say(`已完成：${name}`, `Done: ${name}`));
      },
    },
    h("h4", {}, name),
    inputs.fields,
    button,
    message,
  );
}

/** The steps `role` may take from the filing's state, by the workflow's one table. */
export function stepsNow(filing, role, transitions) {
  const table = transitions.follow_up ? transitions : { ...transitions, follow_up: FOLLOW_UP };
  return Object.entries(table)
    .filter(([, step]) => step.sources.includes(filing.state) && step.roles.includes(role))
    .map(([action]) => action);
}

/** The history as staff read it: the state reached in bold, and who took each step. */
function trail(filing, states) {
  return historyList("trail", filing.history || [], (entry) => [
    h("strong", {}, states[entry.to] ? pick(states[entry.to]) : entry.to),
    entry.actor ? ` — ${entry.actor}${entry.role ? ` (${roleName(entry.role)})` : ""}` : "",
  ]);
}

function findingsList(findings) {
  if (!findings.length) return h("p", { id: "findings-none" }, say("没有核查发现。", "No findings."));
  return h(
    "ul",
    { id: "findings" },
    findings.map((f) => h("li", { "data-code": f.code }, h("strong", {}, f.field), `: ${say(f.reason_zh, f.reason_en)}`, f.resolved_at ? ` (${say("已解决", "resolved")})` : "")),
  );
}

async function section(id, title, load) {
  const holder = h("section", { id }, h("h3", {}, title));
  try {
    holder.append(await load());
  } catch (error) {
    const box = h("div", {});
    showError(box, error);
    holder.append(box);
  }
  return holder;
}

/** Everything about one filing, as the caller's role sees it. */
async function filingView(body, session, data, filingId, notice) {
  const { rules, states, transitions, settings } = data;
  const names = documentNames(rules);
  const path = `/filings/${encodeURIComponent(filingId)}`;
  let filing;
  try {
    filing = await staffApi(path);
  } catch (error) {
    showError(body, error);
    return;
  }
  const reload = (message) => filingView(body, session, data, filingId, message);
  const steps = stepsNow(filing, session.role, transitions);
  const mayRead = settings.may.release_key.includes(session.role);
  const documents = await section("documents-section", say("材料", "Documents"), async () => {
    const { documents: list } = await staffApi(`${path}/documents`);
    const received = list.filter((d) => d.state === "received");
    return h(
      "div",
      {},
      documentTable(list, names),
      mayRead && received.length
        ? h("div", { id: "retrievals" }, received.map((d) => retrievalForm(filing.id, d, names[d.document_type] ? pick(names[d.document_type]) : d.document_type, data)))
        : null,
    );
  });
  const findings = settings.may.findings.includes(session.role)
    ? await section("findings-section", say("核查发现（证件核验）", "Findings (ID checks)"), async () => findingsList((await staffApi(`${path}/findings`)).findings))
    : null;
  const papers = rules.evidence.filter((e) => e.required_at && steps.includes(e.required_at));
  const signed = papers.length && settings.may.upload.includes(session.role)
    ? h(
      "section",
      { id: "signed-papers" },
      h("h3", {}, say("签字盖章文件扫描件", "Signed and sealed papers (scans)")),
      h("p", { class: "beian-hint" }, say("打印下方材料中的核验单（一式两份）和协议书，签字盖章后扫描上传，再提交：", "Print the verification form (in duplicate) and the agreement from the documents below, have them signed and sealed, then upload the scans before submitting: "), papers.map((p) => pick(p.name)).join(say("；", "; "))),
      scanUploader("papers-upload", filing.id, papers.map((p) => [p.id, pick(p.name)]), data.filetypes, () => reload(say("已收妥扫描件。", "Scan received."))),
    )
    : "";
  const last = (filing.returns || []).at(-1);
  body.replaceChildren(
    notice ? h("div", { class: "admonition success", id: "step-notice", tabindex: "-1" }, h("p", {}, notice)) : "",
    h("h2", {}, say(`备案 ${filing.id}`, `Filing ${filing.id}`)),
    h("p", { id: "filing-state", class: `beian-state beian-state--${filing.state}` }, say("当前环节：", "Current step: "), h("strong", {}, pick(filing.state_name))),
    filing.filing_number ? h("p", { id: "filing-number" }, say(`备案号：${filing.filing_number}`, `Filing number: ${filing.filing_number}`)) : "",
    (filing.domain_conflicts || []).length
      ? h(
        "div",
        { class: "admonition warning", id: "domain-conflicts", role: "note" },
        h("p", { class: "admonition-title" }, say("域名冲突", "Domain conflicts")),
        h("p", {}, say("以下域名已在其他有效备案中，冲突解决前不能审核通过：", "These domains are in another live filing; it cannot be approved until that is resolved: "), filing.domain_conflicts.join(", ")),
      )
      : "",
    last && filing.state.startsWith("returned") ? h("div", { class: "admonition warning", id: "return-reasons" }, h("p", { class: "admonition-title" }, say("退回原因", "Why it was returned")), h("ul", {}, (last.reasons || []).map((r) => h("li", {}, r)))) : "",
    h(
      "section",
      { id: "steps" },
      h("h3", {}, say("现在可办理", "What you can do now")),
      steps.length ? steps.map((action) => stepForm(filing, action, transitions, reload)) : h("p", { id: "steps-none" }, say("此角色在当前环节无可办理事项。", "Nothing for this role at this step.")),
    ),
    signed,
    filingDetails(rules, names, filing.payload || {}),
    deadlinesTable(rules, filing.deadlines || {}),
    documents,
    findings || "",
    h("section", { id: "trail-section" }, h("h3", {}, say("办理记录", "Trail of this filing")), trail(filing, states)),
  );
  body.querySelector("#filing-details").open = true;
  if (notice) body.querySelector("#step-notice").focus();
}

consolePage("staff-filing", ({ body, session, data, filingId }) => filingView(body, session, data, filingId));

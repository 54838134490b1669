// The province's review in the console (二.(二)2, 三.(二)1): the reviewer opens the on-site
// photo, the verification form and the scans, decrypted in this page after an audited key
// release; records what was checked for each key item; then approves, or returns the filing
// to the provider with reasons. The API refuses an approval whose trail is incomplete and
// lists everything missing at once.

import { showError } from "./lib/api.js";
import { documentNames, documentTable } from "./lib/filing.js";
import { consolePage, takeStep } from "./lib/console.js";
import { field, h, pick, say } from "./lib/page.js";
import { retrievalForm } from "./lib/retrieve.js";
import { consoleUrl, staffApi } from "./lib/staff.js";

/** The key items the rules have the province check one by one, for this subject's kind. */
function keyItems(rules, filing) {
  const review = rules.review;
  if (!review) return [];
  const type = rules.subject_types.find((t) => t.id === (filing.payload || {}).subject_type);
  return review.key_items.filter((item) => !type || item.applies_to.includes(type.kind));
}

function reviewForm(filing, items, transitions, done) {
  const notes = items.map((item) => {
    const id = `checked-${item.id}`;
    const input = h("textarea", { id, name: id, rows: 2, "data-item": item.id });
    return { item, input, field: field(id, pick(item.name), input) };
  });
  const reasons = h("textarea", { id: "return-reasons-input", name: "return-reasons-input", rows: 3 });
  const message = h("div", { class: "beian-message", id: "review-message", "aria-live": "polite" });
  const act = async (action, params, button) => {
    button.disabled = true;
    try {
      await takeStep(filing, action, params, transitions);
      done();
    } catch (error) {
      showError(message, error);
      button.disabled = false;
    }
  };
  const approve = h("button", { type: "submit", class: "md-button md-button--primary", id: "approve" }, say("审核通过，下发备案号", "Approve and issue the number"));
  const giveBack = h("button", { type: "button", class: "md-button", id: "return-to-provider" }, say("退回接入服务单位", "Return to the provider"));
  giveBack.addEventListener("click", () =>
    act("return_to_provider", { reasons: reasons.value.split("\n").map((line) => line.trim()).filter(Boolean) }, giveBack),
  );
  return h(
    "form",
    {
      class: "beian-form",
      id: "review-form",
      onsubmit: (event) => {
        event.preventDefault();
        act("approve", items.length ? { checked: Object.fromEntries(notes.map(({ item, input }) => [item.id, input.value.trim()])) } : {}, approve);
      },
    },
    items.length ? h("fieldset", { id: "review-items" }, h("legend", {}, say("逐项记录审核了什么", "Record what you checked, item by item")), notes.map((n) => n.field)) : null,
    approve,
    field("return-reasons-input", say("退回原因（每行一条）", "Reasons for returning (one a line)"), reasons),
    giveBack,
    message,
  );
}

async function reviewPage(body, data, filingId) {
  const { rules, transitions } = data;
  const names = documentNames(rules);
  const path = `/filings/${encodeURIComponent(filingId)}`;
  let filing;
  let documents;
  try {
    filing = await staffApi(path);
    documents = (await staffApi(`${path}/documents`)).documents;
  } catch (error) {
    showError(body, error);
    return;
  }
  const label = (d) => (names[d.document_type] ? pick(names[d.document_type]) : d.document_type);
  // The review's own purpose (the one that cites the review's clause), the filing as reference.
  const stated = { purpose: data.settings.review_purpose, reference: say(`审核备案 ${filing.id}`, `Reviewing filing ${filing.id}`) };
  const received = documents.filter((d) => d.state === "received");
  body.replaceChildren(
    h("h2", {}, say(`审核：备案 ${filing.id}`, `Review: filing ${filing.id}`)),
    h("p", { id: "filing-state" }, say("当前环节：", "Current step: "), h("strong", {}, pick(filing.state_name))),
    h("p", {}, h("a", { href: consoleUrl("filing", { id: filing.id }) }, say("返回备案页面", "Back to the filing"))),
    h("section", { id: "review-documents" }, h("h3", {}, say("照片、核验单与证件", "Photo, form and documents")), documentTable(documents, names), h("div", { id: "retrievals" }, received.map((d) => retrievalForm(filing.id, d, label(d), { ...data, stated })))),
    h("section", { id: "review-decision" }, h("h3", {}, say("审核结论", "Decision")), reviewForm(filing, keyItems(rules, filing), transitions, () => location.assign(consoleUrl("filing", { id: filing.id })))),
  );
}

consolePage("staff-review", ({ body, data, filingId }) => reviewPage(body, data, filingId));

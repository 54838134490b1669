// The archive in the console, for compliance officers and inspectors: search (audited, with a
// stated purpose and reference, carried to what follows from it), documents retrieved and
// decrypted in this page, legal holds, and the inspection bundle (the zip `beian archive
// export` writes: manifest, ciphertexts, audit log).

import { ApiError, showError } from "./lib/api.js";
import { documentNames, documentTable } from "./lib/filing.js";
import { consolePage } from "./lib/console.js";
import { field, h, pick, say } from "./lib/page.js";
import { fetchEnvelope, retrievalForm, statedPurpose } from "./lib/retrieve.js";
import { consoleUrl, staffApi } from "./lib/staff.js";
import { oneOffKeyPair } from "./lib/unseal.js";
import { sha256Hex, zip } from "./lib/zip.js";

const CRITERIA = [
  ["filing_number", "备案号", "Filing number"],
  ["domain", "域名", "Domain"],
  ["id_number", "证件号码", "ID number"],
  ["provider", "接入服务单位", "Provider"],
  ["province", "省份", "Province"],
];
const BUNDLE_FORMAT = "beian-inspection-bundle-v1";

/** The inspection bundle, as the CLI makes it without --decrypt: nothing leaves in the clear. */
async function exportBundle(filingId, stated, status) {
  const path = `/filings/${encodeURIComponent(filingId)}`;
  const filing = await staffApi(path);
  const { documents } = await staffApi(`${path}/documents`);
  const manifest = { format: BUNDLE_FORMAT, filing, ...stated, made_at: new Date().toISOString(), documents: [], missing: [] };
  const files = [];
  const { publicKey } = await oneOffKeyPair(); // the key is not needed: ciphertexts are exported as stored
  for (const [index, document] of documents.entries()) {
    if (document.state !== "received") continue;
    status.textContent = say(`正在导出第 ${index + 1} / ${documents.length} 份材料……`, `Exporting document ${index + 1} of ${documents.length}…`);
    try {
      const { envelope } = await fetchEnvelope(filingId, document.id, stated, publicKey);
      const name = `ciphertexts/${document.id}.beian`;
      files.push({ name, bytes: envelope });
      manifest.documents.push({ id: document.id, type: document.document_type, path: name, sha256: await sha256Hex(envelope) });
    } catch (error) {
      manifest.missing.push({ id: document.id, type: document.document_type, reason: error instanceof ApiError ? error.text : String(error) });
    }
  }
  const proofs = await staffApi("/audit/export");
  const encode = (value) => new TextEncoder().encode(JSON.stringify(value, null, 1));
  files.push({ name: "audit/export.json", bytes: encode(proofs) }, { name: "manifest.json", bytes: encode(manifest) });
  return { blob: zip(files), manifest };
}

function holdsPart(result, session, settings, refresh) {
  const mayHold = settings.may.hold.includes(session.role);
  const message = h("div", { class: "beian-message", "aria-live": "polite" });
  const list = h(
    "ul",
    { class: "beian-holds" },
    result.holds.map((caseId) =>
      h(
        "li",
        { "data-case": caseId },
        caseId,
        mayHold
          ? [" ", h("button", { type: "button", class: "md-button", "data-release": caseId, onclick: async () => {
            try {
              await refresh(await staffApi(`/filings/${encodeURIComponent(result.id)}/holds/${encodeURIComponent(caseId)}`, { method: "DELETE" }));
            } catch (error) {
              showError(message, error);
            }
          } }, say("解除保全", "Release"))]
          : null,
      ),
    ),
  );
  const parts = [h("h4", {}, say("法律保全", "Legal holds")), result.holds.length ? list : h("p", {}, say("无。", "None."))];
  if (mayHold) {
    const caseId = h("input", { id: `case-${result.id}`, name: "case-id", required: true, autocomplete: "off" });
    const reason = h("input", { id: `reason-${result.id}`, name: "reason", required: true, autocomplete: "off" });
    parts.push(
      h(
        "form",
        {
          class: "beian-form beian-hold",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              await refresh(await staffApi(`/filings/${encodeURIComponent(result.id)}/holds`, { method: "POST", body: { case_id: caseId.value.trim(), reason: reason.value.trim() } }));
            } catch (error) {
              showError(message, error);
            }
          },
        },
        field(caseId.id, say("案件编号", "Case id"), caseId),
        field(reason.id, say("保全原因（记入审计）", "Reason (audited)"), reason),
        h("button", { type: "submit", class: "md-button" }, say("设置法律保全", "Place a legal hold")),
      ),
    );
  }
  parts.push(message);
  return h("div", { class: "beian-holds-part" }, parts);
}

function exportPart(result, stated) {
  const status = h("p", { role: "status" });
  const link = h("p", {});
  const button = h("button", { type: "button", class: "md-button", id: `export-${result.id}` }, say("导出检查材料包", "Export the inspection bundle"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const { blob, manifest } = await exportBundle(result.id, stated, status);
      const url = URL.createObjectURL(blob);
      status.textContent = manifest.missing.length
        ? say(`已导出；${manifest.missing.length} 份材料未能导出，见清单。`, `Exported; ${manifest.missing.length} documents could not be, see the manifest.`)
        : say(`已导出 ${manifest.documents.length} 份材料（密文）和审计日志。`, `Exported ${manifest.documents.length} documents (ciphertext) and the audit log.`);
      link.replaceChildren(h("a", { href: url, download: `inspection-${result.id}.zip`, class: "md-button", id: `bundle-${result.id}` }, say("下载材料包", "Download the bundle")));
    } catch (error) {
      showError(status, error);
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "beian-export" }, h("h4", {}, say("检查材料包", "Inspection bundle")), button, status, link);
}

async function resultPanel(panel, result, context) {
  const { data, session, names, stated } = context;
  // A hold placed or released answers with the filing's holds: shown at once.
  const refresh = (reply) => resultPanel(panel, { ...result, holds: reply.holds.map((held) => held.case_id) }, context);
  let documents;
  try {
    documents = (await staffApi(`/filings/${encodeURIComponent(result.id)}/documents`)).documents;
  } catch (error) {
    showError(panel, error);
    return;
  }
  const label = (d) => (names[d.document_type] ? pick(names[d.document_type]) : d.document_type);
  panel.replaceChildren(
    documentTable(documents, names),
    h("div", { class: "beian-retrievals" }, documents.filter((d) => d.state === "received").map((d) => retrievalForm(result.id, d, label(d), { ...data, stated }))),
    holdsPart(result, session, data.settings, refresh),
    exportPart(result, stated),
  );
}

function resultsTable(filings, context) {
  if (!filings.length) return h("p", { id: "results-empty" }, say("没有找到备案。", "No filing found."));
  const { states } = context.data;
  return h(
    "div",
    { id: "results" },
    filings.map((result) => {
      const panel = h("div", { class: "beian-result-panel", id: `panel-${result.id}` });
      return h(
        "details",
        { class: "beian-result", "data-filing": result.id, ontoggle: (event) => event.target.open && !panel.childElementCount && resultPanel(panel, result, context) },
        h(
          "summary",
          {},
          h("strong", {}, result.id),
          ` · ${states[result.state] ? pick(states[result.state]) : result.state}`,
          result.filing_number ? ` · ${result.filing_number}` : "",
          ` · ${result.domains.join(", ")}`,
          result.holds.length ? ` · ${say("保全中", "on hold")}` : "",
        ),
        h("p", {}, h("a", { href: consoleUrl("filing", { id: result.id }) }, say("打开备案页面", "Open the filing page"))),
        panel,
      );
    }),
  );
}

function searchForm(body, session, data) {
  const names = documentNames(data.rules);
  const criterion = h("select", { id: "search-by", name: "search-by" }, CRITERIA.map(([value, zh, en]) => h("option", { value }, say(zh, en))));
  const value = h("input", { id: "search-value", name: "search-value", required: true, autocomplete: "off", spellcheck: "false" });
  const since = h("input", { id: "search-from", name: "search-from", type: "date" });
  const until = h("input", { id: "search-to", name: "search-to", type: "date" });
  const asked = statedPurpose("search", data.rules);
  const results = h("div", { id: "search-results", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "md-button md-button--primary" }, say("检索", "Search"));
  const search = async (cursor) => {
    const stated = asked.read();
    const query = { [criterion.value]: value.value.trim(), ...stated };
    if (since.value) query.from = since.value;
    if (until.value) query.to = until.value;
    if (cursor) query.cursor = cursor;
    const found = await staffApi(`/archive/search?${new URLSearchParams(query)}`);
    const context = { data, session, names, stated };
    const more = found.cursor
      ? h("button", { type: "button", class: "md-button", id: "search-more", onclick: () => run(found.cursor) }, say("下一页", "Next page"))
      : null;
    results.replaceChildren(h("p", { id: "results-count", role: "status" }, say(`找到 ${found.filings.length} 个备案。`, `${found.filings.length} filings found.`)), resultsTable(found.filings, context), more || "");
  };
  const run = async (cursor) => {
    button.disabled = true;
    try {
      await search(cursor);
    } catch (error) {
      if (asked.shown(error)) results.replaceChildren();
      else showError(results, error);
    } finally {
      button.disabled = false;
    }
  };
  body.replaceChildren(
    h("h2", {}, say("档案检索", "Archive search")),
    h(
      "form",
      { class: "beian-form", id: "search-form", onsubmit: (event) => { event.preventDefault(); run(null); } },
      field("search-by", say("检索项", "Search by"), criterion),
      field("search-value", say("检索内容", "Value"), value),
      field("search-from", say("起始日期（选填）", "From (optional)"), since),
      field("search-to", say("截止日期（选填）", "To (optional)"), until),
      asked.fields,
      h("p", { class: "beian-hint" }, say("证件号码以密钥散列检索，不以明文保存或记录。", "An ID number is looked up by a keyed hash; it is neither stored nor logged in the clear.")),
      button,
    ),
    results,
  );
}

consolePage(
  "staff-archive",
  ({ body, session, data }) => {
    if (data.settings.may.search.includes(session.role)) return searchForm(body, session, data);
    body.replaceChildren(h("p", { id: "archive-not-allowed" }, say("档案检索供合规负责人、检查人员和备案中心使用。", "The archive search is for compliance officers, inspectors and the filing center.")));
  },
  { forFiling: false },
);

// Reading an archived document in the console: a stated purpose (one of the rules file's list)
// and a reference (refused here, at its field, before any key is asked for when too short), a
// key release audited by the API, the ciphertext fetched from its short-lived link and opened
// in this page. The key and the plaintext live in this page's memory only; leaving the page
// drops them and revokes every link made to them.

import { ApiError, showError } from "./api.js";
import { submitForm } from "./form.js";
import { aside, formatBytes, h, pick, say } from "./page.js";
import { staffApi } from "./staff.js";
import { oneOffKeyPair, unseal } from "./unseal.js";
import { sniff } from "../upload.js";

const EXTENSIONS = { "application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png" };
const opened = new Set(); // object URLs of plaintext made by this page

addEventListener("pagehide", () => {
  for (const url of opened) URL.revokeObjectURL(url);
  opened.clear();
  for (const view of document.querySelectorAll(".beian-plaintext")) view.replaceChildren();
});

function refused(zh, en, code = "invalid", field = "purpose") {
  return new ApiError(0, { code, field, message_zh: zh, message_en: en });
}

/** An error message shown under its field (and announced with it). */
function errorAt(control) {
  const box = h("p", { class: "beian-field-error", id: `${control.id}-error`, hidden: true });
  return {
    box,
    show(text) {
      box.replaceChildren(h("strong", {}, say("错误：", "Error: ")), text);
      box.hidden = false;
      control.setAttribute("aria-describedby", box.id);
      control.setAttribute("aria-invalid", "true");
    },
    clear() {
      box.replaceChildren();
      box.hidden = true;
      control.removeAttribute("aria-describedby");
      control.removeAttribute("aria-invalid");
    },
  };
}

/**
 * What staff state before they open the archive: a purpose chosen from the rules file's list
 * and a reference (a case number, a letter, a ticket). `id` prefixes the controls' ids;
 * `purpose` and `reference` fill them in. `read()` gives { purpose, reference } or throws the
 * refusal (shown at its field); `shown(error)` puts an API refusal of either field there too.
 */
export function statedPurpose(id, rules, { purpose = "", reference = "" } = {}) {
  const { purposes, reference_min_chars: least, reference_max_chars: most } = rules.stated_purposes;
  const whose = (p) => aside(p.citation.source === "provider" ? say("本单位规则", "the provider's rule") : p.citation.cite);
  const select = h(
    "select",
    { id: `purpose-${id}`, name: `purpose-${id}`, required: true },
    h("option", { value: "" }, say("请选择", "Choose")),
    purposes.map((p) => h("option", { value: p.id, selected: p.id === purpose }, pick(p.label) + whose(p))),
  );
  const input = h("input", { id: `reference-${id}`, name: `reference-${id}`, value: reference, required: true, maxlength: most, autocomplete: "off" });
  const errors = { purpose: errorAt(select), reference: errorAt(input) };
  const fields = [
    h("div", { class: "beian-field" }, h("label", { for: select.id }, say("调阅目的（记入审计）", "Purpose (audited)")), select, errors.purpose.box),
    h(
      "div",
      { class: "beian-field" },
      h("label", { for: input.id }, say(`调阅依据：案件编号、函件或工单（至少 ${least} 个字，记入审计）`, `Reference: a case number, letter or ticket (at least ${least} characters; audited)`)),
      input,
      errors.reference.box,
    ),
  ];
  const refuse = (field, zh, en) => {
    const error = refused(zh, en, "invalid", field);
    errors[field].show(error.text);
    return error;
  };
  return {
    fields,
    read() {
      for (const slot of Object.values(errors)) slot.clear();
      if (!purposes.some((p) => p.id === select.value)) throw refuse("purpose", "请从列表中选择调阅目的。", "Choose the purpose from the list.");
      const trimmed = input.value.trim();
      if ([...trimmed].length < least || [...input.value].length > most) {
        throw refuse("reference", `请填写调阅依据（案件编号、函件或工单），${least} 至 ${most} 个字。`, `State the reference (a case number, letter or ticket), ${least} to ${most} characters.`);
      }
      return { purpose: select.value, reference: trimmed };
    },
    shown(error) {
      const slot = error instanceof ApiError && Object.hasOwn(errors, error.body.field) ? errors[error.body.field] : undefined;
      if (slot) slot.show(error.text);
      return Boolean(slot);
    },
  };
}

/** The document's envelope as stored, after an audited key release to `publicKey`. */
export async function fetchEnvelope(filingId, documentId, { purpose, reference }, publicKey) {
  const path = `/filings/${encodeURIComponent(filingId)}/documents/${encodeURIComponent(documentId)}/key-release`;
  const release = await staffApi(path, { method: "POST", body: { purpose, reference, public_key: publicKey } });
  let response;
  try {
    response = await fetch(new URL(release.download_url, location.href), { cache: "no-store", credentials: "omit" });
  } catch {
    throw refused("下载密文时网络中断，请重试（将再次记入审计）。", "The connection dropped while downloading the ciphertext; try again (it is audited again).", "network", "download");
  }
  if (!response.ok) throw refused("下载链接无效或已过期，请重试。", "The download link is invalid or expired; try again.", "download_refused", "download");
  return { release, envelope: new Uint8Array(await response.arrayBuffer()) };
}

/** The document's plaintext as a Blob, after an audited key release for `stated` purpose. */
export async function retrieve(filingId, documentId, stated, filetypes) {
  const { privateKey, publicKey } = await oneOffKeyPair();
  const { release, envelope } = await fetchEnvelope(filingId, documentId, stated, publicKey);
  let plain;
  try {
    plain = await unseal(envelope, { wrappedKey: release.wrapped_key, privateKey, context: release.context });
  } catch (error) {
    throw refused(`无法在本页解密：${error.message}`, `Could not decrypt in this page: ${error.message}`, "encryption", "document");
  }
  const declared = release.document.media_type;
  const blob = new Blob([plain], { type: declared || "application/octet-stream" });
  if (declared && (await sniff(blob, filetypes)) !== declared) {
    throw refused("解密后的内容与申报的文件类型不符，未显示。", `The decrypted content is not the declared ${declared}; not shown.`, "invalid", "media_type");
  }
  return { blob, document: release.document };
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** Show a decrypted document: images inline, every type offered for download. */
export async function showPlaintext(target, { blob, document }, label) {
  const url = URL.createObjectURL(blob);
  opened.add(url);
  const name = `${document.document_type}-${document.id}.${EXTENSIONS[blob.type] || "bin"}`;
  const download = h("a", { href: url, download: name, class: "md-button", id: `download-${document.id}` }, say("下载解密后的文件", "Download the decrypted file"), ` (${formatBytes(blob.size)})`);
  const parts = [download];
  if (blob.type.startsWith("image/")) {
    // img-src allows data: URLs only (no blob:), so the picture is inlined.
    parts.unshift(h("img", { src: await dataUrl(blob), alt: label, class: "beian-plaintext-image", id: `image-${document.id}` }));
  } else {
    parts.push(" ", h("a", { href: url, target: "_blank", rel: "noopener", id: `open-${document.id}` }, say("在新标签页中打开（可打印）", "Open in a new tab (to print)")));
  }
  target.replaceChildren(...parts);
}

/** The purpose fields and a button that retrieve, decrypt and show one document here. */
export function retrievalForm(filingId, document, label, { filetypes, rules, stated = {} }) {
  const asked = statedPurpose(document.id, rules, stated);
  const output = h("div", { class: "beian-plaintext", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "md-button" }, say("调阅并在本页解密", "Retrieve and decrypt here"));
  const form = submitForm(
    {
      class: "beian-form beian-retrieve",
      "data-document": document.id,
      novalidate: true, // the purpose's refusals are the API's words, shown at their fields
      button,
      message: output,
      submit: async () => {
        const given = asked.read();
        output.replaceChildren(say("正在申请密钥并解密……", "Requesting the key and decrypting…"));
        await showPlaintext(output, await retrieve(filingId, document.id, given, filetypes), label);
      },
      failed: (error) => {
        if (asked.shown(error)) output.replaceChildren();
        else showError(output, error);
      },
    },
    h("p", { class: "beian-retrieve-title" }, h("strong", {}, label)),
    asked.fields,
    button,
    output,
  );
  return form;
}

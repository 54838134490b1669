// Reading an archived document in the console: a stated purpose (refused here if too short,
// before any key is asked for), a key release audited by the API, the ciphertext fetched
// from its short-lived link and opened in this page. The key and the plaintext live in this
// page's memory only; leaving the page drops them and revokes every link made to them.

import { ApiError, showError } from "./api.js";
import { formatBytes, h, say } from "./page.js";
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

/** Refuse a purpose shorter than the API accepts, before anything is sent. */
export function checkPurpose(purpose, settings) {
  const least = settings.min_purpose_chars;
  if ([...purpose.trim()].length < least) {
    throw refused(`请说明调阅目的（至少 ${least} 个字），它将记入审计日志。`, `State the purpose (at least ${least} characters); it goes into the audit log.`);
  }
  return purpose.trim();
}

/** The document's envelope as stored, after an audited key release to `publicKey`. */
export async function fetchEnvelope(filingId, documentId, purpose, publicKey) {
  const path = `/filings/${encodeURIComponent(filingId)}/documents/${encodeURIComponent(documentId)}/key-release`;
  const release = await staffApi(path, { method: "POST", body: { purpose, public_key: publicKey } });
  let response;
  try {
    response = await fetch(new URL(release.download_url, location.href), { cache: "no-store", credentials: "omit" });
  } catch {
    throw refused("下载密文时网络中断，请重试（将再次记入审计）。", "The connection dropped while downloading the ciphertext; try again (it is audited again).", "network", "download");
  }
  if (!response.ok) throw refused("下载链接无效或已过期，请重试。", "The download link is invalid or expired; try again.", "download_refused", "download");
  return { release, envelope: new Uint8Array(await response.arrayBuffer()) };
}

/** The document's plaintext as a Blob, after an audited key release for `purpose`. */
export async function retrieve(filingId, documentId, purpose, filetypes) {
  const { privateKey, publicKey } = await oneOffKeyPair();
  const { release, envelope } = await fetchEnvelope(filingId, documentId, purpose, publicKey);
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

/** A purpose field and a button that retrieve, decrypt and show one document here. */
export function retrievalForm(filingId, document, label, { filetypes, settings, purpose = "" }) {
  const id = `purpose-${document.id}`;
  const input = h("input", { id, name: id, value: purpose, required: true, autocomplete: "off" });
  const output = h("div", { class: "beian-plaintext", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "md-button" }, say("调阅并在本页解密", "Retrieve and decrypt here"));
  const form = h(
    "form",
    {
      class: "beian-form beian-retrieve",
      "data-document": document.id,
      onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        try {
          const stated = checkPurpose(input.value, settings);
          output.replaceChildren(say("正在申请密钥并解密……", "Requesting the key and decrypting…"));
          await showPlaintext(output, await retrieve(filingId, document.id, stated, filetypes), label);
        } catch (error) {
          showError(output, error);
        } finally {
          button.disabled = false;
        }
      },
    },
    h("label", { for: id }, say(`调阅目的（记入审计）：${label}`, `Purpose (audited): ${label}`)),
    input,
    button,
    output,
  );
  return form;
}

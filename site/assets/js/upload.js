// The upload page: each file is encrypted here, in the envelope format, to the
// archive's public key, and only the ciphertext is uploaded, in parts to the URLs the
// API hands out, while the rest is still being encrypted. A document is shown as
// received only when the API says so.

import { api, ApiError, networkError, showError } from "./lib/api.js";
import { importRecipient, seal } from "./lib/envelope.js";
import { accessForm, documentNames, documentTable } from "./lib/filing.js";
import { submitForm } from "./lib/form.js";
import { aside, field, formatBytes, generated, h, mount, pick, say } from "./lib/page.js";

const SLOT_MARGIN_MS = 60 * 1000; // request a new slot rather than race its expiry

/** The media type the file's first bytes show (PDF, JPEG, PNG ...), or null: the API
 *  accepts only these, and whoever decrypts the file later checks it again. */
export async function sniff(file, filetypes) {
  const head = new Uint8Array(await file.slice(0, filetypes.sniff_bytes).arrayBuffer());
  const hex = [...head].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  const known = filetypes.signatures.find((signature) => hex.startsWith(signature.magic));
  return known ? known.media_type : null;
}

const PARTS_IN_FLIGHT = 3; // parts being sent at once: memory stays a few parts, whatever the file

/** The upload target's error: JSON from the local server, XML from S3. */
function refusal(status, text) {
  try {
    return new ApiError(status, JSON.parse(text));
  } catch {
    const tooLarge = status === 413 || /EntityTooLarge/.test(text);
    return new ApiError(status, {
      code: tooLarge ? "upload_too_large" : "upload_refused",
      message_zh: tooLarge ? "文件超过上传凭证允许的大小。" : `存储服务拒绝了上传（HTTP ${status}）。`,
      message_en: tooLarge ? "The file is larger than the upload slot allows." : `The storage refused the upload (HTTP ${status}).`,
    });
  }
}

function encryptionError(error) {
  return new ApiError(0, {
    code: "encryption",
    message_zh: `文件无法在本机加密：${error.message}`,
    message_en: `The file could not be encrypted here: ${error.message}`,
  });
}

/** The sealed pieces, with a failure to read or encrypt the file told apart from the network's. */
async function* sealedPieces(sealed) {
  try {
    yield* sealed.chunks;
  } catch (error) {
    throw encryptionError(error);
  }
}

async function putPart(url, part) {
  let response;
  try {
    response = await fetch(new URL(url, location.href), { method: "PUT", body: part, cache: "no-store" });
  } catch {
    throw networkError();
  }
  if (!response.ok) throw refusal(response.status, await response.text());
}

/**
 * Encrypt and send at once: the sealed pieces are gathered into the slot's parts, and each
 * part is PUT to its URL while the next is sealed. A part is a Blob of its pieces: one copy,
 * into the browser's blob store, which the network stack reads as it sends. At most
 * PARTS_IN_FLIGHT parts are held, so memory does not grow with the file, and the upload
 * starts with the first part, not after the last.
 */
async function sendInParts({ part_size: partSize, urls }, sealed, onProgress) {
  const inFlight = new Set();
  let sent = 0;
  let next = 0;
  const dispatch = async (pieces) => {
    if (next >= urls.length) throw refusal(413, "");
    const part = new Blob(pieces);
    const task = putPart(urls[next++], part).then(() => {
      inFlight.delete(task);
      sent += part.size;
      onProgress(sent);
    });
    task.catch(() => {}); // a failure is seen by the race below or the final wait
    inFlight.add(task);
    if (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
  };
  let pieces = [];
  let filled = 0;
  for await (const piece of sealedPieces(sealed)) {
    for (let offset = 0; offset < piece.length; ) {
      const take = Math.min(partSize - filled, piece.length - offset);
      pieces.push(piece.subarray(offset, offset + take));
      filled += take;
      offset += take;
      if (filled === partSize) {
        await dispatch(pieces);
        pieces = [];
        filled = 0;
      }
    }
  }
  if (filled) await dispatch(pieces);
  await Promise.all(inFlight);
}

/**
 * One file's way to the archive: slot, encryption and upload together, check. `run()`
 * resumes from the step that failed: a retry after a dropped connection encrypts and
 * sends again to the same slot while the slot is valid.
 */
export class Upload {
  /** `extra`: more fields for the slot request (the on-site photo's checks, from the console). */
  constructor(filing, documentType, file, filetypes, view, extra = {}) {
    this.extra = extra;
    this.filing = filing;
    this.documentType = documentType;
    this.file = file;
    this.filetypes = filetypes;
    this.view = view;
    this.slot = null;
    this.sent = false;
  }

  get path() {
    return `/filings/${encodeURIComponent(this.filing.id)}/documents`;
  }

  async run() {
    const { token } = this.filing;
    if (!this.slot || Date.parse(this.slot.upload.expires_at) - Date.now() < SLOT_MARGIN_MS) {
      this.view.step("slot");
      this.slot = await api(this.path, {
        method: "POST",
        token,
        body: {
          document_type: this.documentType,
          size: this.file.size,
          media_type: await sniff(this.file, this.filetypes),
          ...this.extra,
        },
      });
      this.sent = false;
    }
    if (!this.sent) {
      this.view.step("upload", 0);
      let sealed;
      try {
        const recipients = await Promise.all(this.slot.envelope.recipients.map(importRecipient));
        sealed = await seal(this.file, { recipients, context: this.slot.envelope.context });
      } catch (error) {
        throw encryptionError(error);
      }
      await sendInParts(this.slot.upload.parts, sealed, (sent) => this.view.step("upload", sent / sealed.size));
      this.sent = true;
    }
    this.view.step("check");
    try {
      return await api(`${this.path}/${encodeURIComponent(this.slot.document.id)}/complete`, { method: "POST", token });
    } catch (error) {
      if (error.code === "conflict" && error.body.field === "upload") this.sent = false;
      if (error.code === "invalid" && error.body.field === "upload") this.slot = null;
      throw error;
    }
  }
}

const STEPS = {
  slot: ["正在申请上传凭证……", "Requesting an upload slot…"],
  upload: ["正在本机加密并上传密文", "Encrypting on this computer and uploading the ciphertext"],
  check: ["正在确认服务器已收妥……", "Confirming the server received it…"],
};

/** One file's row: name, progress bar, what is happening, and a retry button on failure. */
function uploadRow(file, index) {
  const label = file.name + aside(formatBytes(file.size));
  const progress = h("progress", { max: 1, value: 0, "aria-label": say(`${file.name} 的进度`, `Progress of ${file.name}`) });
  const status = h("p", { class: "beian-upload-status", role: "status" });
  const problem = h("div", { class: "beian-upload-problem" });
  const row = h("li", { class: "beian-upload", "data-index": index, "data-state": "waiting" }, h("span", { class: "beian-upload-name" }, label), progress, status, problem);
  return {
    row,
    step(name, fraction) {
      row.dataset.state = name;
      problem.replaceChildren();
      const [zh, en] = STEPS[name];
      const percent = fraction === undefined ? "" : ` ${Math.floor(fraction * 100)}%`;
      status.textContent = say(zh, en) + percent;
      if (fraction === undefined) progress.removeAttribute("value");
      else progress.value = fraction;
    },
    done(document) {
      row.dataset.state = "received";
      progress.value = 1;
      status.textContent = say("已收妥", "Received") + aside(say(`材料编号 ${document.id}`, `document ${document.id}`));
    },
    failed(error, retry) {
      row.dataset.state = "failed";
      progress.value = 0;
      status.textContent = say("未上传成功：服务器没有收妥这份材料。", "Not uploaded: the server has not received this document.");
      showError(problem, error);
      problem.append(h("button", { type: "button", class: "md-button retry", onclick: retry }, say("重试", "Try again")));
    },
  };
}

function documentOptions(rules, checklists, filing, names) {
  const payload = filing.payload || {};
  const nationality = (payload.responsible_person || payload.subject || {}).nationality || "cn";
  const checklist = (checklists[filing.subject_type] || {})[nationality];
  const holders = {
    subject: say("主办者证件", "Subject's document"),
    responsible_person: pick(rules.responsible_person.name),
  };
  const declared = {
    subject: (payload.subject || {}).id_type,
    responsible_person: (payload.responsible_person || {}).id_type,
  };
  const groups = (checklist ? checklist.documents : []).map((options) =>
    h(
      "optgroup",
      { label: holders[options.holder] },
      options.documents.map((id) => h("option", { value: id, selected: declared.subject === id && options.holder === "subject" }, pick(names[id]))),
    ),
  );
  const evidence = rules.evidence.filter((item) => item.uploaded_by.includes("applicant"));
  groups.push(h("optgroup", { label: say("其他材料", "Other") }, evidence.map((item) => h("option", { value: item.id }, pick(item.name)))));
  return groups;
}

function workspace({ rules, checklists, filetypes }, names, filing) {
  const listHolder = h("div", { id: "documents-holder" });
  const refresh = async () => {
    try {
      const { documents } = await api(`/filings/${encodeURIComponent(filing.id)}/documents`, { token: filing.token });
      listHolder.replaceChildren(documentTable(documents, names));
    } catch (error) {
      showError(listHolder, error);
    }
  };
  const type = h("select", { id: "document-type", name: "document-type", required: true }, documentOptions(rules, checklists, filing.filing, names));
  const files = h("input", { id: "document-file", name: "document-file", type: "file", multiple: true, required: true, "aria-describedby": "document-file-hint", accept: filetypes.signatures.map((s) => s.media_type).join(",") });
  const button = h("button", { type: "submit", class: "md-button md-button--primary", id: "upload-button" }, say("加密并上传", "Encrypt and upload"));
  const rows = h("ol", { id: "uploads", class: "beian-uploads" });
  const form = submitForm(
    {
      id: "upload-form",
      button,
      submit: async () => {
        const chosen = [...files.files];
        const views = chosen.map((file, index) => uploadRow(file, rows.children.length + index));
        rows.append(...views.map((view) => view.row));
        for (const [index, file] of chosen.entries()) {
          await attempt(new Upload(filing, type.value, file, filetypes, views[index]), views[index], refresh);
        }
        files.value = "";
      },
    },
    field("document-type", say("材料类型", "Type of document"), type),
    field(
      "document-file",
      say("文件（可多选，每个文件作为一份材料）", "Files (each file is one document)"),
      files,
      say("接受的格式：", "Accepted formats: ") + filetypes.signatures.map((s) => s.media_type.split("/")[1].toUpperCase()).join(", "),
    ),
    button,
  );
  const state = pick(filing.filing.state_name);
  refresh();
  return [
    h("h2", {}, say(`备案 ${filing.id}`, `Filing ${filing.id}`)),
    h("p", { id: "filing-state" }, say(`当前环节：${state}`, `Current step: ${state}`)),
    form,
    rows,
    h("h2", {}, say("已登记的材料", "Documents on record")),
    listHolder,
  ];
}

async function attempt(upload, view, refresh) {
  try {
    view.done(await upload.run());
  } catch (error) {
    view.failed(error, () => attempt(upload, view, refresh));
  }
  await refresh();
}

mount("upload", async (root) => {
  let data;
  try {
    const [rules, checklists, filetypes] = await Promise.all(
      ["rules.json", "checklists.json", "filetypes.json"].map(generated),
    );
    data = { rules, checklists, filetypes };
  } catch (error) {
    showError(root, error);
    return;
  }
  const names = documentNames(data.rules);
  const area = h("div", { id: "upload-workspace" });
  const access = accessForm(async (filing) => area.replaceChildren(...workspace(data, names, filing)));
  // The submission page links here with ?filing=<id>; the token is never in a URL.
  const linked = new URLSearchParams(location.search).get("filing");
  if (linked) access.querySelector("#filing-id").value = linked;
  root.replaceChildren(access, area);
});

// Scans the verifier uploads from the console (identity copies on site, the signed papers
// before submission): each encrypted in the page by the applicant upload page's code.

import { showError } from "./api.js";
import { field, h, say } from "./page.js";
import { staffToken } from "./staff.js";
import { Upload } from "../upload.js";

const STEPS = {
  slot: ["申请上传凭证", "requesting a slot"],
  encrypt: ["本机加密", "encrypting here"],
  upload: ["上传密文", "uploading the ciphertext"],
  check: ["确认收妥", "confirming"],
};

/** A view for the Upload class that reports into one status line. */
export function statusView(status, what) {
  return {
    step: (name) => {
      status.textContent = say(`${what}：${STEPS[name][0]}……`, `${what}: ${STEPS[name][1]}…`);
    },
  };
}

/** An upload of `file` as `documentType`, encrypted here; `run()` sends it, and after a
 *  dropped connection resumes from the step that failed. */
export function encryptedUpload(filingId, documentType, file, filetypes, view, extra = {}) {
  return new Upload({ id: filingId, token: staffToken() }, documentType, file, filetypes, view, extra);
}

/**
 * A form to upload scans of the `types` ([id, label] pairs); `onUploaded()` runs once the
 * chosen files are done, if the API received any. `id` names the form.
 */
export function scanUploader(id, filingId, types, filetypes, onUploaded) {
  const type = h("select", { id: `${id}-type`, name: `${id}-type` }, types.map(([value, label]) => h("option", { value }, label)));
  const files = h("input", { id: `${id}-file`, name: `${id}-file`, type: "file", multiple: true, required: true, accept: filetypes.signatures.map((s) => s.media_type).join(",") });
  const status = h("p", { role: "status", class: "beian-upload-status" });
  const message = h("div", { class: "beian-message", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "md-button" }, say("加密并上传", "Encrypt and upload"));
  return h(
    "form",
    {
      class: "beian-form beian-scans",
      id,
      onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        message.replaceChildren();
        let received = 0;
        try {
          for (const file of files.files) {
            await encryptedUpload(filingId, type.value, file, filetypes, statusView(status, file.name)).run();
            received += 1;
          }
          status.textContent = say("已收妥。", "Received.");
          files.value = "";
        } catch (error) {
          status.textContent = "";
          showError(message, error);
        } finally {
          button.disabled = false;
          if (received) await onUploaded();
        }
      },
    },
    field(`${id}-type`, say("材料类型", "Type of document"), type),
    field(`${id}-file`, say("扫描件（PDF、JPEG 或 PNG）", "Scans (PDF, JPEG or PNG)"), files),
    button,
    status,
    message,
  );
}

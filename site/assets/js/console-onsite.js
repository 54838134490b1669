// On-site verification in the console (二.(二)1(3)-(6)): the photo from the computer's
// camera at the rules' size, or from a file, checked for size and colour as the CLI checks it
// (chalicelib/photo.py) and stamped with the China time (+08:00) and the curtain marker;
// each item of the form's checklist confirmed one by one; the originals; the access
// information; the agreement and the contract clause. The photo is encrypted in this page
// by the applicant upload page's code before it is uploaded; nothing leaves it in the clear.

import { ApiError, showError } from "./lib/api.js";
import { documentNames, documentTable } from "./lib/filing.js";
import { consolePage, takeStep } from "./lib/console.js";
import { submitForm } from "./lib/form.js";
import { aside, field, h, pick, say } from "./lib/page.js";
import { encryptedUpload, scanUploader, statusView } from "./lib/scans.js";
import { consoleUrl, staffApi } from "./lib/staff.js";

const PHOTO_TYPE = "face_photo"; // the rules' evidence entry the verifier uploads
const JPEG_QUALITY = 0.92; // as the CLI saves it
const STAMP_FONT = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif';

function photoError(zh, en) {
  return new ApiError(0, { code: "invalid", field: "photo", message_zh: zh, message_en: en });
}

/** China time to the second, with its zone, whatever this computer's zone is. */
export function chinaTime(moment = new Date()) {
  return `${new Date(moment.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace("T", " ")}+08:00`;
}

/** The CLI's checks: the rules' size either way round, and colour (channels not all equal). */
export function checkPhoto(canvas, spec) {
  const { width, height } = canvas;
  if (Math.max(width, height) !== spec.long_side_px || Math.min(width, height) !== spec.short_side_px) {
    const size = `${spec.long_side_px}×${spec.short_side_px}`;
    throw photoError(`照片须为 ${size} 像素（横竖均可），当前为 ${width}×${height}`, `The photo must be ${spec.long_side_px}x${spec.short_side_px} pixels (either way round), not ${width}x${height}`);
  }
  const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i] !== pixels[i + 1] || pixels[i + 1] !== pixels[i + 2]) return;
  }
  throw photoError("照片须为彩色照片", "The photo must be in colour, not greyscale");
}

/** The capture time and curtain marker drawn at the bottom right, as the CLI draws them. */
function stamp(canvas, text, spec) {
  const context = canvas.getContext("2d");
  const size = canvas.width >= spec.long_side_px ? 22 : 16; // fits across a portrait photo too
  context.font = `${size}px ${STAMP_FONT}`;
  const width = context.measureText(text).width;
  const x = canvas.width - width - 16;
  const y = canvas.height - size - 16;
  context.fillStyle = "#000";
  context.fillRect(x - 8, y - 6, canvas.width - 8 - (x - 8), canvas.height - 8 - (y - 6));
  context.fillStyle = "#fff";
  context.textBaseline = "top";
  context.fillText(text, x, y);
}

function toJpeg(canvas) {
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
}

/** The camera (or a file), the checks and the stamp; `photo()` is the stamped JPEG and its facts. */
class PhotoStep {
  constructor(spec) {
    this.spec = spec;
    this.taken = null;
    this.stream = null;
    this.video = h("video", { id: "camera-view", autoplay: true, muted: true, playsinline: true, hidden: true, "aria-label": say("摄像头画面", "Camera view") });
    this.canvas = h("canvas", { id: "photo-canvas", hidden: true });
    this.preview = h("img", { id: "photo-preview", alt: say("已拍摄的照片", "The photo taken"), hidden: true });
    this.marker = h("input", { id: "curtain-marker", name: "curtain-marker", required: true, autocomplete: "off" });
    this.file = h("input", { id: "photo-file", name: "photo-file", type: "file", accept: "image/jpeg,image/png", onchange: () => this.fromFile() });
    this.message = h("div", { class: "beian-message", id: "photo-message", "aria-live": "polite" });
    this.start = h("button", { type: "button", class: "md-button", id: "camera-start", onclick: () => this.openCamera() }, say("打开摄像头", "Start the camera"));
    this.shoot = h("button", { type: "button", class: "md-button md-button--primary", id: "camera-shoot", hidden: true, onclick: () => this.fromCamera() }, say("拍照", "Take the photo"));
    this.fileField = h("div", { class: "beian-field", id: "photo-file-field" }, h("label", { for: "photo-file" }, say("或选择照片文件（JPEG 或 PNG）", "Or choose a photo file (JPEG or PNG)")), this.file);
    addEventListener("pagehide", () => this.stopCamera());
  }

  element() {
    const size = `${this.spec.long_side_px}×${this.spec.short_side_px}`;
    return h(
      "section",
      { id: "photo-step" },
      h("h3", {}, say("网站负责人现场照片", "On-site photo of the person responsible")),
      h("p", { class: "beian-hint" }, say(`彩色正面免冠照，${size} 像素，以备案中心提供的带标识幕布为背景。本页在照片上加印拍照时间（北京时间）和幕布标识。`, `Colour, front-facing, bareheaded, ${size} pixels, in front of the filing center's marked curtain. This page stamps the capture time (China time) and the curtain marker on it.`)),
      field("curtain-marker", say("幕布标识", "Curtain marker"), this.marker),
      h("p", {}, this.start, " ", this.shoot),
      this.video,
      this.fileField,
      this.message,
      this.canvas,
      this.preview,
    );
  }

  async openCamera() {
    this.message.replaceChildren();
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error("no camera support");
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: this.spec.long_side_px }, height: { ideal: this.spec.short_side_px } }, audio: false });
    } catch (error) {
      const denied = error && error.name === "NotAllowedError";
      this.message.replaceChildren(
        h(
          "div",
          { class: "admonition warning", id: "camera-unavailable", role: "alert" },
          h("p", {}, denied ? say("摄像头未获允许。", "The camera was not allowed.") : say("没有可用的摄像头。", "No camera is available.")),
          h("p", {}, say("请用相机拍摄后在下方选择照片文件，或在浏览器设置中允许本站使用摄像头后重试。", "Take the photo with a camera and choose the file below, or allow this site to use the camera in the browser's settings and try again.")),
        ),
      );
      this.file.focus();
      return;
    }
    this.video.srcObject = this.stream;
    this.video.hidden = false;
    this.shoot.hidden = false;
    await this.video.play();
  }

  stopCamera() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.video.hidden = true;
    this.shoot.hidden = true;
  }

  /** A frame at the rules' size: the camera's picture scaled, cut to its aspect if need be. */
  async fromCamera() {
    const { videoWidth: width, videoHeight: height } = this.video;
    this.canvas.width = this.spec.long_side_px;
    this.canvas.height = this.spec.short_side_px;
    const scale = Math.max(this.canvas.width / width, this.canvas.height / height);
    const [w, h2] = [this.canvas.width / scale, this.canvas.height / scale];
    this.canvas.getContext("2d").drawImage(this.video, (width - w) / 2, (height - h2) / 2, w, h2, 0, 0, this.canvas.width, this.canvas.height);
    this.stopCamera();
    await this.finish();
  }

  async fromFile() {
    const chosen = this.file.files[0];
    if (!chosen) return;
    let bitmap;
    try {
      bitmap = await createImageBitmap(chosen);
    } catch {
      showError(this.message, photoError("照片无法识别，请上传 JPEG 或 PNG 图片", "The photo cannot be read; use a JPEG or PNG image"));
      return;
    }
    this.canvas.width = bitmap.width;
    this.canvas.height = bitmap.height;
    this.canvas.getContext("2d").drawImage(bitmap, 0, 0);
    await this.finish();
  }

  async finish() {
    this.taken = null;
    this.preview.hidden = true;
    try {
      checkPhoto(this.canvas, this.spec);
      const marker = this.marker.value.trim();
      if (!marker) throw photoError("请填写幕布标识，它将印在照片上", "Enter the curtain marker; it is stamped on the photo");
      const capturedAt = chinaTime();
      stamp(this.canvas, `${capturedAt}  ${marker}`, this.spec);
      const blob = await toJpeg(this.canvas);
      this.taken = {
        blob,
        info: { width: this.canvas.width, height: this.canvas.height, colour: true, captured_at: capturedAt, curtain_marker: marker },
      };
      this.preview.src = this.canvas.toDataURL("image/jpeg", JPEG_QUALITY);
      this.preview.hidden = false;
      this.message.replaceChildren(h("p", { id: "photo-ready", role: "status" }, say(`照片合格，已加印 ${capturedAt} 和幕布标识。`, `Photo accepted, stamped with ${capturedAt} and the curtain marker.`)));
    } catch (error) {
      showError(this.message, error);
    }
  }
}

/** One checkbox per item of the verification form's checklist, and per original seen. */
function checklistPart(rules, names, payload) {
  const boxes = [];
  const box = (id, text, value) => {
    const input = h("input", { type: "checkbox", id, name: id, "data-value": value });
    boxes.push(input);
    return h("li", {}, input, " ", h("label", { for: id }, text));
  };
  const sections = rules.verification_form.sections.filter((s) => (s.checks || []).length);
  const originals = ["subject", "responsible_person"].filter((holder) => (payload[holder] || {}).id_type);
  // An item names the document the person showed, as the form prints it (rules: check.named).
  const shown = (payload.responsible_person || {}).id_type || (payload.subject || {}).id_type;
  const named = (name) => pick(name).replace("{document}", shown && names[shown] ? pick(names[shown]) : say("证件", "identity document"));
  return {
    boxes,
    element: h(
      "section",
      { id: "checklist" },
      h("h3", {}, say("核验单逐项确认", "The form's checklist, item by item")),
      sections.map((section) => h("fieldset", {}, h("legend", {}, pick(section.title)), h("ul", { class: "beian-checks" }, section.checks.map((check) => box(`check-${check.id}`, named(check.name), check.id))))),
      h(
        "fieldset",
        {},
        h("legend", {}, say("已核验的证件原件", "Originals seen")),
        h("ul", { class: "beian-checks" }, originals.map((holder) => box(`original-${holder}`, names[payload[holder].id_type] ? pick(names[payload[holder].id_type]) : payload[holder].id_type, holder))),
      ),
    ),
    checks: () => Object.fromEntries(boxes.filter((b) => b.id.startsWith("check-") && b.checked).map((b) => [b.dataset.value, true])),
    originals: () => Object.fromEntries(boxes.filter((b) => b.id.startsWith("original-") && b.checked).map((b) => [b.dataset.value, payload[b.dataset.value].id_type])),
  };
}

/** The access information, the provider's to enter (二.(二)1(5)), from the rules' fields. */
function accessPart(rules, access) {
  const inputs = {};
  const fields = rules.fields.filter((f) => f.id.startsWith("access."));
  const rows = fields.map((field) => {
    const name = field.id.slice("access.".length);
    const id = `access-${name}`;
    const value = access[name];
    let control;
    if (field.many) control = h("textarea", { id, name: id, rows: 2 }, (value || []).join("\n"));
    else if (field.choices && field.choices.length) control = h("select", { id, name: id }, h("option", { value: "" }, say("请选择", "Choose")), field.choices.map((c) => h("option", { value: c.id, selected: c.id === value }, pick(c.name))));
    else control = h("input", { id, name: id, value: value || "", autocomplete: "off" });
    inputs[name] = { field, control };
    return h("div", { class: "beian-field" }, h("label", { for: id }, pick(field.label), field.many ? aside(say("每行一项", "one a line")) : ""), control);
  });
  return {
    element: h("section", { id: "access" }, h("h3", {}, say("接入信息", "Access information")), rows),
    value: () =>
      Object.fromEntries(
        Object.entries(inputs).map(([name, { field, control }]) => [name, field.many ? control.value.split("\n").map((v) => v.trim()).filter(Boolean) : control.value.trim()]),
      ),
  };
}

function papersPart() {
  const agreement = h("input", { type: "checkbox", id: "agreement-signed", name: "agreement-signed" });
  const clause = h("input", { type: "checkbox", id: "contract-clause", name: "contract-clause" });
  return {
    element: h(
      "section",
      { id: "papers" },
      h("h3", {}, say("协议与合同", "Agreement and contract")),
      h("p", {}, say("请打印", "Print the "), h("a", { href: new URL("../../contract/", location.href).href, target: "_blank", rel: "noopener" }, say("信息安全管理协议书和合同条款", "security agreement and contract clause")), say("供主办者签字；核验单在记录后由系统生成，可在备案页面调阅打印。", " for the subject to sign; the verification form is made by the system once this is recorded, and can be opened and printed on the filing page.")),
      h("p", {}, agreement, " ", h("label", { for: "agreement-signed" }, say("主办者已签订信息安全管理协议书", "The subject has signed the information security agreement"))),
      h("p", {}, clause, " ", h("label", { for: "contract-clause" }, say("业务合同含备案信息真实性条款，主办者已确认", "The contract's clause on truthful filing information is accepted"))),
    ),
    agreement: () => agreement.checked,
    clause: () => clause.checked,
  };
}

async function onSitePage(body, session, data, filingId) {
  const { rules, transitions, filetypes } = data;
  const names = documentNames(rules);
  let filing;
  try {
    filing = await staffApi(`/filings/${encodeURIComponent(filingId)}`);
  } catch (error) {
    showError(body, error);
    return;
  }
  const payload = filing.payload || {};
  const photo = new PhotoStep(rules.photo);
  const checklist = checklistPart(rules, names, payload);
  const access = accessPart(rules, payload.access || {});
  const papers = papersPart();
  const corrections = h("textarea", { id: "corrections", name: "corrections", rows: 2 });
  const status = h("p", { id: "on-site-status", role: "status" });
  const message = h("div", { class: "beian-message", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "md-button md-button--primary", id: "record-on-site" }, say("加密上传照片并记录当面核验", "Encrypt the photo, upload it and record the verification"));
  let photoUpload = null;
  const form = submitForm(
    {
      id: "on-site-form",
      button,
      message,
      submit: async () => {
        if (!photo.taken) throw photoError("请先拍摄或选择网站负责人照片", "Take or choose the photo of the person responsible first");
        if (!photoUpload || photoUpload.taken !== photo.taken) {
          const file = new File([photo.taken.blob], "face-photo.jpg", { type: "image/jpeg" });
          const view = statusView(status, say("照片", "Photo"));
          photoUpload = { taken: photo.taken, upload: encryptedUpload(filing.id, PHOTO_TYPE, file, filetypes, view, { photo: photo.taken.info }) };
        }
        photoUpload.document ||= await photoUpload.upload.run(); // a retry resumes where it stopped
        const params = {
          originals: checklist.originals(),
          checks: checklist.checks(),
          photo_document_id: photoUpload.document.id,
          agreement_accepted: papers.agreement(),
          contract_clause_accepted: papers.clause(),
          corrections: corrections.value.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
            const [fieldName, ...note] = line.split("=");
            return { field: fieldName.trim(), note: note.join("=").trim() };
          }),
          access: access.value(),
        };
        status.textContent = say("正在记录……", "Recording…");
        await takeStep(filing, "record_on_site", params, transitions);
        location.assign(consoleUrl("filing", { id: filing.id }));
        await new Promise(() => {}); // the page is being left: the button stays disabled
      },
      failed: (error) => {
        status.textContent = "";
        showError(message, error);
      },
    },
    checklist.element,
    access.element,
    papers.element,
    h("section", {}, h("h3", {}, say("现场更正", "Corrections on site")), field("corrections", say("每行一条：字段=说明（可不填）", "One a line: field=note (optional)"), corrections)),
    status,
    message,
    button,
  );
  const documents = h("div", { id: "documents-holder" });
  const refresh = async () => {
    try {
      documents.replaceChildren(documentTable((await staffApi(`/filings/${encodeURIComponent(filing.id)}/documents`)).documents, names));
    } catch (error) {
      showError(documents, error);
    }
  };
  await refresh();
  const declared = [...new Set(["subject", "responsible_person"].map((holder) => (payload[holder] || {}).id_type).filter(Boolean))];
  body.replaceChildren(
    h("h2", {}, say(`当面核验：备案 ${filing.id}`, `On-site verification: filing ${filing.id}`)),
    h("p", { id: "filing-state" }, say("当前环节：", "Current step: "), h("strong", {}, pick(filing.state_name))),
    h("p", {}, h("a", { href: consoleUrl("filing", { id: filing.id }) }, say("返回备案页面", "Back to the filing"))),
    h(
      "section",
      { id: "copies" },
      h("h3", {}, say("证件复印件（扫描件）", "Copies of the documents (scans)")),
      h("p", { class: "beian-hint" }, say("核验原件后留存复印件：上传备案信息所列证件的扫描件，确认“已留存复印件”前须已收妥。", "Keep copies once the originals are checked: upload scans of the documents the filing names; they must be received before “copies retained” can be confirmed.")),
      scanUploader("copies-upload", filing.id, declared.map((id) => [id, names[id] ? pick(names[id]) : id]), filetypes, refresh),
      documents,
    ),
    photo.element(),
    form,
  );
}

consolePage("staff-on-site", ({ body, session, data, filingId }) => onSitePage(body, session, data, filingId));

// The submission page: the filing form, built here from the files the site build writes
// from the rules: rules.json (sections, fields, labels, hints, choices, field groups),
// checklists.json (what each subject type fills in, and the documents each holder may
// present by nationality) and consent.json (the privacy notice version consented to).
// The API checks the whole filing and lists every error at once: each is shown next to
// its field and in a summary, and nothing typed is lost. The form's content goes to the
// API only: it is neither logged nor stored, and the access token is shown once.

import { api, ApiError, showError } from "./lib/api.js";
import { aside, generated, h, mount, pick, say } from "./lib/page.js";

/** Input hints by validator; every value is still checked by the API alone. */
const INPUTS = {
  mobile: { inputmode: "tel", autocomplete: "tel" },
  phone: { inputmode: "tel" },
  email: { inputmode: "email", autocomplete: "email" },
  postal_address: { autocomplete: "street-address" },
};
const PROSE = new Set(["text", "postal_address"]); // spell-checked; codes and numbers are not

/** Replies whose shared wording does not fit a form (413 advice is about files). */
const REWORDED = {
  413: {
    code: "too_large",
    message_zh: "填写的内容超过了服务器接受的大小，备案没有提交。",
    message_en: "What you entered is more than the server accepts; the filing was not submitted.",
  },
  429: {
    code: "rate_limited",
    message_zh: "提交过于频繁，服务器暂不受理；请一分钟后再试。",
    message_en: "Too many submissions; the server is not accepting more for now. Try again in a minute.",
  },
};

const kept = () =>
  say("您填写的内容都保留在本页，无需重填。", "Everything you entered is still on this page; you need not type it again.");

class SubmitError extends ApiError {
  get advice() {
    if (this.status === 413) {
      return say(
        "请删减特别长的内容（如网站服务内容、前置审批），然后重新提交。",
        "Shorten the longest entries (such as the services offered or prior approvals), then submit again.",
      );
    }
    return super.advice;
  }
}

/** What went wrong with the request itself, worded for this form. */
function problemOf(error) {
  if (!(error instanceof ApiError) || !REWORDED[error.status]) return error;
  // The embedded server's 429 names the seconds of its Retry-After; API Gateway's says nothing.
  const body = error.status === 429 && error.body.message_zh ? error.body : REWORDED[error.status];
  return new SubmitError(error.status, body);
}

/** "contact.mobile" → ["contact", "mobile"]. */
const splitId = (id) => [id.slice(0, id.indexOf(".")), id.slice(id.indexOf(".") + 1)];
const controlId = (path) => `field-${path.replace(/[^A-Za-z0-9]+/g, "-")}`;

/** "website.domains[1]" → ["website.domains", 1]; "contact.mobile" → ["contact.mobile", null]. */
function parsePath(path) {
  const match = /^(.*)\[(\d+)\]$/.exec(path);
  return match ? [match[1], Number(match[2])] : [path, null];
}

/** A list field's entries, one per non-blank line, each with its line number for messages. */
function listItems(text) {
  return text
    .split("\n")
    .map((line, index) => ({ value: line.trim(), line: index + 1 }))
    .filter((item) => item.value);
}

function setOptions(select, options, value) {
  select.replaceChildren(
    h("option", { value: "" }, say("请选择", "Choose")),
    ...options.map(([id, text]) => h("option", { value: id, selected: id === value }, text)),
  );
}

/**
 * Where errors of one path are shown: a message box, and the element it describes.
 * `described` gets aria-describedby (and aria-invalid when `invalid`); `focus()` is
 * the element a summary link moves to.
 */
function errorSlot(id, described, focus, invalid = true) {
  const box = h("p", { class: "beian-field-error", id: `${id}-error`, hidden: true });
  const hints = described.getAttribute("aria-describedby");
  return {
    box,
    focus,
    show(texts) {
      box.replaceChildren(h("strong", {}, say("错误：", "Error: ")), ...texts.flatMap((text, i) => (i ? [h("br"), text] : [text])));
      box.hidden = false;
      described.setAttribute("aria-describedby", hints ? `${hints} ${box.id}` : box.id);
      if (invalid) described.setAttribute("aria-invalid", "true");
    },
    clear() {
      box.replaceChildren();
      box.hidden = true;
      if (hints) described.setAttribute("aria-describedby", hints);
      else described.removeAttribute("aria-describedby");
      described.removeAttribute("aria-invalid");
    },
  };
}

/**
 * The filing form. With `resubmit` ({ id, token, filing, done }) it corrects a filing returned
 * to its applicant: filled in with what the filing holds (ID numbers are stored sealed and
 * shown masked, so they are typed again), without the consent already given at submission,
 * sent as the "resubmit" step, and `done(filing)` is called with the filing as it now stands.
 */
export class FilingForm {
  constructor({ rules, checklists, consent }, resubmit = null) {
    this.resubmitting = resubmit;
    this.rules = rules;
    this.checklists = checklists;
    this.version = consent.privacy_notice_version;
    this.documents = Object.fromEntries(rules.documents.map((d) => [d.id, d]));
    this.typed = new Map(); // field id → what was typed, kept when the subject type changes
    this.entries = []; // the fields on the form now: {field, control, numberHint?}
    this.subjectType = null;
    this.summary = h("div", { id: "submit-summary" });
    this.fields = h("div", { id: "submit-fields" });
    this.status = h("p", { id: "submit-status", role: "status" });
    this.button = h(
      "button",
      { type: "submit", id: "submit-button", class: "md-button md-button--primary" },
      resubmit ? say("修改后重新提交", "Resubmit the corrected filing") : say("提交备案", "Submit the filing"),
    );
    if (resubmit) this.fillFrom(resubmit.filing.payload);
    this.element = h(
      "form",
      {
        class: "beian-form",
        id: "submit-form",
        novalidate: true, // the API checks everything and lists every error at once
        oninput: (event) => this.typing(event.target),
        onchange: (event) => this.changed(event.target),
        onsubmit: (event) => {
          event.preventDefault();
          this.submit();
        },
      },
      this.subjectTypePart(),
      this.fields,
      resubmit ? null : this.consentPart(), // consented at submission; a correction does not ask again
      this.button,
      this.status,
    );
    this.renderFields();
  }

  /** What the filing holds, as if typed; masked numbers are left for the applicant to type. */
  fillFrom(payload) {
    this.subjectType = payload.subject_type || null;
    for (const field of this.rules.fields) {
      const [section, key] = splitId(field.id);
      const value = (payload[section] || {})[key];
      if (value === undefined || value === null) continue;
      const text = Array.isArray(value) ? value.join("\n") : String(value);
      if (field.validator === "document_number" && text.includes("*")) continue;
      this.typed.set(field.id, text);
    }
  }

  subjectTypePart() {
    const radios = this.rules.subject_types.map((type) =>
      h("input", { type: "radio", name: "subject_type", value: type.id, id: `subject-type-${type.id}`, checked: type.id === this.subjectType }),
    );
    const group = h("fieldset", { class: "beian-choice", id: "subject-type-group" });
    this.typeSlot = errorSlot("subject-type", group, () => radios.find((r) => r.checked) || radios[0], false);
    group.append(
      h("legend", {}, say("主办者类型", "Type of subject"), aside(say("必填", "required"))),
      this.typeSlot.box,
      ...this.rules.subject_types.map((type, i) => h("label", { class: "beian-radio" }, radios[i], ` ${pick(type.name)}`)),
    );
    return group;
  }

  consentPart() {
    const version = this.version;
    this.consent = h("input", { type: "checkbox", id: "consent", name: "consent", "aria-describedby": "consent-hint" });
    this.consentSlot = errorSlot("consent", this.consent, () => this.consent);
    return h(
      "fieldset",
      { class: "beian-choice", id: "consent-group" },
      h("legend", {}, say("处理敏感个人信息的单独同意", "Separate consent to processing sensitive personal information")),
      h(
        "p",
        { class: "beian-hint", id: "consent-hint" },
        say(
          `身份证件和照片（包括现场采集的网站负责人照片）属于敏感个人信息。我们按隐私与留存告知（版本 ${version}）处理、加密保存这些信息，仅用于备案。这项同意与其他条款分开；不同意则无法提交备案。`,
          `Identity documents and photos (including the photo of the person responsible taken on site) are sensitive personal information. We process and keep them encrypted as the privacy notice (version ${version}) says, for filing only. This consent is separate from everything else; without it the filing cannot be submitted.`,
        ),
        " ",
        h(
          "a",
          { href: "../privacy/", id: "privacy-link", target: "_blank", rel: "noopener" }, // a new tab keeps what was typed
          say(`阅读隐私与留存告知（版本 ${version}，新标签页打开）`, `Read the privacy notice (version ${version}; opens in a new tab)`),
        ),
      ),
      this.consentSlot.box,
      h(
        "label",
        { class: "beian-radio", for: "consent" },
        this.consent,
        " ",
        say(
          `我已阅读隐私与留存告知（版本 ${version}），同意为办理备案处理身份证件、照片等敏感个人信息。`,
          `I have read the privacy notice (version ${version}) and consent to processing sensitive personal information, such as identity documents and photos, for this filing.`,
        ),
      ),
    );
  }

  /** The sections and fields the chosen subject type fills in, with what was typed. */
  renderFields() {
    this.clearErrors();
    this.slots = new Map([
      ["subject_type", this.typeSlot],
      ...(this.consentSlot ? [["consent", this.consentSlot]] : []),
    ]);
    this.entries = [];
    const type = this.rules.subject_types.find((t) => t.id === this.subjectType);
    if (!type) {
      this.fields.replaceChildren(h("p", { id: "submit-prompt" }, say("请先选择主办者类型。", "Choose the type of subject first.")));
      return;
    }
    // Which fields a subject type fills in does not depend on nationality; its documents do.
    const checklist = this.checklists[type.id][this.rules.nationalities[0].id];
    const wanted = new Set(checklist.fields);
    const required = new Set(checklist.required);
    const groups = this.rules.field_groups.filter((g) => g.applies_to.includes(type.kind));
    const sections = this.rules.sections.map((section) => {
      const own = this.rules.fields.filter((f) => wanted.has(f.id) && splitId(f.id)[0] === section.id);
      if (!own.length) return null;
      const notes = groups
        .filter((g) => g.fields.some((id) => own.some((f) => f.id === id)))
        .map((g) => h("p", { class: "beian-note", id: `group-${g.id}`, "data-group": g.id }, pick(g.message)));
      const noteIds = (field) => groups.filter((g) => g.fields.includes(field.id)).map((g) => `group-${g.id}`);
      return h(
        "fieldset",
        { class: "beian-choice beian-section", "data-section": section.id },
        h("legend", {}, pick(section.label)),
        section.entered_by === "provider"
          ? h("p", { class: "beian-hint" }, say(
              "本部分由接入服务单位在现场核验时录入；如您已知道，可先按接入服务单位提供的信息填写。",
              "Your access provider enters this part at the on-site verification; fill it in now if you know it."))
          : null,
        // What the provider enters is not required of the applicant at submission (二.(二)1(5)).
        own.map((field) => this.fieldPart(field, required.has(field.id) && section.entered_by !== "provider", noteIds(field))),
        notes,
      );
    });
    this.fields.replaceChildren(...sections.filter(Boolean));
    for (const section of this.rules.sections) this.refreshDocuments(section.id);
  }

  fieldPart(field, required, noteIds) {
    const id = controlId(field.id);
    const hint = pick(field.hint) + (field.many ? say("", " ") + this.listHint(field) : "");
    const numberHint = field.validator === "document_number" ? h("p", { class: "beian-hint", id: `${id}-document` }) : null;
    const describedBy = [`${id}-hint`, numberHint && numberHint.id, ...noteIds].filter(Boolean).join(" ");
    const control = this.control(field, { id, name: field.id, required, "aria-describedby": describedBy });
    const slot = errorSlot(id, control, () => control);
    this.slots.set(field.id, slot);
    this.entries.push({ field, control, numberHint });
    return h(
      "div",
      { class: "beian-field", "data-field": field.id, "data-required": String(required) },
      h("label", { for: id }, pick(field.label), aside(required ? say("必填", "required") : say("选填", "optional"))),
      h("p", { class: "beian-hint", id: `${id}-hint` }, hint),
      numberHint,
      slot.box,
      control,
    );
  }

  listHint(field) {
    if (field.max_items === null) return say("每行填写一项。", "One per line.");
    return say(`每行填写一项，最多 ${field.max_items} 项。`, `One per line, at most ${field.max_items}.`);
  }

  control(field, attributes) {
    const value = this.typed.get(field.id) || "";
    if (field.many) return h("textarea", { ...attributes, rows: 3, cols: 50, spellcheck: "false" }, value);
    const options = {
      choice: () => field.choices.map((c) => [c.id, pick(c.name)]),
      nationality: () => this.rules.nationalities.map((n) => [n.id, pick(n.name)]),
      document_type: () => [], // by holder and nationality: refreshDocuments
    }[field.validator];
    if (options) {
      const select = h("select", attributes);
      setOptions(select, options(), value);
      return select;
    }
    const spellcheck = PROSE.has(field.validator) ? null : "false";
    return h("input", { ...attributes, type: "text", value, spellcheck, ...INPUTS[field.validator] });
  }

  /** A section's fields of one validator (nationality, document type, document number). */
  entry(section, validator) {
    return this.entries.find((e) => e.field.validator === validator && splitId(e.field.id)[0] === section);
  }

  /**
   * The documents a section's holder may present: for its nationality once chosen, else
   * any nationality's (as the API allows); the first choice of each list is marked.
   */
  refreshDocuments(section) {
    const type = this.entry(section, "document_type");
    if (!type) return;
    const nationality = this.entry(section, "nationality");
    const chosen = nationality && nationality.control.value;
    const nationalities = chosen ? [chosen] : this.rules.nationalities.map((n) => n.id);
    const found = new Map();
    for (const each of nationalities) {
      for (const options of this.checklists[this.subjectType][each].documents) {
        if (options.holder !== section) continue;
        options.documents.forEach((id, i) => found.has(id) || found.set(id, i === 0));
      }
    }
    const first = aside(say("第一证件", "first choice"));
    const wanted = this.typed.get(type.field.id) || type.control.value;
    setOptions(type.control, [...found].map(([id, isFirst]) => [id, pick(this.documents[id].name) + (isFirst ? first : "")]), wanted);
    this.refreshNumberHint(section);
  }

  refreshNumberHint(section) {
    const type = this.entry(section, "document_type");
    const number = this.entry(section, "document_number");
    if (!type || !number) return;
    const document = this.documents[type.control.value];
    number.numberHint.textContent = document
      ? say(`填写所选证件上的${pick(document.number_label)}。`, `Enter the ${pick(document.number_label).toLowerCase()} on the chosen document.`)
      : "";
  }

  typing(target) {
    if (this.entries.some((e) => e.control === target)) this.typed.set(target.name, target.value);
  }

  changed(target) {
    if (target.name === "subject_type") {
      this.subjectType = target.value;
      this.renderFields();
      return;
    }
    const entry = this.entries.find((e) => e.control === target);
    if (!entry) return;
    const [section] = splitId(entry.field.id);
    if (entry.field.validator === "nationality") this.refreshDocuments(section);
    if (entry.field.validator === "document_type") this.refreshNumberHint(section);
  }

  /** The request body, and the line numbers of list entries (for "line 3" in messages). */
  payload() {
    const body = {};
    if (this.subjectType) body.subject_type = this.subjectType;
    const lines = new Map();
    for (const { field, control } of this.entries) {
      const [section, key] = splitId(field.id);
      let value = control.value.trim();
      if (field.many) {
        const items = listItems(control.value);
        lines.set(field.id, items.map((item) => item.line));
        value = items.map((item) => item.value);
      }
      if (!value.length) continue;
      body[section] = { ...body[section], [key]: value };
    }
    if (this.consent) body.consent = { sensitive_processing: this.consent.checked, privacy_notice_version: this.version };
    return { body, lines };
  }

  async submit() {
    if (this.button.disabled) return;
    this.clearErrors();
    this.button.disabled = true;
    this.status.textContent = say("正在提交……", "Submitting…");
    const { body, lines } = this.payload();
    try {
      if (this.resubmitting) {
        const { id, token, done } = this.resubmitting;
        const filing = await api(`/filings/${encodeURIComponent(id)}/transitions`, {
          method: "POST",
          token,
          body: { action: "resubmit", params: { filing: body } },
        });
        this.status.textContent = "";
        done(filing);
        return;
      }
      const reply = await api("/filings", { method: "POST", body });
      this.status.textContent = "";
      this.showResult(reply);
    } catch (error) {
      this.status.textContent = "";
      if (error instanceof ApiError && error.status === 400 && (error.body.errors || []).length) this.showFieldErrors(error, lines);
      else this.showProblem(error);
    } finally {
      this.button.disabled = false;
    }
  }

  /** The slot of an error path: the field itself, else its nearest parent on the form. */
  slotFor(path) {
    for (let at = path; at; at = at.slice(0, Math.max(at.lastIndexOf("."), 0))) {
      if (this.slots.has(at)) return this.slots.get(at);
    }
    return null;
  }

  clearErrors() {
    this.summary.replaceChildren();
    for (const slot of (this.slots || new Map()).values()) slot.clear();
  }

  showFieldErrors(error, lines) {
    const bySlot = new Map();
    const items = error.body.errors.map((problem) => {
      const [path, index] = parsePath(problem.field || "");
      const line = index === null ? null : (lines.get(path) || [])[index];
      const text = say(problem.message_zh, problem.message_en) + (line ? aside(say(`第 ${line} 行`, `line ${line}`)) : "");
      const slot = this.slotFor(path);
      if (!slot) return h("li", {}, text);
      bySlot.set(slot, [...(bySlot.get(slot) || []), text]);
      const jump = (event) => {
        event.preventDefault();
        slot.focus().focus();
      };
      return h("li", {}, h("a", { href: `#${slot.focus().id}`, "data-field": problem.field, onclick: jump }, text));
    });
    for (const [slot, texts] of bySlot) slot.show(texts);
    const box = h(
      "div",
      { class: "admonition failure beian-error", id: "submit-errors", role: "alert", tabindex: "-1" },
      h("p", { class: "admonition-title" }, say(`未提交：有 ${items.length} 处需要修改`, `Not submitted: ${items.length} ${items.length === 1 ? "thing" : "things"} to correct`)),
      h("p", {}, error.text),
      h("ul", {}, items),
      h("p", {}, kept()),
    );
    this.summary.replaceChildren(box);
    box.focus();
  }

  showProblem(error) {
    const box = showError(this.summary, problemOf(error));
    box.id = "submit-problem";
    box.setAttribute("tabindex", "-1");
    box.append(h("p", {}, kept()));
    box.focus();
  }

  /** The filing id and the token, shown once: neither is stored, and the token is not in any URL. */
  showResult({ filing, token }) {
    const tokenText = h("code", { id: "new-filing-token" }, token);
    const copied = h("span", { id: "token-copied", role: "status" });
    const copy = async () => {
      try {
        await navigator.clipboard.writeText(token);
        copied.textContent = say("已复制。", "Copied.");
      } catch {
        getSelection().selectAllChildren(tokenText);
        copied.textContent = say("无法自动复制：令牌已选中，请按 Ctrl+C（Mac 按 ⌘C）复制。", "Could not copy automatically: the token is selected; press Ctrl+C (⌘C on a Mac).");
      }
    };
    const deadlines = Object.entries(filing.deadlines || {}).map(([name, deadline]) => {
      const rule = this.rules.deadlines.find((r) => r.id === name);
      const label = rule ? pick(rule.label) : name;
      return h(
        "li",
        { "data-deadline": name },
        say(`${label}：最迟 `, `${label}: by `),
        h("strong", {}, deadline.due),
        say(" 完成", ""),
        deadline.provisional ? aside(say("暂定", "provisional")) : "",
      );
    });
    const heading = h("h2", { id: "submit-done", tabindex: "-1" }, say("备案已提交", "Filing submitted"));
    const result = h(
      "section",
      { id: "submit-result", "aria-labelledby": "submit-done" },
      heading,
      h("p", {}, say("备案编号：", "Filing id: "), h("code", { id: "new-filing-id" }, filing.id)),
      h(
        "div",
        { class: "admonition warning", id: "token-warning" },
        h("p", { class: "admonition-title" }, say("请立即保存访问令牌", "Keep your access token now")),
        h(
          "p",
          {},
          say(
            "访问令牌只在这里显示一次，离开或刷新本页后无法再次查看；我们只保存它的散列值，无法找回。它是您查看进度、上传材料的唯一凭证：请像密码一样保管，不要发给他人。",
            "The access token is shown here once only: after you leave or reload this page it cannot be shown again, and we keep only its hash, so it cannot be recovered. It is your only key to the filing, to follow it and upload documents: keep it like a password and give it to no one.",
          ),
        ),
      ),
      h("p", {}, say("访问令牌：", "Access token: "), tokenText),
      h("p", {}, h("button", { type: "button", class: "md-button", id: "copy-token", onclick: copy }, say("复制令牌", "Copy the token")), " ", copied),
      h("h3", {}, say("接下来", "What happens next")),
      h("ul", { id: "new-filing-deadlines" }, deadlines),
      h(
        "p",
        {},
        say("预核验结果将以短信发送到网站负责人的手机。各环节见", "The result of pre-verification is sent by SMS to the mobile of the person responsible. Every step is described in "),
        h("a", { href: "../process/" }, say("流程与时限", "process and deadlines")),
        say("；进度可随时在", "; follow the filing at any time on the "),
        h("a", { href: "../status/" }, say("备案进度", "status page")),
        say("页面查看。", "."),
      ),
      h(
        "p",
        {},
        h("a", { class: "md-button md-button--primary", id: "upload-link", href: `../upload/?filing=${encodeURIComponent(filing.id)}` }, say("下一步：上传材料", "Next: upload your documents")),
      ),
      h("p", { class: "beian-hint" }, say("上传页面已填好备案编号，您只需粘贴访问令牌。", "The upload page has the filing id filled in; you paste the access token.")),
    );
    this.typed.clear();
    this.summary.replaceChildren();
    this.element.replaceWith(result);
    // Shown once: a page restored from the back-forward cache no longer holds the token.
    const gone = say(`备案 ${filing.id} 已提交。访问令牌只显示一次，现已不再显示。`, `Filing ${filing.id} was submitted. The access token is shown once only and is no longer shown.`);
    window.addEventListener("pagehide", () => result.replaceChildren(heading, h("p", {}, gone)), { once: true });
    heading.focus();
  }
}

mount("submit", async (root) => {
  let data;
  try {
    const [rules, checklists, consent] = await Promise.all(["rules.json", "checklists.json", "consent.json"].map(generated));
    data = { rules, checklists, consent };
  } catch (error) {
    showError(root, error);
    return;
  }
  const form = new FilingForm(data);
  root.replaceChildren(form.summary, form.element);
});

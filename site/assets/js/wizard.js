// The interactive checklist: pick the subject type and the responsible person's
// nationality, get exactly the documents and fields to prepare. The choices and the
// answer come from the files the site build writes from the rules (rules.json, and
// checklists.json, computed by the rules' own documents_for / fields_for).

import { showError } from "./lib/api.js";
import { aside, generated, h, mount, pick, say } from "./lib/page.js";

function radioGroup(name, legend, options, selected) {
  return h(
    "fieldset",
    { class: "beian-choice", id: `${name}-group` },
    h("legend", {}, legend),
    options.map((option) =>
      h(
        "label",
        { class: "beian-radio" },
        h("input", { type: "radio", name, value: option.id, checked: option.id === selected }),
        ` ${pick(option.name)}`,
      ),
    ),
  );
}

// A rule the notice does not set is the provider's own: say so, and cite no section.
function noticeLink(options) {
  if (options.source === "provider") {
    return h("a", { href: "../coverage/#provider-rules" }, say("本单位规则", "The provider's rule"));
  }
  return h("a", { href: `../notice/#${options.anchor}` }, `${say("依据", "Notice")} ${options.cite}`);
}

function documentsPart(rules, checklist, subjectType, nationality) {
  const byId = Object.fromEntries(rules.documents.map((d) => [d.id, d]));
  const nationalityName = pick(rules.nationalities.find((n) => n.id === nationality).name);
  const person = pick(rules.responsible_person.name);
  const holderName = (holder) => {
    if (holder === "responsible_person") return person + aside(nationalityName);
    return subjectType.kind === "unit"
      ? say("单位证件", "The organisation's certificate")
      : say("主办者本人", "The individual") + aside(nationalityName);
  };
  return h(
    "section",
    { id: "wizard-documents" },
    h("h2", {}, say("要携带的证件原件", "Original documents to bring")),
    checklist.documents.map((options) => {
      const [first, ...fallbacks] = options.documents.map((id) => byId[id]);
      const item = (document, role) =>
        h(
          "li",
          { "data-document": document.id, "data-role": role },
          h("strong", {}, pick(document.name)),
          aside(say("号码：", "number: ") + pick(document.number_label)),
        );
      return h(
        "div",
        { class: "beian-holder", "data-holder": options.holder },
        h("h3", {}, holderName(options.holder)),
        h("p", {}, say("第一证件：", "First document:")),
        h("ul", {}, item(first, "first")),
        fallbacks.length
          ? [h("p", {}, say("没有第一证件时，可出示其中之一：", "Without it, one of:")), h("ul", {}, fallbacks.map((d) => item(d, "fallback")))]
          : null,
        options.holder === "subject" && subjectType.uscc_prefixes.length
          ? h(
              "p",
              { class: "beian-hint", "data-uscc-prefixes": subjectType.uscc_prefixes.join(" ") },
              say(
                `统一社会信用代码（18位）的开头须为 ${subjectType.uscc_prefixes.join("、")}（登记管理部门和机构类别代码）。`,
                `The unified social credit code (18 characters) must start with ${subjectType.uscc_prefixes.join(", ")} (registration authority and unit category).`,
              ),
            )
          : null,
        h("p", { class: "beian-cite" }, noticeLink(options)),
      );
    }),
    h(
      "p",
      { class: "beian-note" },
      say(
        "网站负责人须本人携带证件原件到备案现场核验；复印件和照片不能代替原件。",
        "The person responsible for the website brings the originals to the filing desk in person; copies and photos do not replace them.",
      ),
    ),
  );
}

function fieldsPart(rules, checklist, labels, subjectType) {
  const wanted = new Set(checklist.fields);
  const fields = rules.fields.filter((f) => wanted.has(f.id));
  const groups = rules.field_groups.filter((g) => g.applies_to.includes(subjectType.kind));
  return h(
    "section",
    { id: "wizard-fields" },
    h("h2", {}, say("要填写的信息", "Information to fill in")),
    rules.sections.map((section) => {
      const own = fields.filter((f) => f.id.split(".")[0] === section.id);
      if (!own.length) return null;
      const notes = groups.filter((g) => g.fields.some((id) => own.some((f) => f.id === id)));
      return h(
        "div",
        { class: "beian-section", "data-section": section.id },
        h("h3", {}, pick(section.label)),
        section.entered_by === "provider"
          ? h("p", { class: "beian-hint" }, say("本部分由接入服务单位填写，您无需准备。", "The access provider fills in this part; you need not prepare it."))
          : null,
        h(
          "ul",
          {},
          own.map((field) =>
            h(
              "li",
              { "data-field": field.id, "data-requirement": checklist.requirement[field.id] },
              h("strong", {}, pick(field.label)),
              // Required, optional, or the provider's to enter (二.(二)1(5)): as the rules decide it.
              aside(pick(labels[checklist.requirement[field.id]])),
              h("br"),
              h("span", { class: "beian-hint" }, pick(field.hint)),
            ),
          ),
        ),
        notes.map((g) => h("p", { class: "beian-note", "data-group": g.id }, pick(g.message))),
      );
    }),
  );
}

function render(result, rules, checklists, labels, choice) {
  if (!choice.subjectType || !choice.nationality) {
    result.replaceChildren(
      h("p", { id: "wizard-prompt" }, say("请先选择主办者类型和国籍。", "Choose the type of subject and the nationality first.")),
    );
    return;
  }
  const subjectType = rules.subject_types.find((t) => t.id === choice.subjectType);
  const checklist = checklists[subjectType.id][choice.nationality];
  result.replaceChildren(
    h("p", { class: "beian-summary" }, say(`您的清单：${pick(subjectType.name)}`, `Your checklist: ${pick(subjectType.name)}`)),
    documentsPart(rules, checklist, subjectType, choice.nationality),
    fieldsPart(rules, checklist, labels, subjectType),
    h(
      "p",
      { class: "beian-actions" },
      h("button", { type: "button", class: "md-button", onclick: () => window.print() }, say("打印清单", "Print the checklist")),
    ),
  );
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { subjectType: params.get("type"), nationality: params.get("nationality") };
}

mount("wizard", async (root) => {
  let rules;
  let checklists;
  let labels;
  try {
    [rules, checklists, labels] = await Promise.all([
      generated("rules.json"),
      generated("checklists.json"),
      generated("requirements.json"),
    ]);
  } catch (error) {
    showError(root, error);
    return;
  }
  const choice = readHash();
  if (!checklists[choice.subjectType]) choice.subjectType = null;
  if (!rules.nationalities.some((n) => n.id === choice.nationality)) choice.nationality = null;
  const result = h("div", { id: "wizard-result", "aria-live": "polite" });
  const form = h(
    "form",
    {
      class: "beian-form",
      id: "wizard-form",
      onchange: (event) => {
        if (event.target.name === "subject_type") choice.subjectType = event.target.value;
        if (event.target.name === "nationality") choice.nationality = event.target.value;
        const params = new URLSearchParams();
        if (choice.subjectType) params.set("type", choice.subjectType);
        if (choice.nationality) params.set("nationality", choice.nationality);
        history.replaceState(null, "", `#${params}`);
        render(result, rules, checklists, labels, choice);
      },
    },
    radioGroup("subject_type", say("主办者类型", "Type of subject"), rules.subject_types, choice.subjectType),
    radioGroup(
      "nationality",
      say("网站负责人的国籍（个人主办者即本人）", "Nationality of the person responsible (for an individual: yourself)"),
      rules.nationalities,
      choice.nationality,
    ),
  );
  root.replaceChildren(form, result);
  render(result, rules, checklists, labels, choice);
});

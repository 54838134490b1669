// The staff console's first page: sign-in, then the work queue. The queue is what
// `beian deadlines` reads (GET /deadlines), for the caller's role and scope: every pending
// deadline with its working days left, overdue in red, provisional dates marked.

import { showError } from "./lib/api.js";
import { aside, field, generated, h, mount, pick, say, scrollingTable } from "./lib/page.js";
import { consoleUrl, hasToken, lastEnding, openSession, signInForm, staffApi } from "./lib/staff.js";

const PAGE_SIZE = 20;
const HORIZON_DAYS = 366; // the widest window the API allows: everything pending
// The roles that hold deadlines in their scope (workflow.DEADLINE_SCOPE: provider or province).
const DEADLINE_ROLES = ["verifier", "reviewer", "compliance_officer", "admin"];
const WHEN = [
  ["all", "全部", "All"],
  ["overdue", "已逾期", "Overdue"],
  ["3", "3 个工作日内到期或已逾期", "Due within 3 working days, or overdue"],
  ["7", "7 个工作日内到期或已逾期", "Due within 7 working days, or overdue"],
];

/** One row per pending deadline, soonest first (as the CLI lists them). */
function pendingRows(filings) {
  const rows = [];
  for (const filing of filings) {
    for (const [name, deadline] of Object.entries(filing.deadlines || {})) {
      if (!deadline.met_at) rows.push({ filing, name, deadline });
    }
  }
  return rows.sort((a, b) => a.deadline.due.localeCompare(b.deadline.due));
}

function daysLeft(deadline) {
  const left = deadline.working_days_left;
  if (deadline.overdue) return say(`逾期 ${Math.abs(left)} 个工作日`, `${Math.abs(left)} working days overdue`);
  if (left === 0) return say("今天到期", "Due today");
  return say(`剩 ${left} 个工作日`, `${left} working days left`);
}

function queueTable(rows, labels, states) {
  if (!rows.length) return h("p", { id: "queue-empty" }, say("没有符合条件的备案。", "No filing matches."));
  return scrollingTable(
    "queue",
    say("待办备案与时限", "Filings waiting, with their deadlines"),
    [say("备案", "Filing"), say("网站", "Website"), say("环节", "State"), say("时限", "Deadline"), say("到期日", "Due"), say("剩余", "Left")],
    rows.map(({ filing, name, deadline }) =>
      h(
        "tr",
        { "data-filing": filing.id, "data-deadline": name, "data-overdue": String(deadline.overdue), class: deadline.overdue ? "beian-overdue" : null },
        h("th", { scope: "row" }, h("a", { href: consoleUrl("filing", { id: filing.id }) }, filing.id)),
        h("td", {}, ((filing.payload || {}).website || {}).name || "", " ", h("span", { class: "beian-hint" }, (((filing.payload || {}).website || {}).domains || []).join(", "))),
        h("td", {}, states[filing.state] ? pick(states[filing.state]) : filing.state),
        h("td", {}, labels[name] ? pick(labels[name]) : name),
        h("td", {}, deadline.due, deadline.provisional ? h("span", { class: "beian-provisional" }, aside(say("暂定", "provisional"))) : null),
        h("td", { class: "beian-days-left" }, daysLeft(deadline)),
      ),
    ),
  );
}

function select(id, label, options, onchange) {
  const element = h("select", { id, name: id, onchange }, options.map(([value, text]) => h("option", { value }, text)));
  return [field(id, label, element), element];
}

async function workQueue(body, session, data) {
  const { rules, states } = data;
  const labels = Object.fromEntries(rules.deadlines.map((d) => [d.id, d.label]));
  const holder = h("div", { id: "queue-holder", "aria-live": "polite" });
  body.replaceChildren(h("h2", {}, say("工作队列", "Work queue")), holder);
  if (!DEADLINE_ROLES.includes(session.role)) {
    holder.replaceChildren(
      h("p", { id: "queue-none" }, say("此角色没有待办时限；请使用", "This role has no deadlines to meet; use the "), h("a", { href: consoleUrl("archive") }, say("档案检索", "archive search")), say("。", ".")),
    );
    return;
  }
  let filings;
  try {
    filings = (await staffApi(`/deadlines?within_days=${HORIZON_DAYS}`)).filings;
  } catch (error) {
    showError(holder, error);
    return;
  }
  const all = pendingRows(filings);
  const present = [...new Set(all.map((row) => row.filing.state))];
  const [stateField, stateSelect] = select("queue-state", say("环节", "State"), [["", say("全部", "All")], ...present.map((s) => [s, states[s] ? pick(states[s]) : s])], () => show(0));
  const [deadlineField, deadlineSelect] = select("queue-deadline", say("时限", "Deadline"), [["", say("全部", "All")], ...[...new Set(all.map((r) => r.name))].map((n) => [n, labels[n] ? pick(labels[n]) : n])], () => show(0));
  const [whenField, whenSelect] = select("queue-when", say("到期", "Due"), WHEN.map(([value, zh, en]) => [value, say(zh, en)]), () => show(0));
  const table = h("div", { id: "queue-table" });
  const pager = h("nav", { class: "beian-pager", "aria-label": say("分页", "Pages") });
  const counts = h("p", { id: "queue-count", role: "status" });

  function show(page) {
    const when = whenSelect.value;
    const rows = all.filter(
      ({ filing, name, deadline }) =>
        (!stateSelect.value || filing.state === stateSelect.value) &&
        (!deadlineSelect.value || name === deadlineSelect.value) &&
        (when === "all" || deadline.overdue || (when !== "overdue" && deadline.working_days_left <= Number(when))),
    );
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    const current = Math.min(page, pages - 1);
    table.replaceChildren(queueTable(rows.slice(current * PAGE_SIZE, (current + 1) * PAGE_SIZE), labels, states));
    counts.textContent = say(`共 ${rows.length} 项，其中逾期 ${rows.filter((r) => r.deadline.overdue).length} 项。`, `${rows.length} in all, ${rows.filter((r) => r.deadline.overdue).length} overdue.`);
    pager.replaceChildren(
      h("button", { type: "button", class: "md-button", id: "queue-previous", disabled: current === 0, onclick: () => show(current - 1) }, say("上一页", "Previous")),
      h("span", { id: "queue-page" }, say(` 第 ${current + 1} / ${pages} 页 `, ` Page ${current + 1} of ${pages} `)),
      h("button", { type: "button", class: "md-button", id: "queue-next", disabled: current + 1 >= pages, onclick: () => show(current + 1) }, say("下一页", "Next")),
    );
  }

  holder.replaceChildren(
    h("form", { class: "beian-form beian-filters", id: "queue-filters", onsubmit: (event) => event.preventDefault() }, stateField, deadlineField, whenField),
    counts,
    table,
    pager,
    h("p", { class: "beian-hint" }, say("工作日不含周末和法定节假日；“暂定”表示该年的节假日安排尚未公布。与命令 beian deadlines 读取同一接口。", "Working days exclude weekends and public holidays; “provisional” means that year's holidays are not yet published. The same API as the beian deadlines command.")),
  );
  show(0);
}

mount("staff-queue", async (root) => {
  let data;
  try {
    const [rules, states] = await Promise.all(["rules.json", "states.json"].map(generated));
    data = { rules, states };
  } catch (error) {
    showError(root, error);
    return;
  }
  if (hasToken()) {
    try {
      const { session, body } = await openSession(root);
      await workQueue(body, session, data);
    } catch (error) {
      showError(root, error); // a dropped connection says so, in the page
    }
    return;
  }
  root.replaceChildren(
    ...[lastEnding(), signInForm(async () => {
      const { session, body } = await openSession(root);
      await workQueue(body, session, data);
    })].filter(Boolean),
  );
});

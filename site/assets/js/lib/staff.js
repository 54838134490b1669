// The staff console's session: a token pasted once and kept in this tab's sessionStorage
// only (never localStorage or a cookie), sent only to this site's own /api/. Any 401
// ends the session and returns to the sign-in page with the reason.

import { api, showError } from "./api.js";
import { submitForm } from "./form.js";
import { field, h, say } from "./page.js";

const TOKEN = "beian.staff.token";
const ENDED = "beian.staff.ended"; // why the last session ended, said once on the sign-in page

export const ROLE_NAMES = {
  verifier: ["核验员", "verifier"],
  reviewer: ["审核员（通信管理局）", "reviewer (province)"],
  filing_center: ["备案中心", "filing center"],
  compliance_officer: ["合规负责人", "compliance officer"],
  inspector: ["检查人员", "inspector"],
  admin: ["管理员", "administrator"],
};

const ENDINGS = {
  expired: ["登录已失效：令牌已过期或已被吊销，请粘贴新的令牌。", "Signed out: the token has expired or was revoked; paste a new one."],
  signed_out: ["已退出登录，令牌已从本浏览器标签页中清除。", "Signed out; the token is cleared from this browser tab."],
  needed: ["请先登录。", "Sign in first."],
};

/** The console's pages sit under …/staff/; `page("filing")` is …/staff/filing/. */
export function consoleUrl(page = "", params = {}) {
  const home = location.pathname.replace(/staff\/.*$/, "staff/");
  const url = new URL(page ? `${home}${page}/` : home, location.origin);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

function endSession(reason) {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.setItem(ENDED, reason);
  location.assign(consoleUrl());
}

/** What ended the last session, once (then forgotten), as a message; or null. */
export function lastEnding() {
  const reason = sessionStorage.getItem(ENDED);
  sessionStorage.removeItem(ENDED);
  const words = ENDINGS[reason];
  return words ? h("div", { class: "admonition info", id: "session-ended", role: "status" }, h("p", {}, say(...words))) : null;
}

/** The API with this tab's staff token; a 401 ends the session. */
export async function staffApi(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN);
  if (!token) {
    endSession("needed");
    return new Promise(() => {}); // the page is being left
  }
  try {
    return await api(path, { ...options, token });
  } catch (error) {
    if (error.status === 401) {
      endSession("expired");
      return new Promise(() => {});
    }
    throw error;
  }
}

export function hasToken() {
  return Boolean(sessionStorage.getItem(TOKEN));
}

/** The token itself, for code that calls the API through another path (the upload page's). */
export function staffToken() {
  return sessionStorage.getItem(TOKEN);
}

/** Check a pasted token with the API; keep it only if it is a staff member's. */
export async function signIn(token) {
  const session = await api("/session", { token });
  sessionStorage.setItem(TOKEN, token);
  return session;
}

export function roleName(role) {
  return ROLE_NAMES[role] ? say(...ROLE_NAMES[role]) : role;
}

function scopeText(session) {
  if (session.provider) return say(`接入服务单位 ${session.provider}`, `provider ${session.provider}`);
  if (session.province) return say(`省份 ${session.province}`, `province ${session.province}`);
  return say("全部", "all providers");
}

/** "Signed in as NAME (ROLE, scope)", the console's links for this role, and sign-out. */
export function sessionBar(session) {
  const links = [h("a", { href: consoleUrl(), id: "link-queue" }, say("工作队列", "Work queue"))];
  if (["compliance_officer", "inspector", "filing_center"].includes(session.role)) {
    links.push(h("a", { href: consoleUrl("archive"), id: "link-archive" }, say("档案检索", "Archive")));
  }
  const signOut = h(
    "button",
    { type: "button", class: "md-button", id: "sign-out", onclick: () => endSession("signed_out") },
    say("退出登录", "Sign out"),
  );
  return h(
    "nav",
    { class: "beian-session", "aria-label": say("工作人员", "Staff") },
    h(
      "p",
      { id: "signed-in" },
      say("已登录：", "Signed in as "),
      h("strong", {}, session.subject),
      say(`（${roleName(session.role)}，${scopeText(session)}）`, ` (${roleName(session.role)}, ${scopeText(session)})`),
    ),
    h("p", {}, ...links.flatMap((link) => [link, " "]), signOut),
  );
}

/** A console page's start: the session (or off to sign in) and its bar on top of `root`. */
export async function openSession(root) {
  const session = await staffApi("/session");
  const body = h("div", { id: "console-body" });
  root.replaceChildren(sessionBar(session), body);
  return { session, body };
}

/** A pasted token the API refused: what to check, for staff (not the applicants' advice). */
function refusedToken() {
  return h(
    "div",
    { class: "admonition failure beian-error", role: "alert" },
    h("p", { class: "admonition-title" }, say("未能登录", "Not signed in")),
    h("p", {}, say("令牌无效、已过期或已被吊销。", "The token is invalid, expired or revoked.")),
    h("p", {}, say("请完整复制管理员发给您的令牌（不含空格）；过期或吊销后请向管理员申请新的令牌。", "Copy the whole token your administrator gave you, without spaces; once it has expired or been revoked, ask them for a new one.")),
  );
}

/** The sign-in form; `onSignedIn(session)` runs once the API accepts the token. */
export function signInForm(onSignedIn) {
  const token = h("input", {
    id: "staff-token", name: "staff-token", type: "password", required: true,
    autocomplete: "off", spellcheck: "false", "aria-describedby": "staff-token-hint",
  });
  const message = h("div", { class: "beian-message", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "md-button md-button--primary" }, say("登录", "Sign in"));
  return submitForm(
    {
      id: "sign-in-form",
      button,
      message,
      pending: say("正在核对令牌……", "Checking the token…"),
      submit: async () => {
        const session = await signIn(token.value.trim());
        token.value = "";
        message.replaceChildren();
        await onSignedIn(session);
      },
      failed: (error) => {
        if (error.status === 401) message.replaceChildren(refusedToken());
        else showError(message, error);
      },
    },
    field(
      "staff-token",
      say("工作人员令牌", "Staff token"),
      token,
      say(
        "由管理员用 beian users add 签发（生产环境由单位的身份系统签发）。令牌只保存在本标签页中，关闭标签页或退出登录即清除。",
        "Issued by an administrator with beian users add (in production, by your organisation's identity system). It is kept in this tab only and cleared when you close the tab or sign out.",
      ),
    ),
    button,
    message,
  );
}

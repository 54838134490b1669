// Calls to the beian API (same origin, /api/) and errors a person can act on.

import { h, say } from "./page.js";

/** What to do next, by error code; the API's own message says what happened. */
const ADVICE = {
  network: [
    "请检查网络连接，然后重试。",
    "Check your network connection, then try again.",
  ],
  unauthorized: [
    "请核对访问令牌：它在提交备案时显示，以 bft_ 开头，复制时不要带空格。令牌遗失请联系接入服务单位。",
    "Check the access token: it was shown when you submitted the filing and starts with bft_; copy it without spaces. If you lost it, contact the access provider.",
  ],
  not_found: [
    "请核对备案编号（如 F20260101-1A2B3C4D），并确认令牌属于这一备案。",
    "Check the filing id (such as F20260101-1A2B3C4D) and that the token belongs to that filing.",
  ],
  too_large: [
    "请缩小文件后重新选择，例如降低扫描分辨率，或把 PDF 拆成几份分别上传。",
    "Make the file smaller and choose it again, for example by scanning at a lower resolution or splitting a PDF.",
  ],
  upload_too_large: [
    "请重新选择文件后再上传。",
    "Choose the file again and upload it.",
  ],
  conflict: [
    "请按提示处理后重试。",
    "Do as the message says, then try again.",
  ],
  forbidden: [
    "此令牌无权执行该操作。",
    "This token may not do that.",
  ],
  invalid: [
    "请按提示修改后重试。",
    "Correct what the message says, then try again.",
  ],
  rate_limited: [
    "请稍候，按提示的时间之后再试。",
    "Wait for the time the message gives, then try again.",
  ],
  upload_refused: [
    "上传凭证可能已过期，请重试：本页会申请新的凭证。",
    "The upload slot may have expired; try again and this page requests a new one.",
  ],
  encryption: [
    "文件没有上传。请确认文件可以打开、在上传过程中没有被修改，然后重试。",
    "Nothing was uploaded. Make sure the file opens and was not changed during the upload, then try again.",
  ],
};
const FALLBACK = [
  "请稍后重试；如问题持续，请联系接入服务单位。",
  "Try again later; if it keeps happening, contact the access provider.",
];

export class ApiError extends Error {
  /** `body` is the API's error: {code, message_zh, message_en, field?, errors?}. */
  constructor(status, body) {
    super(body.message_en || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || "error";
    this.body = body;
  }

  get text() {
    return say(this.body.message_zh || this.body.message_en || "", this.body.message_en || "");
  }

  get advice() {
    const [zh, en] = ADVICE[this.code] || FALLBACK;
    return say(zh, en);
  }

  /** Field errors, each as text for this page's language. */
  get details() {
    return (this.body.errors || []).map((e) => `${e.field}: ${say(e.message_zh, e.message_en)}`);
  }
}

export function networkError() {
  return new ApiError(0, {
    code: "network",
    message_zh: "网络连接中断，请求没有完成。",
    message_en: "The connection dropped; the request did not complete.",
  });
}

/** Call `/api${path}`; resolves to the JSON reply, rejects with an ApiError. */
export async function api(path, { method = "GET", token, body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw networkError();
  }
  const reply = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, reply);
  return reply;
}

/** An alert box saying what happened and what to do; replaces `target`'s content. */
export function showError(target, error) {
  const known = error instanceof ApiError;
  const message = known ? error.text : say("出现了意外错误。", "Something unexpected went wrong.");
  const box = h(
    "div",
    { class: "admonition failure beian-error", role: "alert" },
    h("p", { class: "admonition-title" }, say("未完成", "Not done")),
    h("p", {}, message),
    known && error.details.length ? h("ul", {}, error.details.map((d) => h("li", {}, d))) : null,
    h("p", {}, known ? error.advice : say(...FALLBACK)),
  );
  target.replaceChildren(box);
  return box;
}

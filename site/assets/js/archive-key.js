// The archive's public key, read live from the API, with a fingerprint recomputed here.

import { api, showError } from "./lib/api.js";
import { fingerprint, fromBase64 } from "./lib/envelope.js";
import { formatDate, h, mount, say } from "./lib/page.js";

function copyButton(text) {
  const status = h("span", { class: "beian-hint", role: "status" });
  const button = h(
    "button",
    {
      type: "button",
      class: "md-button",
      id: "copy-key",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          status.textContent = say(" 已复制。", " Copied.");
        } catch {
          status.textContent = say(" 无法自动复制，请选中上方文本后复制。", " Could not copy; select the text above and copy it.");
        }
      },
    },
    say("复制公钥", "Copy the public key"),
  );
  return h("p", {}, button, status);
}

mount("archive-key", async (root) => {
  let key;
  let audit;
  try {
    [key, audit] = await Promise.all([api("/archive-key"), api("/audit/public-key")]);
  } catch (error) {
    showError(root, error);
    return;
  }
  const computed = await fingerprint(fromBase64(key.spki));
  const matches = computed === key.fingerprint;
  root.replaceChildren(
    h(
      "dl",
      { id: "key-facts" },
      h("dt", {}, say("指纹", "Fingerprint")),
      h("dd", {}, h("code", { id: "key-fingerprint" }, key.fingerprint)),
      h("dt", {}, say("本页重新计算的指纹", "Fingerprint recomputed by this page")),
      h(
        "dd",
        {},
        h("code", {}, computed),
        " ",
        h("strong", { id: "key-check", "data-match": String(matches) }, matches ? say("一致", "matches") : say("不一致！请勿上传，并联系接入服务单位。", "does not match! Do not upload; contact the access provider.")),
      ),
      h("dt", {}, say("密钥编号", "Key id")),
      h("dd", {}, h("code", { id: "key-id" }, key.key_id)),
      h("dt", {}, say("算法", "Algorithm")),
      h("dd", {}, `${key.algorithm}, ${key.format}, ${say("分块", "chunks of")} ${key.chunk_size / 1024} KiB`),
      h("dt", {}, say("审计日志检查点公钥指纹", "Audit log checkpoint key fingerprint")),
      h("dd", {}, h("code", { id: "audit-fingerprint" }, audit.fingerprint)),
      h("dt", {}, say("最新锚定的审计检查点", "Latest anchored audit checkpoint")),
      h(
        "dd",
        { id: "audit-anchor" },
        audit.anchor
          ? [say("第 ", "entry "), h("code", {}, String(audit.anchor.seq)), say(" 条，哈希 ", ", hash "), h("code", {}, audit.anchor.hash), ` (${formatDate(audit.anchor.at)} +08:00)`]
          : say("尚无", "none yet"),
      ),
    ),
    h("pre", { id: "key-pem", tabindex: "0", "aria-label": say("PEM 格式的公钥", "The public key in PEM") }, h("code", {}, key.public_key_pem)),
    copyButton(key.public_key_pem),
  );
});

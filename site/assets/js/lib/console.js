// What the console's pages share: the site build's data, the start of a page (data, session,
// the filing named in ?id=), and taking a workflow step.

import { showError } from "./api.js";
import { generated, h, mount, say } from "./page.js";
import { openSession, staffApi } from "./staff.js";

/** The data every console page needs, from the site build. */
export async function consoleData() {
  const [rules, states, transitions, filetypes, settings] = await Promise.all(
    ["rules.json", "states.json", "transitions.json", "filetypes.json", "console.json"].map(generated),
  );
  return { rules, states, transitions, filetypes, settings };
}

/**
 * Mount a console page on `id`: `build({body, session, data, filingId})` runs once signed
 * in; with `forFiling`, only when the address names a filing (?id=).
 */
export function consolePage(id, build, { forFiling = true } = {}) {
  mount(id, async (root) => {
    let data;
    try {
      data = await consoleData();
    } catch (error) {
      showError(root, error);
      return;
    }
    try {
      const { session, body } = await openSession(root);
      const filingId = (new URLSearchParams(location.search).get("id") || "").trim().toUpperCase();
      if (forFiling && !filingId) {
        body.replaceChildren(h("p", {}, say("请从工作队列或档案检索打开一个备案。", "Open a filing from the work queue or the archive search.")));
        return;
      }
      await build({ body, session, data, filingId });
    } catch (error) {
      showError(root, error); // a dropped connection says so, in the page
    }
  });
}

/** Take `action` on the filing, naming the version read (a concurrent change is a 409). */
export async function takeStep(filing, action, params, transitions) {
  const path = `/filings/${encodeURIComponent(filing.id)}`;
  if (action === "follow_up" && !transitions.follow_up) {
    // Before the one transition table, follow-ups had a route of their own.
    return staffApi(`${path}/follow-ups`, { method: "POST", body: params });
  }
  return staffApi(`${path}/transitions`, { method: "POST", body: { action, params, expected_version: filing.version } });
}

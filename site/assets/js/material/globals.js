// Material for MkDocs' page globals (partials/javascripts/base.html), as a file: the
// site's Content-Security-Policy refuses inline scripts. Same behaviour, readable.
(() => {
  const scope = new URL(document.currentScript.dataset.scope, location);
  window.__md_scope = scope;
  window.__md_hash = (value) => [...value].reduce((hash, char) => (hash << 5) - hash + char.charCodeAt(0), 0);
  window.__md_get = (key, storage = localStorage, base = window.__md_scope) =>
    JSON.parse(storage.getItem(`${base.pathname}.${key}`));
  window.__md_set = (key, value, storage = localStorage, base = window.__md_scope) => {
    try {
      storage.setItem(`${base.pathname}.${key}`, JSON.stringify(value));
    } catch {
      // storage full or disabled: the preference is simply not kept
    }
  };
})();

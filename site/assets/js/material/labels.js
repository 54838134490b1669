// Accessible names Material's templates leave out: the search dialog gets the name of its
// search field (axe: aria-dialog-name).
for (const dialog of document.querySelectorAll(".md-search[role=dialog]:not([aria-label])")) {
  const field = dialog.querySelector("[data-md-component=search-query]");
  if (field) dialog.setAttribute("aria-label", field.getAttribute("aria-label"));
}

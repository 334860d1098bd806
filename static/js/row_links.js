// Whole table rows as links: a click anywhere on a row.row-link opens its data-href, unless the click
// was on a link, button or form field of its own (those keep their meaning), or text is being selected.
(function () {
  "use strict";
  if (window.bxRowLinks) return;
  window.bxRowLinks = true;
  document.addEventListener("click", function (event) {
    const row = event.target.closest ? event.target.closest("tr.row-link[data-href]") : null;
    if (!row || event.target.closest("a, button, input, select, textarea, label, summary")) return;
    if (window.getSelection && String(window.getSelection()).length > 0) return;
    if (event.ctrlKey || event.metaKey || event.button === 1) {
      window.open(row.dataset.href, "_blank", "noopener");
    } else {
      window.location.assign(row.dataset.href);
    }
  });
})();

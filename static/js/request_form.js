// The new-request form's Max buttons (no inline script: the CSP allows only this site's files).
// A "Max" in the "Available on the exchange" panel fills the asset and its available amount; the Max
// beside the amount field takes the panel's figure for the asset typed.
(function () {
  "use strict";

  function fill(asset, amount) {
    const assetInput = document.getElementById("id_asset");
    const amountInput = document.getElementById("id_amount");
    if (!amountInput) return;
    if (asset && assetInput && assetInput.value.trim().toUpperCase() !== asset) {
      assetInput.value = asset;
      assetInput.dispatchEvent(new Event("input", { bubbles: true }));
    }
    amountInput.value = amount;
    amountInput.dispatchEvent(new Event("input", { bubbles: true }));
    amountInput.focus();
  }

  document.addEventListener("click", function (event) {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const panelButton = target.closest("#available [data-max-amount]");
    if (panelButton) {
      fill(panelButton.getAttribute("data-max-asset"), panelButton.getAttribute("data-max-amount"));
      return;
    }
    if (target.closest("#max-amount")) {
      const assetInput = document.getElementById("id_asset");
      const asset = assetInput ? assetInput.value.trim().toUpperCase() : "";
      const note = document.getElementById("max-note");
      const rows = document.querySelectorAll("#available [data-max-asset]");
      const row = Array.prototype.find.call(rows, function (el) {
        return el.getAttribute("data-max-asset") === asset;
      });
      if (row) {
        fill(asset, row.getAttribute("data-max-amount"));
        if (note) note.textContent = "";
      } else if (note) {
        note.textContent = asset
          ? "BingX lists no " + asset + " that can be moved for this choice (see the panel)."
          : "Pick an asset first.";
      }
    }
  });
})();

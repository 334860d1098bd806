// Every page (base.html): the phone menu and scrolling tables. No framework; the CSP forbids inline code.
// - Menu: on a narrow screen the menu folds behind the "Menu" button (aria-expanded); without this script
//   the button stays hidden and the menu open. Escape closes it and gives focus back to the button.
// - Tables: each <table> is wrapped in a box that scrolls sideways by itself (never the page), focusable
//   and labelled after the table's caption or the nearest heading, so a keyboard can scroll it too.
//   Tables that htmx swaps in later are wrapped as well.
(function () {
  "use strict";
  if (window.bxSite) return;
  window.bxSite = true;

  function setUpMenu() {
    const bar = document.querySelector(".topbar");
    const button = document.getElementById("menu-toggle");
    if (!bar || !button) return;
    function set(open) {
      bar.classList.toggle("menu-closed", !open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.hidden = false;
    set(false);
    button.addEventListener("click", function () {
      set(button.getAttribute("aria-expanded") !== "true");
    });
    bar.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true" &&
          window.getComputedStyle(button).display !== "none") {
        set(false);
        button.focus();
      }
    });
  }

  function labelFor(table) {
    if (table.getAttribute("aria-label")) return table.getAttribute("aria-label");
    const caption = table.querySelector("caption");
    if (caption && caption.textContent.trim()) return caption.textContent.trim();
    // The nearest heading before the table, in its own block or an enclosing one.
    for (let node = table; node && node !== document.body; node = node.parentElement) {
      for (let prev = node.previousElementSibling; prev; prev = prev.previousElementSibling) {
        if (/^H[1-6]$/.test(prev.tagName)) return prev.textContent.trim();
      }
    }
    return "Table";
  }

  function wrapTables(root) {
    root.querySelectorAll("table").forEach(function (table) {
      const parent = table.parentElement;
      if (!parent || parent.classList.contains("table-scroll") || table.closest(".table-scroll")) return;
      const box = document.createElement("div");
      box.className = "table-scroll";
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", labelFor(table) + " (scrolls sideways)");
      parent.insertBefore(box, table);
      box.appendChild(table);
    });
  }

  // Preformatted blocks (a CSV example) scroll by themselves: focusable and named the same way.
  function focusablePre(root) {
    root.querySelectorAll("pre:not([tabindex])").forEach(function (pre) {
      pre.tabIndex = 0;
      pre.setAttribute("role", "region");
      pre.setAttribute("aria-label", labelFor(pre) + " (scrolls sideways)");
    });
  }

  function ready() {
    setUpMenu();
    wrapTables(document);
    focusablePre(document);
    document.body.addEventListener("htmx:afterSettle", function (event) {
      wrapTables(event.target instanceof Element ? event.target : document);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();

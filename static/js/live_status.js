// Live status of an open request page (docs/workflow.md "Live status"): polls the cheap state
// endpoint (GET /transfers/<id>/state/, a couple of queries) every 500 ms while the tab is visible.
// A new status is shown at once from that answer; the status area then re-renders itself (htmx,
// "bx-status-moved"), and when the request has ended the page reloads to show what was executed.
(function () {
  "use strict";
  if (window.bxLiveStatus) return;
  const poll = document.getElementById("status-poll");
  if (!poll) return;
  window.bxLiveStatus = true;
  const url = poll.dataset.stateUrl;
  const every = parseInt(poll.dataset.every || "500", 10);
  let shown = poll.dataset.shown || "";
  let timer = null;
  let stopped = false;

  function showStatus(state) {
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.textContent = state.label;
      el.dataset.status = state.status;
      el.className = "badge " + state.status;
    });
    const heading = document.getElementById("summary-heading");
    if (heading && state.heading) heading.textContent = state.heading;
    // A polite live region outside the swapped status area: screen readers announce the change.
    const announce = document.getElementById("status-announce");
    if (announce) announce.textContent = "Status changed: " + state.label;
  }

  async function tick() {
    timer = null;
    if (stopped) return;
    try {
      const response = await fetch(url, { cache: "no-store", credentials: "same-origin",
                                           headers: { Accept: "application/json" } });
      if (response.ok) {
        const state = await response.json();
        const token = state.status + ":" + state.decisions;
        if (token !== shown) {
          const moved = state.status !== shown.split(":")[0];
          shown = token;
          if (moved) showStatus(state);
          if (state.final) { stopped = true; window.location.reload(); return; }
          document.body.dispatchEvent(new CustomEvent("bx-status-moved"));
        }
      }
    } catch (e) { /* offline for a moment: the next tick tries again */ }
    schedule();
  }

  function schedule() {
    if (!stopped && !document.hidden && timer === null) timer = window.setTimeout(tick, every);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { window.clearTimeout(timer); timer = null; } else if (timer === null) { tick(); }
  });
  schedule();
})();

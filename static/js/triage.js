// Triage pages: selection count, bulk bar, and error messages from htmx requests.
// No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  function updateSelection() {
    var label = document.querySelector("[data-testid=selected-count]");
    if (!label) return;
    var all = document.querySelector("input[name=select_all]");
    var ticked = document.querySelectorAll(
      "#results input[name=ids]:checked, #results input[name=secret_ids]:checked").length;
    var bar = document.getElementById("bulk-form");
    if (all && all.checked) {
      label.textContent = "All matching rows selected";
    } else {
      label.textContent = ticked ? ticked + " selected" : "No rows selected";
    }
    if (bar) bar.classList.toggle("has-selection", Boolean(ticked || (all && all.checked)));
  }

  document.addEventListener("change", function (e) {
    if (e.target.closest && e.target.closest("#results")) {
      // app.js ticks the rows for a header checkbox in its own change handler; count afterwards.
      setTimeout(updateSelection, 0);
    }
  });

  // The bulk bar is driven by its buttons (htmx); Enter in its comment field must not reload.
  document.addEventListener("submit", function (e) {
    if (e.target.id === "bulk-form") e.preventDefault();
  });

  // Show 4xx/5xx messages the server sends as fragments (it retargets them to #flash).
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status >= 400 && status < 600) {
      var target = e.detail.xhr.getResponseHeader("HX-Retarget");
      if (target && document.querySelector(target)) {
        e.detail.shouldSwap = true;
        e.detail.isError = false;
      }
    }
  });

  // Keep shareable URLs short: a filter form's empty fields don't go into the query string.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.verb !== "get") return;
    var params = e.detail.parameters;
    var keys = typeof params.keys === "function" ? Array.from(params.keys()) : Object.keys(params);
    keys.forEach(function (key) {
      var values = typeof params.getAll === "function" ? params.getAll(key) : [params[key]];
      if (values.every(function (v) { return v === ""; })) {
        if (typeof params.delete === "function") params.delete(key); else delete params[key];
      }
    });
  });

  document.addEventListener("htmx:afterSwap", updateSelection);
  document.addEventListener("DOMContentLoaded", updateSelection);
})();

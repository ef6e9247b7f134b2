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
    var selected = Boolean(ticked || (all && all.checked));
    if (bar) {
      bar.classList.toggle("has-selection", selected);
      // Nothing selected, nothing to act on: a double click's second click, landing after the
      // first action's results (rows unticked), must not send an empty request whose error
      // would replace the first one's message.
      bar.querySelectorAll("button.bulk").forEach(function (button) {
        button.disabled = !selected;
      });
    }
  }

  // After an action that used them, the reason and comment are cleared: the next selection
  // must not be dismissed with the last one's words by mistake.
  var USES_COMMENT = ["status", "dismiss", "propose", "reject"];
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail.elt;
    var bar = document.getElementById("bulk-form");
    if (!bar || !elt || !bar.contains(elt)) return;
    if (e.detail.successful && USES_COMMENT.indexOf(elt.dataset.action) >= 0) {
      bar.querySelectorAll("[name=reason], [name=comment]").forEach(function (field) {
        if (field.tagName === "SELECT") field.selectedIndex = 0; else field.value = "";
      });
    }
    // htmx re-enabled the buttons it disabled during the request (hx-disabled-elt).
    updateSelection();
  });

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

  // Back and Forward between filters restore htmx's copy of the page, whose filter form shows
  // what its HTML said (the first filter), not what was chosen since: Apply would then drop the
  // filter the results show. The form is set from the address instead, which is the state.
  function formFromAddress() {
    var form = document.querySelector("form[data-testid=filters]");
    if (!form) return;
    var params = new URLSearchParams(window.location.search);
    form.querySelectorAll("input[name], select[name], textarea[name]").forEach(function (field) {
      var values = params.getAll(field.name);
      if (field.tagName === "SELECT" && field.multiple) {
        Array.prototype.forEach.call(field.options, function (option) {
          option.selected = values.indexOf(option.value) >= 0;
        });
      } else if (field.tagName === "SELECT") {
        // Absent from the address: the first option ("Any", or the default sort).
        field.selectedIndex = 0;
        Array.prototype.forEach.call(field.options, function (option, i) {
          if (values.length && option.value === values[0]) field.selectedIndex = i;
        });
      } else if (field.type === "checkbox" || field.type === "radio") {
        field.checked = values.indexOf(field.value) >= 0;
      } else if (field.type !== "hidden" && field.type !== "submit") {
        field.value = values.length ? values[0] : "";
      }
    });
  }

  // Next / Previous page swap the results in place, which left the view where the pager was
  // (the bottom of the new page) and the focus on <body> (the clicked link is gone). The new page
  // starts at its top, below the sticky header and bulk bar, and the focus moves to its count, so
  // that a screen reader says where we are and the next Tab goes on into the list.
  function showNewPage(e) {
    var cfg = e.detail.requestConfig;
    var elt = cfg && cfg.elt;
    if (!elt || !elt.closest || !elt.closest(".pager")) return;
    var results = document.getElementById("results");
    var head = document.getElementById("result-count");
    if (!results || !head || !results.contains(head)) return;
    var covered = 0;
    document.querySelectorAll(".topbar, .bulk-bar").forEach(function (bar) {
      if (window.getComputedStyle(bar).position === "sticky") {
        covered = Math.max(covered, bar.getBoundingClientRect().bottom);
      }
    });
    var top = results.getBoundingClientRect().top;
    if (top < covered || top > window.innerHeight / 2) window.scrollBy(0, top - covered - 8);
    head.focus({ preventScroll: true });
  }

  // A bulk action disables its buttons while it runs, which took the focus off the clicked one
  // (to <body>: the next Tab started again at the top of the page). Once the results are back,
  // the focus goes to what the action did (the message, which a screen reader then reads), or
  // to the count when there is none.
  function showBulkResult(e) {
    var cfg = e.detail.requestConfig;
    var elt = cfg && cfg.elt;
    if (!elt || !elt.closest || !elt.closest("#bulk-form")) return;
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var said = document.querySelector("#results [data-testid='flash']");
    var target = said || document.getElementById("result-count");
    if (!target) return;
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }

  document.addEventListener("htmx:afterSettle", showNewPage);
  document.addEventListener("htmx:afterSettle", showBulkResult);
  document.addEventListener("htmx:historyRestore", formFromAddress);
  window.addEventListener("pageshow", formFromAddress);
  document.addEventListener("htmx:historyRestore", updateSelection);
  window.addEventListener("pageshow", updateSelection);
  document.addEventListener("htmx:afterSwap", updateSelection);
  document.addEventListener("DOMContentLoaded", updateSelection);
})();

// Leakline page behaviour. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  // A form marked data-swap-errors shows the message a 400 answer carries (bad filters)
  // where its result would go; htmx otherwise drops error responses and the page goes stale.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    if (e.detail.xhr.status === 400 && elt && elt.closest && elt.closest("[data-swap-errors]")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  function pad(n) { return String(n).padStart(2, "0"); }

  // "3d 04:05:06" until (or "overdue 00:12:03" past) a deadline.
  function formatRemaining(ms) {
    var overdue = ms < 0;
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400); s -= d * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    var text = (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
    return overdue ? "overdue " + text : text + " left";
  }

  // Live countdowns: <span class="timer" data-due="ISO" data-due-soon="ISO" data-frozen="ISO?">
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".timer[data-due]").forEach(function (el) {
      var frozen = el.dataset.frozen ? Date.parse(el.dataset.frozen) : null;
      var at = frozen || now;
      var due = Date.parse(el.dataset.due);
      var soon = el.dataset.dueSoon ? Date.parse(el.dataset.dueSoon) : due;
      el.textContent = formatRemaining(due - at) + (frozen ? " (paused)" : "");
      var state = at >= due ? "overdue" : at >= soon ? "due_soon" : "on_track";
      el.classList.remove("state-on_track", "state-due_soon", "state-overdue");
      el.classList.add("state-" + state);
      el.dataset.state = state;
    });
  }

  // Charts: <div class="chart" data-figure="id-of-json-script">
  function drawCharts(root) {
    if (!window.Plotly) return;
    (root || document).querySelectorAll(".chart[data-figure]").forEach(function (el) {
      var src = document.getElementById(el.dataset.figure);
      if (!src) return;
      var fig = JSON.parse(src.textContent);
      window.Plotly.react(el, fig.data, fig.layout || {}, { displaylogo: false, responsive: true });
      el.dataset.drawn = String(Date.now());
    });
  }

  // Metrics charts below the fold: <section data-lazy-section hx-trigger="lazy-load once">, each
  // fetched by its own request. Those in or near the view load at once; the others as soon as the
  // page has loaded, because End or a fast scroll passes over a chart without it ever being in
  // view (htmx's "revealed" then never fired and the chart stayed an empty, busy box).
  function loadLazySections(root) {
    if (!window.htmx) return;
    var sections = Array.prototype.slice.call(
      (root || document).querySelectorAll("[data-lazy-section]"));
    if (root && root.matches && root.matches("[data-lazy-section]")) sections.push(root);
    if (!sections.length) return;
    function load(el) {
      if (el.leaklineRequested || !document.body.contains(el)) return;
      el.leaklineRequested = true;  // a property, not an attribute: not kept in htmx's history
      window.htmx.trigger(el, "lazy-load");
    }
    if ("IntersectionObserver" in window) {
      var seen = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.isIntersecting) { seen.unobserve(entry.target); load(entry.target); }
        });
      }, { rootMargin: "100% 0px" });
      sections.forEach(function (el) { seen.observe(el); });
    }
    function loadRest() { setTimeout(function () { sections.forEach(load); }, 300); }
    if (document.readyState === "complete") loadRest();
    else window.addEventListener("load", loadRest, { once: true });
  }

  // Metrics filters: <form data-apply-filters hx-trigger="filters-changed, submit">. A select, or
  // a date picked from the calendar, applies at once. A date typed digit by digit is a complete
  // date at nearly every key (typing 2026 gives 0002-, 0020-, 0202-, 2026-10-15) and Chromium
  // fires change for each: each was a redraw of the page, its lazy charts and a history entry.
  // A typed date applies when the reader leaves the field, or presses Enter (the form's submit).
  function isFilterDate(el) {
    return el.matches && el.matches("form[data-apply-filters] input[type=date]");
  }
  function applyFilters(form) {
    if (window.htmx) window.htmx.trigger(form, "filters-changed");
  }
  document.addEventListener("keydown", function (e) {
    if (isFilterDate(e.target) && e.key !== "Enter" && e.key !== "Tab") {
      e.target.leaklineTyped = true;  // a property: never sent, never kept in history
    }
  });
  document.addEventListener("change", function (e) {
    var form = e.target.closest && e.target.closest("form[data-apply-filters]");
    if (!form || (isFilterDate(e.target) && e.target.leaklineTyped)) return;
    applyFilters(form);
  });
  document.addEventListener("focusout", function (e) {
    var el = e.target;
    if (!isFilterDate(el) || !el.leaklineTyped) return;
    el.leaklineTyped = false;
    var applied = el.leaklineApplied === undefined ? el.defaultValue : el.leaklineApplied;
    // A half-typed date (badInput) waits; Apply, when clicked, sends the form itself.
    var submits = e.relatedTarget && e.relatedTarget.form === el.form &&
      e.relatedTarget.type === "submit";
    if (el.value === applied || el.validity.badInput || submits) return;
    applyFilters(el.form);
  });
  // What each request sent: leaving a field after Enter doesn't send it again.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt;
    if (!form.matches || !form.matches("form[data-apply-filters]")) return;
    form.querySelectorAll("input[type=date]").forEach(function (el) {
      el.leaklineApplied = el.value;
      el.leaklineTyped = false;
    });
  });

  // Select-all checkboxes: <input type="checkbox" data-select-all="name">
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches && t.matches("input[data-select-all]")) {
      document.querySelectorAll('input[type=checkbox][name="' + t.dataset.selectAll + '"]')
        .forEach(function (box) { box.checked = t.checked; });
    }
  });

  // Forms with data-confirm ask first.
  document.addEventListener("submit", function (e) {
    var msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    drawCharts();
  });
  document.addEventListener("htmx:afterSwap", function (e) { tick(); drawCharts(e.target); });
  // htmx:load: new content (the page, a redraw, a restored page) once htmx listens on it.
  document.addEventListener("htmx:load", function (e) { loadLazySections(e.detail.elt); });
  window.Leakline = { tick: tick, drawCharts: drawCharts, formatRemaining: formatRemaining };
})();

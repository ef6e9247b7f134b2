// Incident page behaviour. The countdowns themselves tick in app.js (every .timer[data-due]).
(function () {
  "use strict";

  // The form whose action was refused: what the user typed in it, put back after the swap.
  var kept = null;

  function fieldsOf(form) {
    var fields = [];
    form.querySelectorAll("input, textarea, select").forEach(function (f) {
      if (!f.name || f.type === "hidden" || f.type === "submit" || f.type === "file") return;
      fields.push({ name: f.name, checkbox: f.type === "checkbox", value: f.type === "checkbox" ? f.checked : f.value });
    });
    return fields;
  }

  // Actions answer a 4xx with the incident re-rendered around the error message: show it
  // instead of dropping it (htmx doesn't swap error responses by default), and keep what the
  // user typed in the form that was refused (the incident comes back as stored).
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status === 400 || status === 409) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
      var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
      var form = elt && elt.closest ? elt.closest("form[hx-post]") : null;
      kept = form ? { action: form.getAttribute("hx-post"), fields: fieldsOf(form) } : null;
    }
  });

  // The step an action was on: after the incident is drawn again, focus goes back to it (else
  // it falls to the page, and a keyboard user starts again from the top).
  var onStep = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    var step = elt && elt.closest ? elt.closest("li[data-step]") : null;
    onStep = step ? step.dataset.step : null;
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (kept || !onStep) return;
    var step = document.querySelector('li[data-step="' + CSS.escape(onStep) + '"]');
    onStep = null;
    if (step && !step.contains(document.activeElement)) {
      step.setAttribute("tabindex", "-1");
      step.focus({ preventScroll: true });
    }
  });

  // Then the message goes into that form, where the user is looking, which gets the focus.
  document.addEventListener("htmx:afterSwap", function () {
    if (!kept) return;
    var form = document.querySelector('form[hx-post="' + CSS.escape(kept.action) + '"]');
    if (!form) {
      // The form is gone (someone else did the step meanwhile): the message, in view.
      var alone = document.querySelector(".inc-error");
      if (alone) {
        alone.setAttribute("tabindex", "-1");
        alone.scrollIntoView({ block: "center" });
        alone.focus();
      }
    } else {
      kept.fields.forEach(function (f) {
        var field = form.querySelector('[name="' + CSS.escape(f.name) + '"]');
        if (!field) return;
        if (f.checkbox) field.checked = f.value; else field.value = f.value;
      });
      var error = document.querySelector(".inc-error");
      var message = error && (error.closest("p") || error);
      if (message) form.insertBefore(message, form.firstChild);
      (message || form).scrollIntoView({ block: "center" });
      var first = form.querySelector("textarea, input:not([type=hidden]), select");
      if (first) first.focus();
    }
    kept = null;
  });

  // The reference form: picking a secret sets the kind to what it most likely is (an AWS
  // key's access key id...), unless the lead already chose a kind.
  document.addEventListener("change", function (e) {
    var field = e.target;
    var form = field.closest ? field.closest("form.ref-form") : null;
    if (!form) return;
    var kind = form.querySelector('select[name="kind"]');
    if (field === kind) {
      kind.dataset.chosen = "1";
    } else if (field.name === "secret" && kind && !kind.dataset.chosen) {
      var option = field.options[field.selectedIndex];
      if (option && option.dataset.kind) kind.value = option.dataset.kind;
    }
  });
})();

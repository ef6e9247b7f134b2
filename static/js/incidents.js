// Incident page behaviour. The countdowns themselves tick in app.js (every .timer[data-due]).
(function () {
  "use strict";
  // Actions answer a 4xx with the incident re-rendered around the error message: show it
  // instead of dropping it (htmx doesn't swap error responses by default).
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if (status === 400 || status === 409) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
})();

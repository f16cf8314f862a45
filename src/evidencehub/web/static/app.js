/* Small behaviours of the dashboard: copy buttons, focus after htmx swaps. No inline script (CSP). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied") || "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
    }
  });
  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  // After a form swaps a section in place, keep keyboard users where they were: focus its notice or
  // error. Only for forms: a polled refresh must never move the focus.
  var submitted = false;
  document.addEventListener("htmx:beforeRequest", function (event) {
    submitted = !!(event.detail && event.detail.elt && event.detail.elt.tagName === "FORM");
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!submitted) return;
    submitted = false;
    var section = document.getElementById("triage") || document;
    var message = section.querySelector("[role=alert], [role=status]");
    if (message) {
      message.setAttribute("tabindex", "-1");
      message.focus();
    }
  });
})();

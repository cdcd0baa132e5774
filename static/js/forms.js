// Data-entry helpers on every page (issue 17); no inline script (Content-Security-Policy).
// 1. After a failed save, the focus goes to the first field in error (listed in the error
//    summary at the top), and each summary link focuses its field.
// 2. Enter in a text field submits the form's primary button, never "Save draft": browsers
//    use the first submit button in the DOM, so forms mark theirs with data-default-submit.
(function () {
  "use strict";
  function focusField(id) {
    var el = document.getElementById(id);
    if (!el) { return false; }
    if (el.tagName === "DIV") {  // radio or checkbox group: its first input
      el = el.querySelector("input, select, textarea") || el;
    }
    el.scrollIntoView({ block: "center" });
    el.focus();
    return true;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector(".error-summary");
    if (summary) {
      var first = summary.querySelector("a[data-error-field]");
      if (!first || !focusField(first.getAttribute("data-error-field"))) {
        summary.setAttribute("tabindex", "-1");
        summary.focus();
      }
      summary.addEventListener("click", function (event) {
        var link = event.target.closest("a[data-error-field]");
        if (link && focusField(link.getAttribute("data-error-field"))) {
          event.preventDefault();
        }
      });
    }
    document.querySelectorAll("form").forEach(function (form) {
      var primary = form.querySelector("[data-default-submit]");
      if (!primary) { return; }
      form.addEventListener("keydown", function (event) {
        var t = event.target;
        if (event.key !== "Enter" || event.isComposing || t.tagName === "TEXTAREA" ||
            t.tagName === "BUTTON" || t.type === "submit") { return; }
        event.preventDefault();
        primary.click();
      });
    });
  });
})();

// Laboratory CRF: the primary scores the typed values give, shown while typing (issue 17).
// A server endpoint computes them with the same engine as the save; nothing is saved here.
(function () {
  "use strict";
  var form = document.querySelector("form[data-labs-preview-url]");
  var out = document.getElementById("live-scores");
  if (!form || !out) { return; }
  var url = form.getAttribute("data-labs-preview-url");
  var timer = null;

  function show(value) {
    if (value === null || value === undefined || value === "") { return "—"; }
    if (value === "no_aclf") { return form.dataset.textNoAclf; }
    return String(value);
  }

  function render(data) {
    if (!data.scores) { return; }
    var parts = data.scores.map(function (s) { return s.label + " " + show(s.value); });
    out.querySelector("[data-scores]").textContent = parts.join(" · ");
    out.querySelector("[data-missing]").textContent =
      data.missing ? form.dataset.textMissing + ": " + data.missing : "";
  }

  function refresh() {
    fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin",
                 headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { render(data); } })
      .catch(function () { /* offline: the save still computes and checks everything */ });
  }

  function later(ms) { clearTimeout(timer); timer = setTimeout(refresh, ms); }
  form.addEventListener("input", function () { later(400); });
  form.addEventListener("change", function () { later(150); });
  refresh();
})();

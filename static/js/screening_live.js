// Screening page: show the computed ACLF grade, its organ basis and open criteria while the
// investigator types (a server endpoint computes them; nothing is saved). No external script.
(function () {
  "use strict";
  var form = document.getElementById("screening-form");
  if (!form) { return; }
  var url = form.dataset.previewUrl;
  var grade = document.getElementById("live-grade");
  var basis = document.getElementById("live-basis");
  var confirmBox = form.querySelector("[name=aclf_grade_confirmed]");
  var confirmedAs = form.querySelector("[name=aclf_grade_confirmed_as]");
  var shown = confirmedAs ? confirmedAs.value : "";
  var timer = null;

  var text = form.dataset;  // the words, in the user's language, from the page

  function label(value) {
    if (!value) { return text.textNone; }
    return value === "no_aclf" ? text.textNoAclf : text.textGrade + " " + value;
  }

  function render(data) {
    if (data.aclf_grade !== shown && confirmBox && confirmBox.checked) {
      confirmBox.checked = false;  // the grade moved: the earlier confirmation no longer holds
    }
    shown = data.aclf_grade || "";
    if (confirmedAs) { confirmedAs.value = shown; }
    grade.textContent = label(data.aclf_grade);
    var organs = (data.organ_failures || []).join(", ");
    basis.textContent = organs ? " (" + text.textOrgans + ": " + organs + ")" :
      (data.missing && data.missing.length ? " (" + text.textMissing + ": " + data.missing.join(", ") + ")" : "");
  }

  function refresh() {
    var body = new FormData(form);
    fetch(url, { method: "POST", body: body, credentials: "same-origin",
                 headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { render(data); } })
      .catch(function () { /* offline or invalid input: the save still checks everything */ });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
  form.addEventListener("change", function (event) {
    if (event.target === confirmBox) { return; }
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  });
})();

// Screening: "No to every unanswered yes/no exclusion" (issue 17). Only questions still
// unanswered are set, a "Yes" is never overwritten, each answer stays visible and can be
// changed before saving; the server validates the form as if every radio had been clicked.
(function () {
  "use strict";
  var button = document.getElementById("exclusions-all-no");
  if (!button) { return; }
  var section = document.getElementById("exclusion-criteria");
  button.hidden = false;  // without JavaScript the button would do nothing: it stays hidden
  button.addEventListener("click", function () {
    var names = {};
    section.querySelectorAll("input[type=radio][value=False]").forEach(function (radio) {
      names[radio.name] = radio;
    });
    Object.keys(names).forEach(function (name) {
      var group = section.querySelectorAll("input[type=radio][name='" + name + "']");
      var answered = Array.prototype.some.call(group, function (r) { return r.checked; });
      var radio = names[name];
      if (answered || radio.disabled) { return; }
      radio.checked = true;
      // Skip logic and the live eligibility preview listen to "change".
      radio.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });
})();

// eCRF and screening skip logic: an item (or input) with data-shown-if="<item>" and
// data-shown-values='["…"]' (from the data dictionary) is shown only while that item has one
// of the values. A hidden item's inputs are disabled, so nothing hidden is sent; the server
// checks the same rule on every save.
(function () {
  "use strict";
  var form = document.getElementById("crf-form") || document.getElementById("screening-form");
  if (!form) { return; }
  var items = form.querySelectorAll("[data-shown-if]");

  function box(item) {  // an input carrying the attributes hides with its label and help
    return item.matches("input, select, textarea") ? (item.closest(".mb-2") || item) : item;
  }

  function inputs(item) {
    return item.matches("input, select, textarea") ? [item] :
      Array.prototype.slice.call(item.querySelectorAll("input, select, textarea"));
  }

  function currentValues(name) {
    var values = [];
    form.querySelectorAll("[name='" + name + "']").forEach(function (input) {
      if (input.disabled && !input.hasAttribute("data-read-only")) { return; }
      if (input.type === "radio") {
        if (input.checked) { values.push(input.value); }
      } else if (input.type === "checkbox") {
        // A lone checkbox is a yes/no; a checkbox list gives the values ticked.
        if (input.value === "on" || input.value === "") {
          values.push(input.checked ? "True" : "False");
        } else if (input.checked) { values.push(input.value); }
      } else { values.push(input.value); }
    });
    return values;
  }

  function update() {
    items.forEach(function (item) {
      var wanted = JSON.parse(item.dataset.shownValues || "[]");
      var shown = currentValues(item.dataset.shownIf).some(function (v) {
        return wanted.indexOf(v) !== -1;
      });
      box(item).hidden = !shown;
      inputs(item).forEach(function (input) {
        if (!input.hasAttribute("data-read-only")) { input.disabled = !shown; }
      });
    });
  }

  form.querySelectorAll("input:disabled, select:disabled, textarea:disabled").forEach(
    function (input) { input.setAttribute("data-read-only", ""); });
  form.addEventListener("change", update);
  update();
}());

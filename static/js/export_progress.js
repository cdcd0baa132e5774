// Export page: state and percentage of the running exports, refreshed in place (issue 17).
// Polls the page's JSON status URL every 2 s while a job is waiting or running; the page
// itself never reloads, so a form being filled is kept. No library, no CDN.
(function () {
  "use strict";
  var table = document.getElementById("export-jobs");
  if (!table) { return; }
  var url = table.getAttribute("data-status-url");
  var OPEN = ["pending", "running"];

  function openRows() {
    return table.querySelectorAll("tr[data-job][data-state='pending'], tr[data-job][data-state='running']");
  }

  function update(row, job) {
    row.setAttribute("data-state", job.status);
    var cell = row.querySelector("[data-progress-cell]");
    var state = row.querySelector("[data-state-cell]");
    if (job.status === "failed") {
      var failed = document.createElement("span");
      failed.className = "text-danger";
      failed.textContent = table.dataset.textFailed + ": " + job.error;
      cell.replaceChildren(failed);
    } else {
      var bar = cell.querySelector("progress");
      var pct = cell.querySelector("[data-percent]");
      if (bar) { bar.value = job.progress; bar.textContent = job.progress + "%"; }
      if (pct) { pct.textContent = job.progress + "%"; }
    }
    if (job.status === "done" && job.download_url) {
      var link = document.createElement("a");
      link.href = job.download_url;
      link.textContent = job.filename;
      state.replaceChildren(link);
    } else {
      state.textContent = job.status_label;
    }
  }

  function poll() {
    if (openRows().length === 0) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data) {
          data.jobs.forEach(function (job) {
            var row = table.querySelector("tr[data-job='" + job.id + "']");
            if (row && OPEN.indexOf(row.getAttribute("data-state")) !== -1) { update(row, job); }
          });
        }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });  // offline for a moment: try again
  }

  setTimeout(poll, 1000);
})();

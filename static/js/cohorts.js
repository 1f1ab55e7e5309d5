// The trainer's workspace: confirmations, "mark everyone present", and import progress.
(function () {
  "use strict";

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  // Shown only here: without JavaScript the button could do nothing (the boxes are ticked one by one,
  // or the paper-sheet page's "Everyone present" link is used).
  document.querySelectorAll("[data-check-all]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var name = button.getAttribute("data-check-all");
      button.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
        box.checked = true;
      });
    });
  });

  var progress = document.querySelector(".import-progress[data-status-url]");
  if (progress) {
    var bar = progress.querySelector("progress");
    var poll = function () {
      fetch(progress.getAttribute("data-status-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (job) {
          if (!job) { return; }
          if (job.status !== "queued" && job.status !== "running") {
            window.location.reload();
            return;
          }
          bar.max = job.total_rows || 1;
          bar.value = job.processed_rows;
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 1000);
  }
})();

// Certificates being prepared: ask the server every few seconds, and show the certificate (or reload
// the page, where it says data-reload) once the worker has issued it. Gives up after five minutes;
// the "Refresh" link in the paragraph still works, as it does without JavaScript.
(function () {
  "use strict";
  var INTERVAL = 3000, LIMIT = 100;

  function link(href, text, download) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (download) { a.setAttribute("download", ""); }
    return a;
  }

  function showReady(box, body) {
    if (box.getAttribute("data-reload") === "true") { window.location.reload(); return; }
    box.textContent = box.getAttribute("data-ready-text") + " ";
    box.appendChild(link(body.certificates_url, box.getAttribute("data-see-text"), false));
    box.appendChild(document.createTextNode(" · "));
    box.appendChild(link(body.pdf_url, box.getAttribute("data-pdf-text"), true));
    box.classList.remove("preparing");
    box.classList.add("ready");
    box.setAttribute("data-status", "ready");
  }

  document.querySelectorAll("[data-certificate-status]").forEach(function (box) {
    var tries = 0;
    var poll = function () {
      tries += 1;
      fetch(box.getAttribute("data-certificate-status"), {
        credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store"
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && body.status === "ready") { showReady(box, body); }
          else if (tries < LIMIT) { window.setTimeout(poll, INTERVAL); }
        })
        .catch(function () { if (tries < LIMIT) { window.setTimeout(poll, INTERVAL); } });
    };
    window.setTimeout(poll, INTERVAL);
  });
})();

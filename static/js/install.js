/* Registers the service worker (static/js/sw.js), and forgets every kept page when the learner
   signs out, so that the next person on a shared phone sees none of them (docs/OFFLINE.md). */
"use strict";

(function () {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[action$='/account/logout']") || !window.caches) return;
    event.preventDefault();
    caches.keys()
      .then(function (keys) { return Promise.all(keys.map(function (key) { return caches.delete(key); })); })
      .catch(function () {})
      .then(function () { form.submit(); });
  });
})();

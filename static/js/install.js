/* Registers the service worker (static/js/sw.js), and forgets every kept page when the learner
   signs out, so that the next person on a shared phone sees none of them (docs/OFFLINE.md). */
"use strict";

(function () {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});

  /* The page shown offline for a page not kept (sw.js keeps it in "files-v1" when it installs) is kept
     again, when online, if it is missing (signing out empties the caches) or in another language than
     this page: a Spanish learner offline reads "No tiene conexión", not the language of the day the
     worker was installed. */
  var lang = document.documentElement.lang;
  if (window.caches && navigator.onLine !== false) {
    navigator.serviceWorker.ready.then(function () {
      return caches.open("files-v1").then(function (cache) {
        return cache.match("/offline").then(function (kept) {
          return kept ? kept.text() : "";
        }).then(function (html) {
          if (html.indexOf('<html lang="' + lang + '"') === -1) return cache.add("/offline");
        });
      });
    }).catch(function () {});
  }

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

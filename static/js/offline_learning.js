/* Learning offline (docs/OFFLINE.md).

   On a course page: "Make available offline" fetches the course's package
   (GET /api/v1/courses/<slug>/package) and keeps it, its lesson and quiz pages and its images
   in Cache Storage (the cache the service worker answers from), showing progress and size.
   On a lesson page, without a connection: "Mark as done" keeps the completion in IndexedDB as
   an event with its own id, and goes on to the next kept page; on the quiz page the answers are
   kept the same way, to be scored by the server. Back online (or on the next visit, or by the
   service worker's Background Sync), the kept events are sent to POST /api/v1/sync; the server
   applies each once. The queue itself is static/js/offline_queue.js, shared with the trainer's
   registers. */
"use strict";

(function () {
  var PAGES = "pages-v1";
  var DB = "learning-offline";
  var STORE = "events";

  var queue = window.OfflineQueue;  // static/js/offline_queue.js, loaded before this script

  function learner() {
    return queue.person();
  }

  function keepLessonOffline(form) {
    form.addEventListener("submit", function (event) {
      if (navigator.onLine || !queue.available()) return;
      event.preventDefault();
      var record = {
        id: crypto.randomUUID(), type: "lesson.completed", learner: learner(),
        enrolment_id: Number(form.dataset.enrolmentId), lesson_id: Number(form.dataset.lessonId),
        label: form.dataset.label || "", occurred_at: new Date().toISOString()
      };
      queue.put(record).then(function () {
        var note = document.createElement("p");
        note.className = "badge ok";
        note.id = "queued";
        note.textContent = form.dataset.queued;
        form.insertAdjacentElement("afterend", note);
        window.location.assign(form.dataset.nextUrl);
      });
    });
  }

  function keepQuizOffline(form) {
    form.addEventListener("submit", function (event) {
      if (navigator.onLine || !queue.available()) return;
      event.preventDefault();
      var answers = {};
      form.querySelectorAll("input[type=radio]:checked").forEach(function (input) {
        var question = /^q(\d+)$/.exec(input.name);
        if (question) answers[question[1]] = Number(input.value);
      });
      var record = {
        id: crypto.randomUUID(), type: "quiz.attempted", learner: learner(),
        enrolment_id: Number(form.dataset.enrolmentId),
        answers: answers, label: form.dataset.label || "", occurred_at: new Date().toISOString()
      };
      queue.put(record).then(function () {
        var note = document.getElementById("queued") || document.createElement("p");
        note.className = "flash flash-info";
        note.id = "queued";
        note.setAttribute("role", "status");
        note.textContent = form.dataset.queued;
        form.insertAdjacentElement("beforebegin", note);
      });
    });
  }

  /* The size in the page's language ("1,5 MB", "1.5 ميغابايت", with the digits the server's pages
     use: Babel writes Arabic pages with Latin digits, so the browser is asked for them too). */
  function formatSize(bytes) {
    var big = bytes >= 1024 * 1024;
    var value = big ? bytes / 1024 / 1024 : Math.max(1, Math.round(bytes / 1024));
    try {
      return new Intl.NumberFormat((document.documentElement.lang || "en") + "-u-nu-latn", {
        style: "unit", unit: big ? "megabyte" : "kilobyte", unitDisplay: "short", maximumFractionDigits: 1
      }).format(value);
    } catch (e) {
      return big ? value.toFixed(1) + " MB" : value + " KB";
    }
  }

  function offerDownload(box) {
    if (!window.caches || !("serviceWorker" in navigator)) return;
    box.hidden = false;
    var button = box.querySelector("#make-offline");
    var status = box.querySelector("#offline-status");
    var bar = box.querySelector("#offline-progress");
    button.addEventListener("click", function () {
      button.disabled = true;
      box.dataset.state = "downloading";
      var size = 0;
      fetch(box.dataset.packageUrl, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("package");
          return response.clone().text().then(function (text) {
            size += text.length;
            return caches.open(PAGES).then(function (cache) {
              return cache.put(box.dataset.packageUrl, response).then(function () { return JSON.parse(text); });
            });
          });
        })
        .then(function (pack) {
          var urls = [pack.url].concat(pack.lessons.map(function (l) { return l.url; }));
          if (pack.quiz) urls.push(pack.quiz.url);
          urls = urls.concat(pack.assets);
          bar.hidden = false;
          bar.max = urls.length;
          return caches.open(PAGES).then(function (cache) {
            var done = 0;
            return urls.reduce(function (chain, url) {
              return chain.then(function () {
                return fetch(url, { credentials: "same-origin" }).then(function (response) {
                  if (!response.ok && response.type !== "opaque") throw new Error(url);
                  return response.clone().blob().then(function (blob) {
                    size += blob.size;
                    return cache.put(url, response);
                  });
                }).then(function () {
                  done += 1;
                  bar.value = done;
                  status.textContent = box.dataset.downloading.replace("{done}", done).replace("{total}", urls.length);
                });
              });
            }, Promise.resolve());
          });
        })
        .then(function () {
          status.textContent = box.dataset.done.replace("{size}", formatSize(size));
          box.dataset.state = "done";
        })
        .catch(function () {
          status.textContent = box.dataset.failed;
          box.dataset.state = "failed";
          button.disabled = false;
        });
    });
  }

  var box = document.getElementById("offline-download");
  if (box) offerDownload(box);
  var form = document.getElementById("lesson-done");
  if (form) keepLessonOffline(form);
  var quiz = document.getElementById("quiz-form");
  if (quiz && quiz.dataset.enrolmentId) keepQuizOffline(quiz);
  queue.startPage();
})();

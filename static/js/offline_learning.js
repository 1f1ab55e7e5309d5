/* Learning offline (docs/OFFLINE.md).

   On a course page: "Make available offline" fetches the course's package
   (GET /api/v1/courses/<slug>/package) and keeps it, its lesson and quiz pages and its images
   in Cache Storage (the cache the service worker answers from), showing progress and size.
   On a lesson page, without a connection: "Mark as done" keeps the completion in IndexedDB as
   an event with its own id, and goes on to the next kept page; on the quiz page the answers are
   kept the same way, to be scored by the server. Back online (or on the next
   visit), the kept events are sent to POST /api/v1/sync; the server applies each once. */
"use strict";

(function () {
  var PAGES = "pages-v1";
  var DB = "learning-offline";
  var STORE = "events";

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "id" }); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  function csrfToken() {
    // A page kept offline may hold an expired token: take a fresh one from the server.
    return fetch("/offline", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var found = /name="csrf-token" content="([^"]+)"/.exec(html);
        return found ? found[1] : "";
      });
  }

  function learner() {
    var meta = document.querySelector('meta[name="learner"]');
    return meta ? meta.content : "";
  }

  var syncing = false;
  function sendKeptEvents() {
    if (syncing || !navigator.onLine || !window.indexedDB) return Promise.resolve();
    syncing = true;
    var me = learner();
    if (!me) return Promise.resolve();
    return withStore("readonly", function (store) { return store.getAll(); })
      .then(function (kept) {
        // Only this person's events: someone else's wait on the device until they sign in again.
        var events = (kept || []).filter(function (e) { return e.learner === me; }).map(function (e) {
          return { id: e.id, type: e.type, enrolment_id: e.enrolment_id, lesson_id: e.lesson_id,
                   answers: e.answers, occurred_at: e.occurred_at };
        });
        if (!events.length) return null;
        return csrfToken().then(function (token) {
          return fetch("/api/v1/sync", {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": token },
            body: JSON.stringify({ events: events.slice(0, 500) })
          });
        }).then(function (response) {
          if (!response.ok) return null;
          return response.json().then(function (body) {
            var rejected = body.results.filter(function (r) { return r.status === "rejected"; });
            if (rejected.length) showRejected(rejected);
            // Applied, duplicate (applied before) and rejected (reported) events are all settled.
            return withStore("readwrite", function (store) {
              body.results.forEach(function (r) { if (r.id) store.delete(r.id); });
            });
          });
        });
      })
      .catch(function () {})
      .then(function () { syncing = false; });
  }

  function showRejected(rejected) {
    var box = document.createElement("div");
    box.className = "flash flash-error";
    box.id = "sync-rejected";
    box.setAttribute("role", "alert");
    rejected.forEach(function (r) {
      var line = document.createElement("p");
      line.textContent = r.error;
      box.appendChild(line);
    });
    var main = document.getElementById("content") || document.body;
    main.insertBefore(box, main.firstChild);
  }

  function keepLessonOffline(form) {
    form.addEventListener("submit", function (event) {
      if (navigator.onLine || !window.indexedDB || !window.crypto || !crypto.randomUUID) return;
      event.preventDefault();
      var record = {
        id: crypto.randomUUID(), type: "lesson.completed", learner: learner(),
        enrolment_id: Number(form.dataset.enrolmentId), lesson_id: Number(form.dataset.lessonId),
        occurred_at: new Date().toISOString()
      };
      withStore("readwrite", function (store) { store.put(record); }).then(function () {
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
      if (navigator.onLine || !window.indexedDB || !window.crypto || !crypto.randomUUID) return;
      event.preventDefault();
      var answers = {};
      form.querySelectorAll("input[type=radio]:checked").forEach(function (input) {
        var question = /^q(\d+)$/.exec(input.name);
        if (question) answers[question[1]] = Number(input.value);
      });
      var record = {
        id: crypto.randomUUID(), type: "quiz.attempted", learner: learner(),
        enrolment_id: Number(form.dataset.enrolmentId),
        answers: answers, occurred_at: new Date().toISOString()
      };
      withStore("readwrite", function (store) { store.put(record); }).then(function () {
        var note = document.getElementById("queued") || document.createElement("p");
        note.className = "flash flash-info";
        note.id = "queued";
        note.setAttribute("role", "status");
        note.textContent = form.dataset.queued;
        form.insertAdjacentElement("beforebegin", note);
      });
    });
  }

  function formatSize(bytes) {
    return bytes < 1024 * 1024 ? Math.max(1, Math.round(bytes / 1024)) + " KB"
      : (bytes / 1024 / 1024).toFixed(1) + " MB";
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
  window.addEventListener("online", sendKeptEvents);
  sendKeptEvents();
})();

/* The device's queue of events made offline (docs/OFFLINE.md), shared by the learner's pages
   (lesson completions, quiz attempts), the trainer's registers (attendance marks) and the
   service worker (Background Sync). It runs in a page and in the worker alike: no DOM here.

   Events wait in IndexedDB ("learning-offline", store "events") with their own UUID and the id
   of the person who made them. send() posts the signed-in person's events to POST /api/v1/sync
   with a fresh CSRF token; the server applies each id at most once, so sending twice (a page and
   the worker at the same moment, or a lost answer) is harmless. Applied and duplicate events
   leave the device; rejected ones move to the store "rejected", with the server's reason, until
   a page shows them to the person. */
"use strict";

(function (scope) {
  var DB = "learning-offline";
  var EVENTS = "events";
  var REJECTED = "rejected";
  var TAG = "learning-sync";
  var FIELDS = ["id", "type", "enrolment_id", "lesson_id", "answers", "session_id", "attendance", "occurred_at"];

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 2);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains(EVENTS)) db.createObjectStore(EVENTS, { keyPath: "id" });
        if (!db.objectStoreNames.contains(REJECTED)) db.createObjectStore(REJECTED, { keyPath: "id" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(name, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var result = work(tx.objectStore(name));
        tx.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function available() {
    return !!(scope.indexedDB && scope.crypto && scope.crypto.randomUUID);
  }

  /* Ask the service worker to send the queue when the connection returns, even with no page open
     (Background Sync, where the browser has it; elsewhere the next visit or the "online" event). */
  function requestSync() {
    if (!scope.document || !("serviceWorker" in navigator) || !("SyncManager" in scope)) return Promise.resolve();
    return navigator.serviceWorker.ready
      .then(function (registration) { return registration.sync.register(TAG); })
      .catch(function () {});
  }

  function put(records) {
    records = [].concat(records);
    return withStore(EVENTS, "readwrite", function (store) {
      records.forEach(function (record) { store.put(record); });
    }).then(requestSync);
  }

  function kept(person) {
    return withStore(EVENTS, "readonly", function (store) { return store.getAll(); }).then(function (all) {
      return (all || []).filter(function (e) { return !person || e.learner === person; });
    });
  }

  function session() {
    // A page kept offline may hold an expired token, and the worker has no page at all: ask the server
    // who is signed in and for a fresh token.
    return fetch("/offline", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var token = /name="csrf-token" content="([^"]+)"/.exec(html);
        var person = /name="learner" content="([^"]+)"/.exec(html);
        return { token: token ? token[1] : "", person: person ? person[1] : "" };
      });
  }

  var sending = null;

  /* Send the signed-in person's kept events (someone else's wait on the device until they sign in).
     Resolves with the server's answer, or null when there was nothing to send; rejects when the
     server could not be reached (the worker's sync is then retried by the browser). */
  function send() {
    if (sending) return sending;
    if (!scope.indexedDB || navigator.onLine === false) return Promise.resolve(null);
    sending = kept().then(function (all) {
      if (!all.length) return null;
      return session().then(function (who) {
        var mine = all.filter(function (e) { return who.person && e.learner === who.person; }).slice(0, 500);
        if (!mine.length) return null;
        var byId = {};
        var events = mine.map(function (e) {
          byId[e.id] = e;
          var event = {};
          FIELDS.forEach(function (name) { if (e[name] !== undefined) event[name] = e[name]; });
          return event;
        });
        return fetch("/api/v1/sync", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": who.token },
          body: JSON.stringify({ events: events })
        }).then(function (response) {
          if (!response.ok) throw new Error("sync answered " + response.status);
          return response.json();
        }).then(function (body) {
          return openDb().then(function (db) {
            return new Promise(function (resolve, reject) {
              var tx = db.transaction([EVENTS, REJECTED], "readwrite");
              body.results.forEach(function (r) {
                if (!r.id || !byId[r.id]) return;
                tx.objectStore(EVENTS).delete(r.id);
                if (r.status === "rejected") {
                  var e = byId[r.id];
                  tx.objectStore(REJECTED).put({ id: r.id, type: e.type, learner: e.learner, label: e.label || "",
                                                 error: r.error || "", occurred_at: e.occurred_at });
                }
              });
              tx.oncomplete = function () { db.close(); resolve(body); };
              tx.onerror = function () { db.close(); reject(tx.error); };
            });
          });
        });
      });
    });
    var done = function () { sending = null; };
    sending.then(done, done);
    return sending;
  }

  /* The rejected events of this person, removed from the device as they are handed over to be shown. */
  function takeRejected(person) {
    return withStore(REJECTED, "readwrite", function (store) { return store.getAll(); }).then(function (all) {
      var mine = (all || []).filter(function (r) { return r.learner === person; });
      if (!mine.length) return [];
      return withStore(REJECTED, "readwrite", function (store) {
        mine.forEach(function (r) { store.delete(r.id); });
      }).then(function () { return mine; });
    });
  }

  /* In a page: the person signed in, as the page says. */
  function person() {
    var meta = scope.document && scope.document.querySelector('meta[name="learner"]');
    return meta ? meta.content : "";
  }

  /* In a page: an alert listing the events the server refused, each with its reason. */
  function showRejected() {
    var me = person();
    if (!me || !scope.indexedDB) return Promise.resolve([]);
    return takeRejected(me).then(function (rejected) {
      if (!rejected.length) return rejected;
      var box = document.getElementById("sync-rejected");
      if (!box) {
        box = document.createElement("div");
        box.className = "flash flash-error";
        box.id = "sync-rejected";
        box.setAttribute("role", "alert");
        var meta = document.querySelector('meta[name="learner"]');
        if (meta && meta.dataset.rejected) {  // what the list is, in the page's language
          var lead = document.createElement("p");
          var strong = document.createElement("strong");
          strong.textContent = meta.dataset.rejected;
          lead.appendChild(strong);
          box.appendChild(lead);
        }
        var main = document.getElementById("content") || document.body;
        main.insertBefore(box, main.firstChild);
      }
      rejected.forEach(function (r) {
        var line = document.createElement("p");
        line.setAttribute("dir", "auto");
        if (r.label) {
          var what = document.createElement("bdi");  // a course or person's name in another script stays whole
          what.textContent = r.label;
          line.appendChild(what);
          line.appendChild(document.createTextNode(": "));
        }
        line.appendChild(document.createTextNode(r.error));
        box.appendChild(line);
      });
      return rejected;
    }).catch(function () { return []; });
  }

  /* In a page: send the queue now, when the connection returns, and show what the worker or this
     page had refused. ``onSent(body)`` is called with each answer of the server. */
  function startPage(onSent) {
    var flush = function () {
      return send().then(function (body) {
        if (body && onSent) onSent(body);
      }).catch(function () {}).then(showRejected);
    };
    scope.addEventListener("online", flush);
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.addEventListener("message", function (event) {
        if (event.data && event.data.type === "synced") {
          if (onSent) onSent(event.data.body);
          showRejected();
        }
      });
    }
    return flush();
  }

  scope.OfflineQueue = { TAG: TAG, available: available, put: put, kept: kept, send: send, person: person,
                         takeRejected: takeRejected, requestSync: requestSync, showRejected: showRejected,
                         startPage: startPage };
})(self);

/* The trainer's registers offline (docs/FIELD_TRAINING.md, "The register offline").

   On a session's attendance page (data-kind="register": a present and an excused box per member)
   and on the paper-sheet entry page (data-kind="paper": present / absent / excused per member),
   saving without a connection does not post the form: each member's mark becomes an event
   {id: a new UUID, type: "attendance.marked", enrolment_id, session_id, attendance, occurred_at}
   kept in the device's offline queue (static/js/offline_queue.js, shared with the learners' pages).
   The queue is sent when the connection returns (the "online" event, the next visit, or the
   service worker's Background Sync); the server applies each event once and keeps, for each
   member, the latest mark by the time it was made. Refused marks are shown with the reason.
   With a connection the forms are posted as usual; without JavaScript they are plain forms. */
"use strict";

(function () {
  var queue = window.OfflineQueue;
  var form = document.querySelector("form.attendance-offline");
  if (!form || !queue) return;
  var sessionId = Number(form.dataset.sessionId);
  var status = document.getElementById("queued");

  function say(text) {
    if (!status) return;
    status.textContent = text;
    status.hidden = false;
  }

  function marks() {
    var found = [];
    if (form.dataset.kind === "register") {
      form.querySelectorAll("tr[data-enrolment-id]").forEach(function (row) {
        var present = row.querySelector('input[name="present"]');
        var excused = row.querySelector('input[name="excused"]');
        var mark = present && present.checked ? "present" : excused && excused.checked ? "excused" : "absent";
        found.push({ enrolment: Number(row.dataset.enrolmentId), name: row.dataset.name, mark: mark });
      });
    } else {
      form.querySelectorAll("fieldset[data-enrolment-id]").forEach(function (row) {
        var chosen = row.querySelector("input[type=radio]:checked");
        if (chosen) found.push({ enrolment: Number(row.dataset.enrolmentId), name: row.dataset.name, mark: chosen.value });
      });
    }
    return found;
  }

  form.addEventListener("submit", function (event) {
    if (navigator.onLine || !queue.available()) return;  // online: the form is posted as usual
    event.preventDefault();
    var now = new Date().toISOString();
    var me = queue.person();
    var records = marks().map(function (m) {
      return { id: crypto.randomUUID(), type: "attendance.marked", learner: me, enrolment_id: m.enrolment,
               session_id: sessionId, attendance: m.mark, occurred_at: now,
               label: m.name + " (" + form.dataset.sessionLabel + ")" };
    });
    if (!records.length) return;
    queue.put(records).then(function () {
      return queue.kept(me);
    }).then(function (kept) {
      say(form.dataset.queued.replace("{count}", kept.filter(function (e) {
        return e.type === "attendance.marked";
      }).length));
    });
  });

  // "Everyone present" on the paper-sheet page: a link that reloads the page with every choice on
  // present (without JavaScript); here, it sets them in place, which also works offline.
  var all = document.getElementById("all-present");
  if (all) {
    all.addEventListener("click", function (event) {
      event.preventDefault();
      form.querySelectorAll('input[type=radio][value="present"]').forEach(function (input) { input.checked = true; });
    });
  }

  // Back online: show the register as the server now has it (a later mark made elsewhere stays).
  function showTruth(body) {
    var marksNow = (body && body.attendance) || [];
    var sent = false;
    marksNow.forEach(function (m) {
      if (m.session_id !== sessionId) return;
      sent = true;
      if (form.dataset.kind === "register") {
        var row = form.querySelector('tr[data-enrolment-id="' + m.enrolment_id + '"]');
        if (!row) return;
        row.querySelector('input[name="present"]').checked = m.attendance === "present";
        row.querySelector('input[name="excused"]').checked = m.attendance === "excused";
      } else {
        var input = form.querySelector('fieldset[data-enrolment-id="' + m.enrolment_id + '"] input[value="' +
                                       m.attendance + '"]');
        if (input) input.checked = true;
      }
    });
    if (sent) say(form.dataset.sent);
  }

  queue.startPage(showTruth);
})();

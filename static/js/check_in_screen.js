// The room's check-in screen: load the next code as soon as it begins (the server says when).
// Without JavaScript the page offers a link to the new code instead.
(function () {
  "use strict";
  var screen = document.querySelector("[data-refresh-seconds]");
  if (!screen) { return; }
  var seconds = parseInt(screen.getAttribute("data-refresh-seconds"), 10);
  if (!(seconds > 0)) { seconds = 60; }
  window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
}());

/* The dashboard's chart of course evaluations: each rating question's answers, from 1 to 5, as
   shares of its answers (stacked bars), drawn with Chart.js (static/vendor). The same figures are
   in the table beside it. Data from a JSON block in the page (the CSP forbids inline scripts). */
(function () {
  "use strict";
  var source = document.getElementById("evaluation-data");
  var canvas = document.getElementById("chart-evaluations");
  if (!source || !canvas || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var rtl = document.documentElement.dir === "rtl";
  var colours = { "1": "#b3403a", "2": "#e08a5b", "3": "#d9d4c7", "4": "#7fb2d4", "5": "#0b5e8a" };
  var questions = data.questions;
  canvas.parentNode.style.height = Math.max(160, questions.length * 44 + 90) + "px";
  var datasets = ["1", "2", "3", "4", "5"].map(function (point) {
    return {
      label: data.labels.points[point],
      backgroundColor: colours[point],
      data: questions.map(function (q) {
        var total = 0;
        Object.keys(q.counts).forEach(function (k) { total += q.counts[k]; });
        return total ? Math.round(1000 * q.counts[point] / total) / 10 : 0;
      })
    };
  });
  new Chart(canvas, {
    type: "bar",
    data: { labels: questions.map(function (q) { return q.label + " (" + data.labels.mean + ": " + (q.mean_text || q.mean) + ")"; }),
            datasets: datasets },
    options: {
      indexAxis: "y", maintainAspectRatio: false, responsive: true, animation: false,
      locale: document.documentElement.lang,
      plugins: { legend: { position: "bottom", rtl: rtl },
                 tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + c.parsed.x + "%"; } } } },
      scales: { x: { stacked: true, min: 0, max: 100, reverse: rtl, ticks: { callback: function (v) { return v + "%"; } } },
                y: { stacked: true, position: rtl ? "right" : "left", ticks: { autoSkip: false } } }
    }
  });
  canvas.dataset.ready = "true";
})();

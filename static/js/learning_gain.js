/* The dashboard's learning-gain chart: mean pre-test and post-test scores by country (Chart.js,
   loaded by the dashboard). The figures come from a JSON block; the table beside it says the same. */
(function () {
  "use strict";
  var source = document.getElementById("learning-gain-data");
  var canvas = document.getElementById("chart-gain-country");
  if (!source || !canvas || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var rtl = document.documentElement.dir === "rtl";
  var colours = { pre: "#c9a227", post: "#0b5e8a" };
  var rows = data.countries;
  canvas.parentNode.style.height = Math.max(160, rows.length * 28 + 80) + "px";
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: rows.map(function (r) { return r.label; }),
      datasets: ["pre", "post"].map(function (kind) {
        return { label: data.labels[kind], data: rows.map(function (r) { return r[kind]; }),
                 backgroundColor: colours[kind], borderColor: colours[kind] };
      })
    },
    options: {
      locale: document.documentElement.lang, indexAxis: "y", maintainAspectRatio: false, responsive: true,
      maxBarThickness: 28, animation: false,
      plugins: { legend: { position: "bottom", rtl: rtl } },
      scales: { x: { reverse: rtl, beginAtZero: true, max: 100 }, y: { position: rtl ? "right" : "left", ticks: { autoSkip: false } } }
    }
  });
  canvas.dataset.ready = "true";
})();

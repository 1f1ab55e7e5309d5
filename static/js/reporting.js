/* Charts of the statistics dashboard and the impact page, drawn with Chart.js (static/vendor).
   The data comes from a JSON block in the page (no inline script: the CSP forbids it). */
(function () {
  "use strict";
  var source = document.getElementById("report-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var rtl = document.documentElement.dir === "rtl";
  var colours = { reached: "#8ab6d6", trained: "#0b5e8a" };
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#1d2733";
  Chart.defaults.animation = false;  // figures, not a show: draw at once

  function datasets(rows, kinds) {
    return kinds.map(function (kind) {
      return { label: data.labels[kind], data: rows.map(function (r) { return r[kind]; }),
               backgroundColor: colours[kind], borderColor: colours[kind] };
    });
  }

  function drillTo(name, value) {
    var url = new URL(window.location.href);
    url.searchParams.set(name, value);
    url.hash = "behind";
    window.location.assign(url.toString());
  }

  function bars(id, rows, kinds, horizontal, drill) {
    var canvas = document.getElementById(id);
    if (!canvas) { return null; }
    if (horizontal) {  // one readable bar per row, however many rows there are
      canvas.parentNode.style.height = Math.max(160, rows.length * 14 * kinds.length + 80) + "px";
    }
    var chart = new Chart(canvas, {
      type: "bar",
      data: { labels: rows.map(function (r) { return r.label; }), datasets: datasets(rows, kinds) },
      options: {
        locale: document.documentElement.lang,  // numbers in the page's language
        indexAxis: horizontal ? "y" : "x", maintainAspectRatio: false, responsive: true, maxBarThickness: 28,
        plugins: { legend: { position: "bottom", rtl: rtl } },
        scales: { x: { reverse: rtl && !horizontal, beginAtZero: true, ticks: { precision: 0 } },
                  y: { beginAtZero: true, ticks: { precision: 0, autoSkip: false } } },
        onClick: drill ? function (event, elements) {
          if (elements.length) { drillTo(drill, rows[elements[0].index].code); }
        } : undefined,
        onHover: drill ? function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        } : undefined
      }
    });
    canvas.dataset.ready = "true";
    return chart;
  }

  if (data.countries && document.getElementById("chart-country")) {
    bars("chart-country", data.countries, ["reached", "trained"], true, "country");
  }
  if (data.sectors) {
    bars("chart-sector", data.sectors, ["reached", "trained"], true, "sector");
  }
  if (data.time) {
    var canvas = document.getElementById("chart-time");
    if (canvas) {
      new Chart(canvas, {
        type: "line",
        data: { labels: data.time.points.map(function (p) { return p.label; }),
                datasets: datasets(data.time.points, ["reached", "trained"]).map(function (d) {
                  d.tension = 0; d.fill = false; d.pointRadius = 2; return d; }) },
        options: { maintainAspectRatio: false, responsive: true, locale: document.documentElement.lang,
                   plugins: { legend: { position: "bottom", rtl: rtl } },
                   scales: { x: { reverse: rtl }, y: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
      canvas.dataset.ready = "true";
    }
  }
  if (document.getElementById("chart-impact")) {
    bars("chart-impact", data.countries, ["trained"], true, null);
  }
})();

// Draws the dashboards' charts (issue 14 §5) with the vendored Chart.js (global `Chart`).
// Each <canvas data-chart="ID"> names the json_script element (oversight/charts.py
// Chart.config) that holds its labels and datasets. No inline script (CSP script-src 'self').
(function () {
  "use strict";
  // Without a chart, the numbers' table beside the canvas is shown instead.
  function showTable(canvas) {
    canvas.hidden = true;
    var figure = canvas.closest("figure");
    var hidden = figure && figure.querySelectorAll(".visually-hidden");
    for (var i = 0; hidden && i < hidden.length; i++) {
      hidden[i].classList.remove("visually-hidden");
    }
  }
  if (typeof window.Chart === "undefined") {
    document.querySelectorAll("canvas[data-chart]").forEach(showTable);
    return;
  }
  var Chart = window.Chart;
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  Chart.defaults.font.family =
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif';
  Chart.defaults.color = "#212529";

  function format(value, unit) {
    return Number(value).toLocaleString("zh-CN") + " " + unit;
  }

  // A horizontal bar chart grows with its bars: few bars, a flat chart.
  function barsAspect(bars) {
    return Math.max(1.4, Math.min(3, 6 / Math.max(1, bars) + 1));
  }

  function config(spec) {
    var doughnut = spec.type === "doughnut";
    var unit = spec.unit || "";
    var datasets = spec.datasets.map(function (d) {
      return {
        label: d.label,
        data: d.data,
        backgroundColor: d.colour,
        borderColor: doughnut ? "#ffffff" : d.colour,
        borderWidth: doughnut ? 2 : 0,
        maxBarThickness: 48
      };
    });
    var options = {
      responsive: true,
      maintainAspectRatio: true,
      aspectRatio: doughnut ? 1.8 : spec.horizontal ? barsAspect(spec.labels.length) : 2,
      animation: reduceMotion ? false : { duration: 300 },
      plugins: {
        legend: { display: doughnut || datasets.length > 1, position: "bottom" },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              if (doughnut) {
                return ctx.label + "：" + format(ctx.parsed, unit);
              }
              var value = spec.horizontal ? ctx.parsed.x : ctx.parsed.y;
              return ctx.dataset.label + "：" + format(value, unit);
            }
          }
        }
      }
    };
    if (!doughnut) {
      var value = { beginAtZero: true, stacked: !!spec.stacked, ticks: { precision: 0 } };
      var category = { stacked: !!spec.stacked, ticks: { autoSkip: false } };
      options.indexAxis = spec.horizontal ? "y" : "x";
      options.scales = spec.horizontal ? { x: value, y: category } : { x: category, y: value };
    }
    return { type: doughnut ? "doughnut" : "bar", data: { labels: spec.labels, datasets: datasets }, options: options };
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || Chart.getChart(canvas)) {
      return;
    }
    try {
      new Chart(canvas, config(JSON.parse(source.textContent)));
    } catch (error) {
      showTable(canvas);
      if (window.console) {
        window.console.error("图表绘制失败", error);
      }
    }
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();

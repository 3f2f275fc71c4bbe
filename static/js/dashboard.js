// Compliance dashboard: fetch the figures every few seconds and update the charts in place
// (no page reload). The charts are kept on window.dashboardCharts for the browser test.
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root || !window.Chart) { return; }
  var source = root.dataset.source;
  var refresh = Number(root.dataset.refresh || 5) * 1000;
  var COLORS = {
    accepted: "#12b76a", rejected: "#f04438", pending_approval: "#f79009",
    critical: "#d92d20", warning: "#f79009", info: "#2e90fa"
  };
  var SEVERITIES = ["critical", "warning", "info"];
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function chart(id, type, datasets, options) {
    return new Chart(document.getElementById(id), {
      type: type,
      data: { labels: [], datasets: datasets },
      options: Object.assign({ plugins: { legend: { display: datasets.length > 1 } } }, options || {})
    });
  }
  var integerY = { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };
  var charts = {
    decisions: chart("chart-decisions", "bar", ["accepted", "rejected", "pending_approval"].map(function (o) {
      return { label: o.replace("_", " "), data: [], backgroundColor: COLORS[o], stack: "d" };
    }), { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }),
    rejections: chart("chart-rejections", "bar", [{ label: "rejections", data: [], backgroundColor: "#f04438" }],
      Object.assign({ indexAxis: "y" }, { scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } })),
    violations: chart("chart-violations", "bar", [{
      label: "active violations", data: [], backgroundColor: SEVERITIES.map(function (s) { return COLORS[s]; })
    }], integerY),
    alerts: chart("chart-alerts", "bar", [{ label: "open alerts", data: [], backgroundColor: "#7a5af8" }], integerY)
  };
  window.dashboardCharts = charts;

  function set(id, text) { var el = document.getElementById(id); if (el) { el.textContent = text; } }
  function sum(values) { return values.reduce(function (a, b) { return a + b; }, 0); }

  function render(d) {
    var dec = d.decisions_per_minute;
    charts.decisions.data.labels = dec.labels;
    charts.decisions.data.datasets.forEach(function (ds, i) {
      ds.data = dec.series[["accepted", "rejected", "pending_approval"][i]];
    });
    charts.rejections.data.labels = d.rejections_by_rule.map(function (r) { return r.rule; });
    charts.rejections.data.datasets[0].data = d.rejections_by_rule.map(function (r) { return r.count; });
    charts.violations.data.labels = SEVERITIES;
    charts.violations.data.datasets[0].data = SEVERITIES.map(function (s) { return d.active_violations[s] || 0; });
    var detectors = Object.keys(d.open_alerts_by_detector);
    charts.alerts.data.labels = detectors;
    charts.alerts.data.datasets[0].data = detectors.map(function (k) { return d.open_alerts_by_detector[k]; });
    Object.keys(charts).forEach(function (k) { charts[k].update(); });

    var ks = d.kill_switch;
    set("tile-kill-switch", ks.firm);
    set("kill-switch-state", ks.active.length ? ks.active.length + " switch(es) in force" : "No kill switch in force: trading.");
    var list = document.getElementById("kill-switch-list");
    list.replaceChildren.apply(list, ks.active.map(function (s) {
      var li = document.createElement("li");
      li.textContent = s.state + " · " + s.scope + (s.target ? " " + s.target : "") + " · " + s.reason;
      return li;
    }));
    set("tile-violations", String(sum(SEVERITIES.map(function (s) { return d.active_violations[s] || 0; }))));
    set("tile-alerts", String(sum(detectors.map(function (k) { return d.open_alerts_by_detector[k]; }))));
    var cp = d.latest_checkpoint;
    set("tile-checkpoint", cp ? String(cp.tree_size) : "none");
    set("checkpoint-size", cp ? String(cp.tree_size) : "no checkpoint yet");
    set("checkpoint-time", cp ? cp.created_at.replace("T", " ").slice(0, 19) + " UTC" : "");
    set("checkpoint-root", cp ? cp.root_hash.slice(0, 16) + "…" : "");
    var w = cp ? cp.witness : null;
    set("checkpoint-witness-age", !w || w.age_seconds === null ? "none yet"
      : w.age_seconds + " s ago (" + (w.witnessed ? "witness" : "no witness configured: database only") + ")");
    set("checkpoint-unsigned", w ? w.unsigned_events + (w.unsigned_events ? ", oldest " + w.oldest_unsigned_seconds + " s" : "") : "");
    set("dash-updated", d.generated_at.slice(11, 19) + " UTC");
    root.dataset.loaded = String(Number(root.dataset.loaded || 0) + 1);
  }

  function load() {
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(render)
      .catch(function () { set("dash-updated", "failed, retrying"); })
      .finally(function () { setTimeout(load, refresh); });
  }
  load();
})();

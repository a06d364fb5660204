// The dashboard's Street Safe layer: aggregated cells (the minimum count or more) from
// /api/streetsafe/cells, as a table and on the dashboard's map (drawn by dashboard.html); roles
// without streetsafe.view get a short note instead.
(function () {
  "use strict";
  var box = document.getElementById("streetsafe-layer");
  if (!box) return;
  fetch("/api/streetsafe/cells", {credentials: "same-origin"}).then(function (r) {
    if (r.status === 403) { box.innerHTML = "<p class='note'>Street Safe figures need the streetsafe.view permission.</p>"; return null; }
    return r.ok ? r.json() : null;
  }).then(function (d) {
    if (!d) return;
    function reasons(c) {
      return Object.keys(c.reasons).slice(0, 3).map(function (k) { return k + " (" + (c.reasons[k] === null ? "—" : c.reasons[k]) + ")"; }).join("; ");
    }
    var rows = d.cells.map(function (c) {
      return "<tr data-lat='" + c.lat + "' data-lon='" + c.lon + "'><td>" + c.district + "</td><td>" + c.key + "</td><td>" + c.reports + "</td><td>" + reasons(c) + "</td></tr>";
    }).join("");
    box.innerHTML = "<p class='note'>" + d.cells.length + " cells of " + d.cell_m + " m with " + d.min_count + " or more reports (" + d.withheld.reports + " reports in smaller cells withheld). <a href='/streetsafe/analysis'>Clusters, trend and comparison</a></p>" +
      "<table id='ss-layer'><thead><tr><th>district</th><th>cell</th><th>reports</th><th>main reasons</th></tr></thead><tbody>" +
      (rows || "<tr><td colspan='4'>No cell has enough reports yet.</td></tr>") + "</tbody></table>";
    var map = window.L && window.guardianMap;
    if (!map || !d.cells.length) return;
    var pts = d.cells.map(function (c) {
      L.circleMarker([c.lat, c.lon], {radius: 6 + Math.min(10, c.reports / 2), color: "#6a1b9a", className: "ss-cell"})
        .addTo(map).bindPopup("Street Safe, " + c.district + ", cell " + c.key + ": " + c.reports + " reports; main reasons " + reasons(c));
      return [c.lat, c.lon];
    });
    if (!(window.guardianMapPoints || []).length) map.fitBounds(pts, {padding: [20, 20], maxZoom: 15});
  });
})();

// The officer's phone: a visit outcome is sent at once when there is signal, and otherwise
// queued in localStorage and sent when the phone is back online -- exactly once, because each
// submission carries its own idempotency key and the server answers a repeated key with the
// first answer instead of recording it twice.
(function () {
  "use strict";
  var QUEUE = "guardian-outbox";
  var csrfMeta = document.querySelector('meta[name="csrf"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  function load() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function save(q) { localStorage.setItem(QUEUE, JSON.stringify(q)); show(); }
  function show() {
    var n = load().length, el = document.getElementById("queue");
    if (el) el.textContent = n ? n + (n === 1 ? " visit" : " visits") + " waiting to send (no signal)" : "";
  }

  function send(item) {
    var body = Object.assign({}, item.body, { elapsed_s: Math.max(0, (Date.now() - item.made) / 1000) });
    return fetch("/api/tasks/" + item.task + "/outcome", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      // 2xx, or 409 (already recorded): settled. Anything else stays queued, never dropped.
      return { settled: r.ok || r.status === 409, status: r.status };
    });
  }

  var flushing = false;
  function flush() {
    if (flushing || !navigator.onLine) return Promise.resolve();
    var q = load();
    if (!q.length) return Promise.resolve();
    flushing = true;
    var item = q[0];
    return send(item).then(function (res) {
      if (res.settled) { var rest = load().filter(function (i) { return i.body.key !== item.body.key; }); save(rest); }
      flushing = false;
      if (res.settled) return flush();
    }, function () { flushing = false; });
  }

  var form = document.getElementById("outcome-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = ev.submitter;
      var item = { task: form.dataset.task, made: Date.now(), body: {
        outcome: button ? button.value : "", key: form.elements.key.value,
        note: form.elements.note.value || null } };
      var counts = form.querySelectorAll("[data-interaction]");
      if (counts.length) {
        item.body.interactions = {};
        counts.forEach(function (el) { item.body.interactions[el.dataset.interaction] = parseInt(el.value || "0", 10); });
        item.body.minutes = parseInt(form.elements.minutes.value || "15", 10);
      }
      localStorage.setItem("guardian-last", JSON.stringify(item.body.key));
      var result = document.getElementById("result");
      Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
      send(item).then(function (res) {
        if (res.status >= 200 && res.status < 300) { result.textContent = "Recorded: " + item.body.outcome; window.location.href = "/my"; }
        else { result.textContent = "Not recorded (" + res.status + ")"; }
      }, function () {
        var q = load(); q.push(item); save(q);
        result.textContent = "No signal: saved on this phone, it will be sent when you are back online.";
      });
    });
  }
  window.addEventListener("online", flush);
  show();
  flush();
  // Nearest first: with the phone's position (if the officer allows it), the list is reordered
  // by straight-line distance; without it, it stays earliest due first as the server sent it.
  var list = document.getElementById("tasks");
  if (list && navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(function (pos) {
      var la = pos.coords.latitude * Math.PI / 180, lo = pos.coords.longitude * Math.PI / 180;
      var items = Array.prototype.slice.call(list.querySelectorAll("li.task"));
      items.forEach(function (li) {
        if (!li.dataset.lat) { li.dataset.dist = "1e12"; return; }
        var b = parseFloat(li.dataset.lat) * Math.PI / 180, c = parseFloat(li.dataset.lon) * Math.PI / 180;
        var h = Math.pow(Math.sin((b - la) / 2), 2) + Math.cos(la) * Math.cos(b) * Math.pow(Math.sin((c - lo) / 2), 2);
        li.dataset.dist = String(12742000 * Math.asin(Math.sqrt(h)));
        var small = li.querySelector("small:last-of-type");
        if (small) small.textContent += " · " + Math.round(parseFloat(li.dataset.dist)) + " m";
      });
      items.sort(function (x, y) { return parseFloat(x.dataset.dist) - parseFloat(y.dataset.dist); });
      items.forEach(function (li) { list.appendChild(li); });
    }, function () {}, { maximumAge: 60000, timeout: 5000 });
  }
  var mapEl = document.getElementById("map");
  if (mapEl && window.L) {
    var map = L.map(mapEl), pts = [];
    L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {maxZoom: 19, attribution: "© OpenStreetMap"}).addTo(map);
    document.querySelectorAll("#tasks li.task").forEach(function (li) {
      if (!li.dataset.lat) return;
      var p = [parseFloat(li.dataset.lat), parseFloat(li.dataset.lon)]; pts.push(p);
      var a = li.querySelector("a");
      L.circleMarker(p, {radius: 9, color: li.classList.contains("overdue") ? "#a4000f" : "#00447c"})
        .addTo(map).bindPopup('<a href="' + a.getAttribute("href") + '">' + a.querySelector("strong").textContent + "</a>");
    });
    if (pts.length) map.fitBounds(pts, {padding: [24, 24], maxZoom: 17}); else mapEl.style.display = "none";
  }
  if ("serviceWorker" in navigator) { navigator.serviceWorker.register("/static/sw.js", { scope: "/static/" }).catch(function () {}); }
})();

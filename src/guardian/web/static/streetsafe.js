// Street Safe public page: put a pin (map tap, device location, map centre or typed
// coordinates), send the report as JSON with an idempotency key, retry on a bad connection with
// the same key, and say "Received" only when the server answers that the report is stored.
(function () {
  "use strict";
  var form = document.getElementById("ss-form");
  if (!form) return;
  var lat = document.getElementById("ss-lat"), lon = document.getElementById("ss-lon");
  var status = document.getElementById("ss-status"), mapEl = document.getElementById("ss-map");
  var keyEl = document.getElementById("ss-key"), tokenEl = document.getElementById("ss-token");
  var b = (mapEl.dataset.bounds || "").split(",").map(parseFloat);
  var map = null, marker = null;

  function newKey() {
    var a = new Uint8Array(18);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function say(text, ok) {
    status.textContent = text;
    status.className = "ss-status " + (ok ? "ok" : "bad");
  }
  function pin(la, lo) {
    lat.value = la.toFixed(5); lon.value = lo.toFixed(5);
    if (map) {
      if (marker) marker.setLatLng([la, lo]); else marker = L.marker([la, lo], {keyboard: false}).addTo(map);
    } else if (b.length === 4) {
      var dot = mapEl.querySelector(".ss-dot") || mapEl.appendChild(document.createElement("span"));
      dot.className = "ss-dot";
      dot.style.left = (100 * (lo - b[1]) / (b[3] - b[1])) + "%";
      dot.style.top = (100 * (b[2] - la) / (b[2] - b[0])) + "%";
    }
  }
  if (window.L && b.length === 4) {
    map = L.map(mapEl, {tap: true}).fitBounds([[b[0], b[1]], [b[2], b[3]]]);
    // Tiles when online; offline the map is a plain background and the pin still works.
    L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {maxZoom: 19, attribution: "© OpenStreetMap"}).addTo(map);
    map.on("click", function (e) { pin(e.latlng.lat, e.latlng.lng); });
  } else if (b.length === 4) {
    // No map library (offline install): the box is the force area's bounding box.
    mapEl.addEventListener("click", function (e) {
      var r = mapEl.getBoundingClientRect();
      pin(b[2] - (e.clientY - r.top) / r.height * (b[2] - b[0]), b[1] + (e.clientX - r.left) / r.width * (b[3] - b[1]));
    });
  }
  document.getElementById("ss-centre").addEventListener("click", function () {
    if (map) { var c = map.getCenter(); pin(c.lat, c.lng); }
    else if (b.length === 4) pin((b[0] + b[2]) / 2, (b[1] + b[3]) / 2);
  });
  document.getElementById("ss-locate").addEventListener("click", function () {
    if (!navigator.geolocation) { say("This device cannot give its location: tap the map instead.", false); return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      pin(p.coords.latitude, p.coords.longitude);
      if (map) map.setView([p.coords.latitude, p.coords.longitude], 16);
    }, function () { say("Location not available: tap the map or type the coordinates.", false); });
  });
  // Day or night from the device's clock, as a default the person can change.
  var h = new Date().getHours();
  var dn = document.getElementById(h >= 7 && h < 19 ? "d-day" : "d-night");
  if (!form.querySelector("input[name=daynight]:checked")) dn.checked = true;
  keyEl.value = sessionStorage.getItem("ss-key") || keyEl.value || newKey();

  function body() {
    var f = new FormData(form), reasons = f.getAll("reasons");
    return {key: keyEl.value, lat: parseFloat(lat.value), lon: parseFloat(lon.value), reasons: reasons,
            when: f.get("when") || "now", daynight: f.get("daynight") || "",
            not_reported: f.get("not_reported") || null, comment: f.get("comment") || null,
            website: f.get("website") || null, token: tokenEl.value};
  }
  function send(data, attempt) {
    return fetch("/api/streetsafe/reports", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify(data), credentials: "omit"})
      .then(function (r) { return r.json().then(function (j) { return {code: r.status, j: j}; }); })
      .catch(function () {
        // No answer: the report may or may not be stored; the same key makes a retry safe.
        if (attempt >= 5) throw new Error("offline");
        say("No connection — trying again…", false);
        return new Promise(function (ok) { setTimeout(ok, 1000 * Math.pow(2, attempt)); })
          .then(function () { return send(data, attempt + 1); });
      });
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var data = body();
    if (!isFinite(data.lat) || !isFinite(data.lon)) { say("Put a pin on the map first (or type the coordinates).", false); return; }
    if (!data.reasons.length) { say("Tick at least one reason.", false); return; }
    sessionStorage.setItem("ss-key", data.key);
    var btn = document.getElementById("ss-send");
    btn.disabled = true; say("Sending…", true);
    send(data, 0).then(function (res) {
      if (res.code === 200 && res.j.status === "received") {
        say("Received — thank you. Your report is stored anonymously.", true);
        sessionStorage.removeItem("ss-key");
        form.reset(); keyEl.value = newKey(); dn.checked = true;
        if (marker) { marker.remove(); marker = null; }
      } else {
        say(res.j.detail && typeof res.j.detail === "string" ? res.j.detail : "Please check the form and try again.", false);
        if (res.j.reason === "bad-token") fetch("/api/streetsafe/token").then(function (r) { return r.json(); })
          .then(function (t) { tokenEl.value = t.token; });
      }
    }).catch(function () {
      say("Not sent: no connection. Your answers are still here — press Send again when you are back online.", false);
    }).finally(function () { btn.disabled = false; });
  });
})();

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
  if ("serviceWorker" in navigator) { navigator.serviceWorker.register("/static/sw.js", { scope: "/static/" }).catch(function () {}); }
})();

// Caches the phone's static files so the pages keep their look and script without signal.
var CACHE = "guardian-static-v1";
self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(["/static/app.css", "/static/my.js"]); }));
});
self.addEventListener("fetch", function (e) {
  if (e.request.method !== "GET") return;
  e.respondWith(fetch(e.request).then(function (r) {
    var copy = r.clone(); caches.open(CACHE).then(function (c) { c.put(e.request, copy); }); return r;
  }, function () { return caches.match(e.request); }));
});

/* Relais console service worker: an offline shell and web-push notifications. */
var CACHE = "relais-console-v1";
var SHELL = ["/console/offline", "/console/static/console.css", "/console/static/console.js",
  "/console/static/htmx.min.js", "/console/static/icon.svg"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== location.origin || url.pathname.endsWith("/stream")) return;
  if (request.mode === "navigate") {
    // Pages are live data: network first, the offline shell when the network is gone.
    event.respondWith(fetch(request).catch(function () { return caches.match("/console/offline"); }));
    return;
  }
  if (url.pathname.indexOf("/console/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) {
      var network = fetch(request).then(function (response) {
        if (response.ok) caches.open(CACHE).then(function (cache) { cache.put(request, response.clone()); });
        return response.clone();
      });
      return hit || network;
    }));
  }
});

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (err) { data = { body: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "Relais", {
    body: data.body || "", tag: data.tag, icon: "/console/static/icon-192.png", data: { url: data.url || "/console" }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = (event.notification.data && event.notification.data.url) || "/console";
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (clients) {
    for (var i = 0; i < clients.length; i++) {
      if (clients[i].url.indexOf("/console") >= 0 && "focus" in clients[i]) {
        clients[i].navigate(target); return clients[i].focus();
      }
    }
    return self.clients.openWindow(target);
  }));
});

// The organizer pages' service worker: the app shell and each turf's data are answered from the
// network when there is one (and kept), from the cache when there is none. Results are never
// cached here: the page queues them and sends each with its idempotency key.
const CACHE = "seg1-field-v1";
const SHELL = ["/field/app.js", "/field/app.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/field/")) {
    return;
  }
  event.respondWith(
    fetch(request)
      .then((response) => {
        // A redirect (to sign in) or an error page is not the page to show offline.
        if (response.ok && !response.redirected) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request).then((hit) => hit || Response.error()))
  );
});

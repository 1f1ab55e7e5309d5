/* The site's service worker (docs/OFFLINE.md): keeps the learning pages a learner has visited,
   so that they open without a connection, and shows a clear page for the others.

   Only pages of the catalogue and of the learner's own courses, and a trainer's session registers
   (attendance and paper-sheet entry) are kept (never the API, accounts, administration or
   certificates), only when the server allows storing them, and all of them are dropped when the
   person signs out (static/js/install.js).

   Background Sync: a page that queues an event offline registers the sync tag; the browser wakes
   this worker when the connection returns, even with no page open, and it sends the queue
   (static/js/offline_queue.js, the same code the pages use). */
"use strict";

importScripts("/static/js/offline_queue.js");

const VERSION = "v1";
const PAGES = "pages-" + VERSION;
const FILES = "files-" + VERSION;
const OFFLINE_PAGE = "/offline";
const KEPT_PAGES = /^\/(?:courses\/|learning\/|cohorts\/\d+\/sessions\/\d+(?:\/paper)?$)/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(FILES)
      .then((cache) => cache.addAll([OFFLINE_PAGE, "/static/css/app.css", "/static/favicon.svg"]))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== PAGES && k !== FILES).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function storable(response) {
  const control = response.headers.get("Cache-Control") || "";
  return response.ok && response.type === "basic" && !/no-store/i.test(control);
}

async function page(request) {
  try {
    const response = await fetch(request);
    if (storable(response) && KEPT_PAGES.test(new URL(request.url).pathname)) {
      const cache = await caches.open(PAGES);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (offline) {
    return (await caches.match(request, { ignoreVary: true })) || (await caches.match(OFFLINE_PAGE));
  }
}

async function file(request) {
  const kept = await caches.match(request);
  if (kept) {
    // Served at once; refreshed in the background for the next visit.
    fetch(request).then((fresh) => storable(fresh) && caches.open(FILES).then((c) => c.put(request, fresh)))
      .catch(() => {});
    return kept;
  }
  const response = await fetch(request);
  if (storable(response)) {
    const cache = await caches.open(FILES);
    await cache.put(request, response.clone());
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(page(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(file(request));
  }
});

self.addEventListener("message", (event) => {
  if (event.data === "forget") {
    event.waitUntil(caches.delete(PAGES));
  }
});

self.addEventListener("sync", (event) => {
  if (event.tag !== self.OfflineQueue.TAG) return;
  // A failure (still offline, server unreachable) rejects, and the browser tries again later.
  event.waitUntil(self.OfflineQueue.send().then((body) => {
    if (!body) return undefined;
    return self.clients.matchAll({ type: "window" }).then((pages) => {
      pages.forEach((page) => page.postMessage({ type: "synced", body: body }));
    });
  }));
});

// Service worker: answers from the cache when there is no network (offline after the first
// visit), and refreshes the cache from the network otherwise (stale-while-revalidate), so a new
// deployment is picked up on the next visit. Same-origin GET requests only.
const CACHE = 'dream-web-v1';

self.addEventListener('install', (event) => { self.skipWaiting(); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith(caches.open(CACHE).then(async (cache) => {
    const cached = await cache.match(req);
    const network = fetch(req).then((resp) => {
      if (resp.ok) cache.put(req, resp.clone());
      return resp;
    });
    if (cached) {
      network.catch(() => {});
      return cached;
    }
    return network;
  }));
});

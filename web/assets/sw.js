// Service worker: the site works offline after the first visit.
// - install: caches the page, every asset it links (Trunk's hashed JS/wasm/CSS, read from
//   index.html), the model list and the default model (DREAM-CNN);
// - fetch (same-origin GET): network first (refreshing the cache); the cached copy when the
//   network fails or the server answers 5xx, so a new deployment is picked up on the next visit; any
//   other model the user opens is cached on first use.
const CACHE = 'dream-web-v1';
const DEFAULT_MODEL = 'models/dream-cnn/';

async function precache() {
  const cache = await caches.open(CACHE);
  const page = await fetch('./', { cache: 'no-cache' });
  const html = await page.clone().text();
  await cache.put('./', page);
  const assets = [...html.matchAll(/(?:href|src)="(\.\/[^"]+)"/g)].map((m) => m[1]);
  const urls = [...new Set([...assets, 'dream-worker.js', 'models/index.json', DEFAULT_MODEL + 'model.json', DEFAULT_MODEL + 'weights.safetensors', DEFAULT_MODEL + 'README.md'])];
  await Promise.all(urls.map((u) => fetch(u, { cache: 'no-cache' }).then((r) => (r.ok ? cache.put(u, r) : null)).catch(() => null)));
}

self.addEventListener('install', (event) => { event.waitUntil(precache().then(() => self.skipWaiting())); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = async () => (await cache.match(req, { ignoreSearch: true }))
      || (url.pathname.endsWith('/') ? cache.match('./') : undefined);
    try {
      const resp = await fetch(req);
      if (resp.ok) {
        cache.put(req, resp.clone());
        return resp;
      }
      // A server error while offline-capable: the cached copy is better than the error.
      return (resp.status >= 500 && (await cached())) || resp;
    } catch (err) {
      const c = await cached();
      if (c) return c;
      throw err;
    }
  })());
});

// Web Worker of dream-pool.js: loads a build of the page's wasm module (the same code as the
// page, started without a document; the relaxed-SIMD build where the pool offers it, else the
// page's own) and runs the CPU model on the windows it is sent, or the Taylor ISM preview's
// forward and backward pass on one window.
let api = null;
let build = -1;
self.onmessage = async ({ data: m }) => {
  try {
    if (m.kind === 'init') {
      if (!api) {
        // The first build that loads; the last one is the page's own.
        let err = null;
        for (const [i, b] of m.builds.entries()) {
          try {
            const mod = await import(b.js);
            await mod.default({ module_or_path: b.wasm });
            api = mod;
            build = i;
            break;
          } catch (e) {
            err = e;
          }
        }
        if (!api) throw err || new Error('no wasm build to load');
      }
      api.worker_load(m.manifest, m.weights);
      // The worker that computes scans' Taylor previews warms that path up before it says it is
      // ready (a scan asked for meanwhile would wait for it anyway, and its preview run cold).
      // Two passes: the engine compiles a function with its optimising tier only after it has
      // run a while, and the autodiff path has many functions each called a few times per pass
      // (DREAM-Attn's preview in Chromium: ~1.1 s after one warm pass, ~0.8 s after more).
      if (m.warmTaylor) {
        try { for (let i = 0; i < 2; i++) api.worker_taylor_warm(); } catch (e) { /* the preview then runs cold */ }
      }
      self.postMessage({ kind: 'ready', build });
    } else if (m.kind === 'run') {
      const t0 = performance.now();
      const values = api.worker_predict(m.windows, m.count, m.output || 0);
      self.postMessage({ kind: 'done', id: m.id, values, ms: performance.now() - t0 }, [values.buffer]);
    } else if (m.kind === 'taylor') {
      const t0 = performance.now();
      const values = api.worker_taylor(m.window, m.output || 0);
      self.postMessage({ kind: 'taylor', id: m.id, values, ms: performance.now() - t0 }, [values.buffer]);
    }
  } catch (err) {
    self.postMessage({ kind: 'error', id: m && m.id, message: String((err && err.message) || err) });
  }
};

// Web Worker of dream-pool.js: loads a build of the page's wasm module (the same code as the
// page, started without a document; the relaxed-SIMD build where the pool offers it, else the
// page's own) and runs the CPU model on the windows it is sent.
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
      self.postMessage({ kind: 'ready', build });
    } else if (m.kind === 'run') {
      const values = api.worker_predict(m.windows, m.count, m.output || 0);
      self.postMessage({ kind: 'done', id: m.id, values }, [values.buffer]);
    }
  } catch (err) {
    self.postMessage({ kind: 'error', id: m && m.id, message: String((err && err.message) || err) });
  }
};

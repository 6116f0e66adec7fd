// Web Worker of dream-pool.js: loads the page's wasm module (the same code as the page, started
// without a document) and runs the CPU model on the windows it is sent.
let api = null;
self.onmessage = async ({ data: m }) => {
  try {
    if (m.kind === 'init') {
      if (!api) {
        api = await import(m.js);
        await api.default({ module_or_path: m.wasm });
      }
      api.worker_load(m.manifest, m.weights);
      self.postMessage({ kind: 'ready' });
    } else if (m.kind === 'run') {
      const values = api.worker_predict(m.windows, m.count, m.output || 0);
      self.postMessage({ kind: 'done', id: m.id, values }, [values.buffer]);
    }
  } catch (err) {
    self.postMessage({ kind: 'error', id: m && m.id, message: String((err && err.message) || err) });
  }
};

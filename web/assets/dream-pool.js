// A pool of Web Workers (one per core, at most 8) that run the CPU model for SNV scans: the scan
// uses every core and the page stays responsive. Each worker loads the page's own wasm module
// (dream-worker.js) and a copy of the model; the wasm app drives the pool through
// window.dreamPool (web/src/engine.rs). Work is handed out in chunks as workers finish.
window.dreamPool = (() => {
  let workers = [];
  let ready = null;
  let pending = [];
  const href = (sel) => { const l = document.querySelector(sel); return l ? l.href : null; };

  function stop(reason) {
    current = null;
    workers.forEach((w) => w.terminate());
    workers = [];
    ready = null;
    pending.forEach((reject) => reject(new Error(reason || 'worker pool stopped')));
    pending = [];
  }

  // Starts the workers with a bundle (model.json bytes, weights bytes); resolves to their number.
  function init(manifest, weights) {
    stop('model changed');
    const js = href('link[rel="modulepreload"]');
    const wasm = href('link[rel="preload"][type="application/wasm"]');
    if (!js || !wasm || typeof Worker === 'undefined') return Promise.resolve(0);
    const n = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 8));
    const url = new URL('dream-worker.js', document.baseURI);
    const started = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(url, { type: 'module' });
      workers.push(w);
      started.push(new Promise((resolve, reject) => {
        w.onmessage = (e) => (e.data.kind === 'ready' ? resolve() : reject(new Error(e.data.message)));
        w.onerror = (e) => reject(new Error(e.message || 'worker failed to start'));
      }));
      w.postMessage({ kind: 'init', js, wasm, manifest, weights });
    }
    ready = Promise.all(started).then(() => workers.length, (err) => { stop(String(err)); throw err; });
    return ready;
  }

  // The run in progress: { id, fail } (one at a time; a new run or cancel() ends it).
  let current = null;
  let runId = 0;

  // Stops the run in progress at once: workers are handed no more of its windows, the chunks
  // they are computing are dropped when they come back, and its promise rejects with 'cancelled'.
  function cancel() {
    if (current) current.fail('cancelled');
    current = null;
  }

  // Predicts `count` windows of `len` base codes (Uint8Array, row after row), `chunk` windows per
  // message; calls onChunk(windowsDone, start, values) as each chunk comes back (values: the
  // outputs of windows start..start+values.length). Resolves to a Float32Array of the model's
  // output number `output` (0 = the first; e.g. 1 = Hk of a DeepSTARR model). A run started
  // while another is in progress cancels the older one.
  async function run(windows, count, len, chunk, onChunk, output) {
    if (!ready) throw new Error('no worker pool');
    cancel();
    const id = ++runId;
    const me = { id, fail: null };
    current = me;
    await ready;
    if (current !== me) throw new Error('cancelled');
    const pool = workers.slice();
    const out = new Float32Array(count);
    return new Promise((resolve, reject) => {
      let next = 0; let done = 0; let failed = false;
      const fail = (msg) => { if (!failed) { failed = true; if (current === me) current = null; reject(new Error(msg)); } };
      me.fail = fail;
      pending.push(reject);
      const feed = (w) => {
        if (failed) return;
        if (next >= count) { if (done === count) { if (current === me) current = null; resolve(out); } return; }
        const start = next; const n = Math.min(chunk, count - start); next += n;
        w.onmessage = (e) => {
          const m = e.data;
          if (m.id !== id) return; // a chunk of a cancelled run
          if (failed) return;
          if (m.kind !== 'done') { fail(m.message); return; }
          out.set(m.values, start); done += n; onChunk(done, start, m.values); feed(w);
        };
        w.onerror = (e) => fail(e.message || 'worker error');
        w.postMessage({ kind: 'run', id, windows: windows.slice(start * len, (start + n) * len), count: n, output: output || 0 });
      };
      pool.forEach(feed);
    });
  }

  // Resolves to the number of workers once they have loaded the model (0: no pool).
  const whenReady = () => (ready || Promise.resolve(0)).catch(() => 0);

  return { init, run, cancel, stop, whenReady, size: () => workers.length };
})();

// A pool of Web Workers (one per core, at most 8) that run the CPU model for SNV scans: the scan
// uses every core and the page stays responsive. Each worker loads the page's own wasm module
// (dream-worker.js) and a copy of the model; the wasm app drives the pool through
// window.dreamPool (web/src/engine.rs). Work is handed out in chunks as workers finish.
window.dreamPool = (() => {
  let workers = [];
  let ready = null;
  let pending = [];
  const href = (sel) => { const l = document.querySelector(sel); return l ? l.href : null; };

  // A module whose one function runs f32x4.relaxed_madd: valid where the browser has relaxed
  // SIMD (fused multiply-add; Chrome/Edge 114+).
  const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
    10, 61, 1, 59, 0, ...[0, 1, 2].flatMap(() => [253, 12, ...new Array(16).fill(0)]), 253, 133, 2, 11]);
  // The workers' build: scripts/web-build.sh adds one compiled with relaxed SIMD (its JS and
  // wasm named in <meta name="dream-relaxed-simd">); used where the browser validates the probe,
  // unless the address asks for ?simd=plain. The page's own (plain SIMD) build is the fallback.
  function relaxedBuild() {
    const meta = document.querySelector('meta[name="dream-relaxed-simd"]');
    if (!meta || /[?&]simd=plain\b/.test(location.search)) return null;
    let ok = false;
    try { ok = WebAssembly.validate(RELAXED_PROBE); } catch (e) { ok = false; }
    if (!ok) return null;
    const [js, wasm] = meta.content.trim().split(/\s+/).map((u) => new URL(u, document.baseURI).href);
    return js && wasm ? { js, wasm } : null;
  }
  let simd = 'plain';

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
    const relaxed = relaxedBuild();
    const builds = relaxed ? [relaxed, { js, wasm }] : [{ js, wasm }];
    const started = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(url, { type: 'module' });
      workers.push(w);
      started.push(new Promise((resolve, reject) => {
        w.onmessage = (e) => (e.data.kind === 'ready' ? resolve(e.data.build) : reject(new Error(e.data.message)));
        w.onerror = (e) => reject(new Error(e.message || 'worker failed to start'));
      }));
      w.postMessage({ kind: 'init', builds, manifest, weights, warmTaylor: i === 0 });
    }
    // 'relaxed' when every worker runs the relaxed-SIMD build (a worker whose build failed to
    // load fell back to the page's).
    ready = Promise.all(started).then((used) => {
      simd = relaxed && used.every((b) => b === 0) ? 'relaxed' : 'plain';
      return workers.length;
    }, (err) => { stop(String(err)); throw err; });
    return ready;
  }

  // The run in progress: { id, fail } (one at a time; a new run or cancel() ends it).
  let current = null;
  let runId = 0;
  let lastStats = null;

  // Stops the run in progress at once: workers are handed no more of its windows, the chunks
  // they are computing are dropped when they come back, and its promise rejects with 'cancelled'.
  function cancel() {
    if (current) current.fail('cancelled');
    current = null;
  }

  // Predicts `count` windows of `len` base codes (Uint8Array, row after row), `chunk` windows per
  // message; calls onChunk(windowsDone, start, values) as each chunk comes back (values: the
  // outputs of windows start..start+values.length). Resolves to a Float32Array of the model's
  // output number `output` (0 = the first; e.g. 1 = Hk of a DeepSTARR model). With `onTaylor`,
  // the first worker first computes the Taylor ISM preview of window 0 (worker_taylor) and calls
  // onTaylor(values, null) ([reference, gradient…]) or onTaylor(null, message), then takes
  // exact windows like the others: the page's thread stays free and no core waits.
  // A run started while another is in progress cancels the older one.
  async function run(windows, count, len, chunk, onChunk, output, onTaylor) {
    if (!ready) throw new Error('no worker pool');
    cancel();
    const id = ++runId;
    const me = { id, fail: null };
    current = me;
    await ready;
    if (current !== me) throw new Error('cancelled');
    const pool = workers.slice();
    const out = new Float32Array(count);
    // Where the time went (scripts/bench-web.sh prints it): per worker, ms computing and windows.
    const t0 = performance.now();
    const stats = { wall: 0, taylor: 0, busy: pool.map(() => 0), windows: pool.map(() => 0), chunks: 0 };
    lastStats = stats;
    return new Promise((resolve, reject) => {
      let next = 0; let done = 0; let failed = false;
      const fail = (msg) => { if (!failed) { failed = true; if (current === me) current = null; reject(new Error(msg)); } };
      me.fail = fail;
      pending.push(reject);
      const feed = (w) => {
        if (failed) return;
        if (next >= count) { if (done === count) { if (current === me) current = null; stats.wall = performance.now() - t0; resolve(out); } return; }
        // Guided chunks: smaller as the run ends, so the workers finish together.
        const start = next; const n = Math.min(chunk, Math.max(1, Math.ceil((count - start) / (2 * pool.length)))); next += n;
        w.onmessage = (e) => {
          const m = e.data;
          if (m.id !== id) return; // a chunk of a cancelled run
          if (failed) return;
          if (m.kind !== 'done') { fail(m.message); return; }
          const wi = pool.indexOf(w); stats.busy[wi] += m.ms || 0; stats.windows[wi] += n; stats.chunks += 1;
          out.set(m.values, start); done += n; onChunk(done, start, m.values); feed(w);
        };
        w.onerror = (e) => fail(e.message || 'worker error');
        w.postMessage({ kind: 'run', id, windows: windows.slice(start * len, (start + n) * len), count: n, output: output || 0 });
      };
      if (onTaylor && count > 0) {
        const [first, ...rest] = pool;
        first.onmessage = (e) => {
          const m = e.data;
          if (m.id !== id || failed) return;
          // A failed preview is only reported: the exact scan goes on.
          try {
            stats.taylor = m.ms || 0; stats.busy[0] += m.ms || 0;
            if (m.kind === 'taylor') onTaylor(m.values, null); else onTaylor(null, m.message || 'worker error');
          } finally {
            feed(first);
          }
        };
        first.onerror = (e) => fail(e.message || 'worker error');
        first.postMessage({ kind: 'taylor', id, window: windows.slice(0, len), output: output || 0 });
        rest.forEach(feed);
      } else {
        pool.forEach(feed);
      }
    });
  }

  // Resolves to the number of workers once they have loaded the model (0: no pool).
  const whenReady = () => (ready || Promise.resolve(0)).catch(() => 0);

  return { init, run, cancel, stop, whenReady, size: () => workers.length, simd: () => simd, stats: () => lastStats };
})();

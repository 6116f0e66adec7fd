//! End-to-end tests of the website (`dist/`, built by `scripts/web-build.sh`) in real headless
//! Chromium, driven over WebDriver (chromedriver + fantoccini), against the `dream` CLI on the
//! same bundle.
//!
//! They need `dist/` and Debian's `chromium` + `chromium-driver`, so they are `#[ignore]`d in a
//! plain `cargo test`; `scripts/test.sh` builds the site and runs them with `--ignored`.
//! The site is served under a sub-path (`/sub/dream/`) by a static file server in the test, as
//! any static host would. `web_benchmark` prints the browser timings (`scripts/bench-web.sh`).

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const PREFIX: &str = "/sub/dream/";
/// A native yeast promoter fragment of the DREAM test set (YDL047W.5, test row 115).
const NATIVE: &str = "TGCATTTTTTTCACATCAAAAAAAAAAAGAAAAAGAAAGAAAAAGGGGGAATAACACAGCCGCGGGTAACATGAAGCGGCGCGAGCGATACTTCCGTGGTTACGGCTGTT";
const NATIVE2: &str = "TGCATTTTTTTCACATCAAAAAAAACCAGCCATGGAAAGCTCTTTATTTTTTTACTTTACGGCTTTTTTCCCTTTTCTTATATGATCGATGCACGTAGGTTACGGCTGTT";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn dist() -> PathBuf {
    let d = std::env::var_os("DREAM_WEB_DIST").map(PathBuf::from).unwrap_or_else(|| root().join("dist"));
    assert!(d.join("index.html").is_file(), "{} has no index.html: build the site first (scripts/web-build.sh)", d.display());
    d
}

/// Serves `dir` under [`PREFIX`] on 127.0.0.1; returns the site's URL and a switch that makes
/// the server answer 503 to everything (the site "offline").
fn serve_with_switch(dir: PathBuf) -> (String, Arc<AtomicBool>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("static server");
    let url = format!("http://{}{PREFIX}", server.server_addr().to_ip().unwrap());
    let offline = Arc::new(AtomicBool::new(false));
    let off = offline.clone();
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            if off.load(Ordering::SeqCst) {
                let _ = req.respond(tiny_http::Response::from_data(b"offline".to_vec()).with_status_code(503));
                continue;
            }
            let path = req.url().split(['?', '#']).next().unwrap_or("").to_string();
            let file = path.strip_prefix(PREFIX).map(|p| if p.is_empty() { "index.html".to_string() } else { p.to_string() });
            let file = file.filter(|f| !f.split('/').any(|c| c == "..")).map(|f| dir.join(f)).filter(|f| f.is_file());
            let resp = match file {
                Some(f) => {
                    let mime = match f.extension().and_then(|e| e.to_str()) {
                        Some("html") => "text/html; charset=utf-8",
                        Some("js") => "text/javascript",
                        Some("css") => "text/css",
                        Some("wasm") => "application/wasm",
                        Some("json") => "application/json",
                        Some("md") => "text/markdown; charset=utf-8",
                        _ => "application/octet-stream",
                    };
                    let header = tiny_http::Header::from_bytes("Content-Type", mime).unwrap();
                    tiny_http::Response::from_data(std::fs::read(f).unwrap()).with_header(header)
                }
                None => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
            };
            let _ = req.respond(resp);
        }
    });
    (url, offline)
}

fn serve(dir: PathBuf) -> String {
    serve_with_switch(dir).0
}

struct Browser {
    client: Client,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with `extra` flags.
    async fn start(extra: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver)");
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap().keep();
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1200,1500".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()), "args": args }),
        );
        // chromedriver may accept connections before it serves them: retry the session briefly.
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        let client = loop {
            match builder.connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(c) => break c,
                Err(e) if t0.elapsed() < Duration::from_secs(30) => {
                    eprintln!("WebDriver session not yet: {e}");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => panic!("WebDriver session: {e}"),
            }
        };
        Self { client, driver }
    }

    async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    async fn el(&self, testid: &str) -> fantoccini::elements::Element {
        self.client.find(Locator::Css(&format!("[data-testid=\"{testid}\"]"))).await.unwrap_or_else(|e| panic!("{testid}: {e}"))
    }

    async fn text(&self, testid: &str) -> String {
        self.el(testid).await.text().await.unwrap()
    }

    /// Waits until the text of `testid` satisfies `ok`; panics with the last text after `secs`.
    async fn wait_text(&self, testid: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        let sel = format!("[data-testid=\"{testid}\"]");
        loop {
            let text = match self.client.find(Locator::Css(&sel)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if ok(&text) {
                return text;
            }
            assert!(t0.elapsed() < Duration::from_secs(secs), "{testid}: still {text:?} after {secs} s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        let status = self.wait_text("model-status", 120, |t| t == "ready" || t.starts_with("could not")).await;
        assert_eq!(status, "ready");
    }

    async fn set_sequences(&self, text: &str) {
        let input = self.el("sequence-input").await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Predicts the box and returns the `prediction-value`s.
    async fn predict(&self, n: usize) -> Vec<f64> {
        let before = self.text("predict-runs").await;
        self.el("predict-button").await.click().await.unwrap();
        self.wait_text("predict-runs", 120, |t| t != before).await;
        let values = self.client.find_all(Locator::Css("[data-testid=\"prediction-value\"]")).await.unwrap();
        assert_eq!(values.len(), n);
        let mut out = Vec::new();
        for v in values {
            out.push(v.text().await.unwrap().parse().unwrap());
        }
        out
    }

    async fn fetch_link(&self, testid: &str) -> String {
        let js = format!(
            "const done = arguments[arguments.length - 1]; fetch(document.querySelector('[data-testid=\"{testid}\"]').href).then(r => r.text()).then(done, e => done('ERROR ' + e));"
        );
        self.client.execute_async(&js, vec![]).await.unwrap().as_str().unwrap().to_string()
    }

    /// Waits for the SNV-scan worker pool to load the model; returns `performance.now()` then.
    async fn pool_ready(&self) -> f64 {
        let js = "const done = arguments[arguments.length - 1]; const poll = () => window.dreamPool.size() > 0 ? window.dreamPool.whenReady().then(() => done(performance.now())) : setTimeout(poll, 20); poll();";
        self.client.execute_async(js, vec![]).await.unwrap().as_f64().unwrap()
    }

    async fn number(&self, testid: &str) -> f64 {
        self.text(testid).await.parse().unwrap_or(f64::NAN)
    }
}

fn dream(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dream")).args(args).output().unwrap();
    assert!(out.status.success(), "dream {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `dream predict --model public/models/<model>` of `seqs`.
fn dream_predict(model: &str, seqs: &[&str]) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::File::create(&input).unwrap().write_all(seqs.join("\n").as_bytes()).unwrap();
    let output = dir.path().join("out.tsv");
    let bundle = root().join("public/models").join(model);
    dream(&["predict", "--model", bundle.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    let text = std::fs::read_to_string(output).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = header.iter().position(|h| *h == "prediction").unwrap();
    lines.map(|l| l.split('\t').nth(col).unwrap().parse().unwrap()).collect()
}

fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "{what}[{i}]: {x} vs {y} (tolerance {tol})");
    }
}

/// CPU path: page under a sub-path, prediction = `dream predict`, SNV scan CSV = `dream ism`,
/// invalid input reported without losing the text.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn cpu_path_matches_dream_cli() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    assert!(b.text("backend-indicator").await.contains("cpu"));

    // One native promoter, then two (FASTA): the table has one value per sequence.
    b.set_sequences(NATIVE).await;
    let web = b.predict(1).await;
    let cli = dream_predict("dream-cnn", &[NATIVE, NATIVE2]);
    assert_close("CNN prediction (web CPU vs dream predict)", &web, &cli[..1], 1e-4);
    b.set_sequences(&format!(">a\n{NATIVE}\n>b\n{}\n{}\n", &NATIVE2[..60], &NATIVE2[60..])).await;
    let web2 = b.predict(2).await;
    assert_close("two FASTA records", &web2, &cli, 1e-4);
    let csv = b.fetch_link("predict-csv").await;
    assert!(csv.starts_with("id,length,input_form,prediction,forward,reverse,bin_0"), "{csv}");
    assert!(csv.lines().nth(2).unwrap().starts_with("b,110,challenge,"), "{csv}");

    // SNV scan of the 80 bp random region: 240 variants, CSV = dream ism --region 18-97.
    b.set_sequences(NATIVE).await;
    b.el("ism-button").await.click().await.unwrap();
    let status = b.wait_text("ism-status", 300, |t| t.contains("done") || t.contains("failed")).await;
    assert!(status.starts_with("done: 240 SNVs"), "{status}");
    let cells = b.client.find_all(Locator::Css("[data-testid=\"ism-heatmap\"] rect[data-tip]")).await.unwrap();
    assert_eq!(cells.len(), 240 + 80, "240 variant cells + 80 reference cells");
    let web_csv = b.fetch_link("ism-csv").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ism.tsv");
    let bundle = root().join("public/models/dream-cnn");
    dream(&["ism", "--model", bundle.to_str().unwrap(), "--sequence", NATIVE, "--region", "18-97", "--output", out.to_str().unwrap()]);
    let cli_tsv = std::fs::read_to_string(out).unwrap();
    let (web_rows, cli_rows): (Vec<&str>, Vec<&str>) = (web_csv.lines().collect(), cli_tsv.lines().collect());
    assert_eq!(web_rows.len(), 241, "{web_csv}");
    assert_eq!(web_rows[0], cli_rows[0].replace('\t', ","));
    for (w, c) in web_rows.iter().zip(&cli_rows).skip(1) {
        let (w, c): (Vec<&str>, Vec<&str>) = (w.split(',').collect(), c.split('\t').collect());
        assert_eq!(w[..3], c[..3], "variant");
        for k in 3..5 {
            let (x, y): (f64, f64) = (w[k].parse().unwrap(), c[k].parse().unwrap());
            assert!((x - y).abs() <= 1e-4, "{w:?} vs {c:?}");
        }
    }

    // Invalid input: a clear error that says where, and the text stays as typed.
    let bad = format!("{NATIVE}\n{}X{}", &NATIVE2[..40], &NATIVE2[41..]);
    b.set_sequences(&bad).await;
    b.el("predict-button").await.click().await.unwrap();
    let err = b.wait_text("error-message", 10, |t| !t.is_empty()).await;
    assert!(err.contains("line 2, column 41: invalid character 'X'"), "{err}");
    assert_eq!(b.el("sequence-input").await.prop("value").await.unwrap().unwrap(), bad);
    // Too short: explained.
    b.set_sequences("ACGTACGTACGTACGT").await;
    b.el("predict-button").await.click().await.unwrap();
    let err = b.wait_text("error-message", 10, |t| t.contains("too short")).await;
    assert!(err.contains("16 bp"), "{err}");

    // Two alleles: both predictions and the delta.
    let mut alt = NATIVE.to_string();
    alt.replace_range(49..50, if &NATIVE[49..50] == "A" { "G" } else { "A" });
    b.el("allele-ref").await.send_keys(NATIVE).await.unwrap();
    b.el("allele-alt").await.send_keys(&alt).await.unwrap();
    b.el("allele-button").await.click().await.unwrap();
    let res = b.wait_text("allele-result", 60, |t| !t.is_empty()).await;
    let cli = dream_predict("dream-cnn", &[NATIVE, &alt]);
    assert!(res.contains(&format!("reference {:.3}, alternative {:.3}", cli[0], cli[1])), "{res} vs {cli:?}");
    assert!(res.contains("1 difference(s): 50"), "{res}");
    b.stop().await;
}

/// WebGPU path (SwiftShader adapter with `--enable-unsafe-webgpu`) agrees with the CPU; without an
/// adapter (`--disable-gpu`) the page falls back to the CPU by itself.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn webgpu_matches_cpu_and_falls_back() {
    let site = serve(dist());
    let cli = dream_predict("dream-cnn", &[NATIVE, NATIVE2]);
    let seqs = format!("{NATIVE}\n{NATIVE2}\n");

    let b = Browser::start(&["--enable-unsafe-webgpu"]).await;
    b.open(&site).await;
    assert_eq!(b.text("backend-indicator").await, "webgpu", "note: {}", b.text("backend-note").await);
    b.set_sequences(&seqs).await;
    let gpu = b.predict(2).await;
    assert_eq!(b.text("backend-indicator").await, "webgpu", "note: {}", b.text("backend-note").await);
    assert_close("WebGPU vs CPU (dream predict)", &gpu, &cli, 1e-3);
    b.stop().await;

    let b = Browser::start(&["--disable-gpu"]).await;
    b.open(&site).await;
    assert_eq!(b.text("backend-indicator").await, "cpu");
    assert!(b.text("backend-note").await.contains("No WebGPU adapter"));
    b.set_sequences(&seqs).await;
    assert_close("fallback CPU vs dream predict", &b.predict(2).await, &cli, 1e-4);
    b.stop().await;
}

/// Switching models with `model-select`, and loading a bundle from disk (the file input): both
/// predict as `dream predict` on the same bundle; a corrupted weights file is refused with the
/// loader's message and the loaded model stays.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn model_switch_and_bundle_from_disk() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    let select = b.el("model-select").await;
    select.select_by_value("dream-attn").await.unwrap();
    b.wait_text("model-card", 120, |t| t.contains("DREAM-Attn")).await;
    b.wait_text("model-status", 60, |t| t == "ready").await;
    b.set_sequences(NATIVE).await;
    assert_close("DREAM-Attn (web vs dream predict)", &b.predict(1).await, &dream_predict("dream-attn", &[NATIVE]), 1e-4);

    // A bundle from disk: model.json + weights.safetensors of the shipped DREAM-RNN.
    let rnn = root().join("public/models/dream-rnn");
    let files = format!("{}\n{}", rnn.join("model.json").display(), rnn.join("weights.safetensors").display());
    b.el("bundle-file").await.send_keys(&files).await.unwrap();
    b.wait_text("model-card", 120, |t| t.contains("DREAM-RNN") && t.contains("loaded from your files")).await;
    assert_close("DREAM-RNN from disk", &b.predict(1).await, &dream_predict("dream-rnn", &[NATIVE]), 1e-4);

    // A corrupted copy (one flipped byte): refused, the loaded model stays.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(rnn.join("model.json"), dir.path().join("model.json")).unwrap();
    let mut w = std::fs::read(rnn.join("weights.safetensors")).unwrap();
    let k = w.len() / 2;
    w[k] ^= 0x40;
    std::fs::write(dir.path().join("weights.safetensors"), w).unwrap();
    let files = format!("{}\n{}", dir.path().join("model.json").display(), dir.path().join("weights.safetensors").display());
    b.el("bundle-file").await.clear().await.unwrap();
    b.el("bundle-file").await.send_keys(&files).await.unwrap();
    let status = b.wait_text("bundle-status", 60, |t| t.starts_with("could not")).await;
    assert!(status.contains("corrupt") && status.contains("sha256"), "{status}");
    assert!(b.text("model-card").await.contains("DREAM-RNN"));
    b.stop().await;
}

/// More bad input: each a clear `error-message` (never a dead page), the text kept, and the page
/// still predicts afterwards.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn bad_input_is_explained() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    let long = format!("{NATIVE}{NATIVE}");
    let cases: [(&str, &str); 5] = [
        ("   \n\n", "no sequence"),
        (&long, "220 bp: too long"),
        (">only a header\n", "line 1"),
        ("ACGU ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT ACGT", "invalid character 'U'"),
        (&format!("{NATIVE}\nhéllo"), "line 2, column 1: invalid character 'h'"),
    ];
    for (text, expect) in cases {
        b.set_sequences(text).await;
        b.el("predict-button").await.click().await.unwrap();
        let err = b.wait_text("error-message", 10, |t| t.contains(expect)).await;
        assert!(err.starts_with("Cannot read the sequences"), "{err}");
        assert_eq!(b.el("sequence-input").await.prop("value").await.unwrap().unwrap(), text);
    }
    // Still alive: a valid sequence predicts (and the box's error goes away).
    b.set_sequences(NATIVE).await;
    assert_close("after bad input", &b.predict(1).await, &dream_predict("dream-cnn", &[NATIVE]), 1e-4);
    // Two alleles with a bad character: an error naming the allele.
    b.el("allele-ref").await.send_keys(NATIVE).await.unwrap();
    b.el("allele-alt").await.send_keys("ACGTZ").await.unwrap();
    b.el("allele-button").await.click().await.unwrap();
    let err = b.wait_text("error-message", 10, |t| t.contains("alternative allele")).await;
    assert!(err.contains("invalid character 'Z'"), "{err}");
    // One file that is not a bundle: told what to pick.
    b.el("bundle-file").await.send_keys(root().join("data/dream/test_sequences.tsv").to_str().unwrap()).await.unwrap();
    b.wait_text("bundle-status", 10, |t| t.contains("model.json")).await;
    b.stop().await;
}

/// Offline after the first visit: with the server down, a reload still gets the page, the wasm
/// and the default model from the service worker's cache, and predicts.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn works_offline_after_first_visit() {
    let (site, offline) = serve_with_switch(dist());
    let b = Browser::start(&[]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    let js = "const done = arguments[arguments.length - 1]; navigator.serviceWorker.ready.then(() => caches.open('dream-web-v1')).then(c => c.keys()).then(k => done(k.length), e => done('ERROR ' + e));";
    let t0 = Instant::now();
    loop {
        // Precaching finishes after `ready`; wait for the model weights to be in the cache.
        let js_w = "const done = arguments[arguments.length - 1]; caches.open('dream-web-v1').then(c => c.match('models/dream-cnn/weights.safetensors')).then(r => done(!!r), e => done(false));";
        if b.client.execute_async(js, vec![]).await.unwrap().is_number() && b.client.execute_async(js_w, vec![]).await.unwrap() == json!(true) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "service worker did not cache the site");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    offline.store(true, Ordering::SeqCst);
    b.open(&format!("{site}?backend=cpu")).await;
    b.set_sequences(NATIVE).await;
    let web = b.predict(1).await;
    assert_close("offline prediction", &web, &dream_predict("dream-cnn", &[NATIVE]), 1e-4);
    b.stop().await;
}

/// Browser timings per model on the CPU (WebAssembly) path, and WebGPU with `--webgpu` in
/// `DREAM_BENCH_WEB`: navigation → model ready, one prediction, the SNV scan of a 110 bp
/// promoter (80 bp region: 240 SNVs + reference, forward and reverse complement). Prints a
/// table; writes `DREAM_BENCH_OUT` (JSON) when set. Run by `scripts/bench-web.sh`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; scripts/bench-web.sh runs it"]
async fn web_benchmark() {
    let site = serve(dist());
    let modes: Vec<(&str, Vec<&str>, &str)> = if std::env::var("DREAM_BENCH_WEB").unwrap_or_default().contains("webgpu") {
        vec![("cpu", vec![], "backend=cpu&"), ("webgpu", vec!["--enable-unsafe-webgpu"], "")]
    } else {
        vec![("cpu", vec![], "backend=cpu&")]
    };
    let mut rows = Vec::new();
    println!("| model | backend | model ready (ms from navigation) | scan workers ready (ms) | one prediction (ms) | SNV scan, 240 SNVs (ms) |");
    println!("|---|---|---|---|---|---|");
    for (backend, flags, param) in &modes {
        for model in ["dream-cnn", "dream-rnn", "dream-attn"] {
            let b = Browser::start(flags).await;
            b.open(&format!("{site}?{param}model={model}")).await;
            assert_eq!(b.text("backend-indicator").await, *backend);
            let ready = b.number("ready-ms").await;
            b.set_sequences(NATIVE).await;
            b.predict(1).await;
            let predict = b.number("predict-ms").await;
            let pool_ms = if *backend == "cpu" { b.pool_ready().await } else { f64::NAN };
            b.el("ism-button").await.click().await.unwrap();
            let status = b.wait_text("ism-status", 600, |t| t.contains("done") || t.contains("failed")).await;
            assert!(status.starts_with("done"), "{status}");
            println!("  ({status})");
            let ism = b.number("ism-ms").await;
            println!("| {model} | {backend} | {ready:.0} | {pool_ms:.0} | {predict:.0} | {ism:.0} |");
            rows.push(json!({ "model": model, "backend": backend, "ready_ms": ready, "workers_ready_ms": pool_ms, "predict_ms": predict, "ism_ms": ism, "status": status }));
            b.stop().await;
        }
    }
    if let Some(path) = std::env::var_os("DREAM_BENCH_OUT") {
        std::fs::write(path, serde_json::to_string_pretty(&Value::Array(rows)).unwrap()).unwrap();
    }
}

/// Screenshot of the page with predictions and an SNV heatmap, to `DREAM_SCREENSHOT` (PNG;
/// default `docs/web-screenshot.png`). Run by `scripts/bench-web.sh`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes docs/web-screenshot.png; scripts/bench-web.sh runs it"]
async fn page_screenshot() {
    let site = serve(dist());
    let b = Browser::start(&["--window-size=1200,2000"]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    // The "all four" example button fills the box with the four native promoters.
    let buttons = b.client.find_all(Locator::Css("button.example")).await.unwrap();
    buttons.last().unwrap().click().await.unwrap();
    b.predict(4).await;
    b.el("ism-button").await.click().await.unwrap();
    b.wait_text("ism-status", 300, |t| t.contains("done")).await;
    b.el("model-card").await.click().await.unwrap();
    let cell = b.client.find(Locator::Css("[data-testid=\"ism-heatmap\"] rect[data-tip]")).await.unwrap();
    b.client.execute(
        "arguments[0].dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));",
        vec![serde_json::to_value(&cell).unwrap()],
    )
    .await
    .unwrap();
    let png = b.client.screenshot().await.unwrap();
    let path = std::env::var_os("DREAM_SCREENSHOT").map(PathBuf::from).unwrap_or_else(|| root().join("docs/web-screenshot.png"));
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    b.stop().await;
}

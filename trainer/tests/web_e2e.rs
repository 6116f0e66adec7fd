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
    serve_layers(vec![dir])
}

/// As [`serve_with_switch`], each file taken from the first of `dirs` that has it (a folder
/// with extra bundles and its own `models/index.json` over `dist/`).
fn serve_layers(dirs: Vec<PathBuf>) -> (String, Arc<AtomicBool>) {
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
            let file = file.filter(|f| !f.split('/').any(|c| c == "..")).and_then(|f| dirs.iter().map(|d| d.join(&f)).find(|f| f.is_file()));
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
    /// Chromium's profile (~100 MB each), removed when the browser is dropped: kept ones filled
    /// the disk over many runs, and Chromium on a nearly full disk runs scans ~40 % slower.
    _profile: tempfile::TempDir,
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
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1200,1500".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        // Extra Chromium flags for experiments (e.g. DREAM_CHROMIUM_FLAGS=--js-flags=--no-liftoff).
        if let Ok(flags) = std::env::var("DREAM_CHROMIUM_FLAGS") {
            args.extend(flags.split_whitespace().map(str::to_string));
        }
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
        Self { client, driver, _profile: profile }
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

    /// Waits until the first element matching the CSS selector `sel` has a text satisfying `ok`.
    async fn wait_css(&self, sel: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let text = match self.client.find(Locator::Css(sel)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if ok(&text) {
                return text;
            }
            assert!(t0.elapsed() < Duration::from_secs(secs), "{sel}: still {text:?} after {secs} s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The `error-message` inside the panel `panel` (a data-testid) once it contains `expect`.
    async fn panel_error(&self, panel: &str, expect: &str) -> String {
        self.wait_css(&format!("[data-testid=\"{panel}\"] [data-testid=\"error-message\"]"), 10, |t| t.contains(expect)).await
    }

    /// Types `text` into the field `testid` (cleared first).
    async fn type_into(&self, testid: &str, text: &str) {
        let input = self.el(testid).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Sets a field's value at once and fires its `input` event (for long texts).
    async fn paste_into(&self, testid: &str, text: &str) {
        let js = format!("const e = document.querySelector('[data-testid=\"{testid}\"]'); e.value = arguments[0]; e.dispatchEvent(new Event('input', {{ bubbles: true }}));");
        self.client.execute(&js, vec![json!(text)]).await.unwrap();
    }

    async fn value(&self, testid: &str) -> String {
        self.el(testid).await.prop("value").await.unwrap().unwrap_or_default()
    }

    /// `location.search` of the page.
    async fn search(&self) -> String {
        self.client.execute("return location.search;", vec![]).await.unwrap().as_str().unwrap_or_default().to_string()
    }

    /// Clicks `button` and waits for the run to finish (the status line `status` counts finished
    /// runs in `data-run`); returns the status line.
    async fn run_task(&self, button: &str, status: &str) -> String {
        let before = self.el(status).await.attr("data-run").await.unwrap();
        self.el(button).await.click().await.unwrap();
        let t0 = Instant::now();
        while self.el(status).await.attr("data-run").await.unwrap() == before {
            assert!(t0.elapsed() < Duration::from_secs(300), "{status}: {:?} after 300 s", self.text(status).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.text(status).await
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

/// Runs `dream` with `args` followed by `--model public/models/dream-cnn --output OUT` and
/// returns OUT's text.
fn dream_table(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.tsv");
    let bundle = root().join("public/models/dream-cnn");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--model", bundle.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    dream(&all);
    std::fs::read_to_string(out).unwrap()
}

/// Compares the page's CSV with the CLI's TSV: same header and rows, the first `text` columns
/// equal, the others within `tol`.
fn assert_table_close(what: &str, web_csv: &str, cli_tsv: &str, text: usize, tol: f64) {
    let width = cli_tsv.lines().next().map_or(0, |h| h.split('\t').count());
    assert_columns_close(what, web_csv, cli_tsv, &(text..width).collect::<Vec<_>>(), tol);
}

/// As [`assert_table_close`], with the numeric columns listed (every other column equal).
fn assert_columns_close(what: &str, web_csv: &str, cli_tsv: &str, numeric: &[usize], tol: f64) {
    let (w, c): (Vec<&str>, Vec<&str>) = (web_csv.lines().collect(), cli_tsv.lines().collect());
    assert_eq!(w.len(), c.len(), "{what}: rows\n{web_csv}");
    assert_eq!(w[0], c[0].replace('\t', ","), "{what}: header");
    for (wr, cr) in w.iter().zip(&c).skip(1) {
        let (wf, cf): (Vec<&str>, Vec<&str>) = (wr.split(',').collect(), cr.split('\t').collect());
        assert_eq!(wf.len(), cf.len(), "{what}: {wr} vs {cr}");
        for (k, (a, b)) in wf.iter().zip(&cf).enumerate() {
            if numeric.contains(&k) {
                let (x, y): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                assert!((x - y).abs() <= tol, "{what}: {wr} vs {cr} (tolerance {tol})");
            } else {
                assert_eq!(a, b, "{what}: {wr} vs {cr}");
            }
        }
    }
}

/// Percent-encoding of a query value (everything but A–Z a–z 0–9 - _ . ~).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A transition (A↔G, C↔T) of the base at 1-based `pos` of `seq`: `(ref, alt)`.
fn snv_at(seq: &str, pos: usize) -> (char, char) {
    let r = seq.as_bytes()[pos - 1] as char;
    (r, match r { 'A' => 'G', 'G' => 'A', 'C' => 'T', _ => 'C' })
}

fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "{what}[{i}]: {x} vs {y} (tolerance {tol})");
    }
}

/// `dream ism --region 18-97` of `seq` with the shipped DREAM-CNN by `method`: the delta column.
fn cli_ism_deltas(seq: &str, method: &str) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ism.tsv");
    let bundle = root().join("public/models/dream-cnn");
    dream(&["ism", "--model", bundle.to_str().unwrap(), "--sequence", seq, "--region", "18-97", "--method", method, "--output", out.to_str().unwrap()]);
    std::fs::read_to_string(out).unwrap().lines().skip(1).map(|l| l.split('\t').nth(4).unwrap().parse().unwrap()).collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let (va, vb): (f64, f64) = (a.iter().map(|x| (x - ma).powi(2)).sum(), b.iter().map(|y| (y - mb).powi(2)).sum());
    cov / (va * vb).sqrt()
}

/// SNV scan workflow (CPU path, worker pool): the Taylor ISM preview appears before the exact
/// scan finishes, its cells are replaced as the exact chunks stream in, and its Pearson r with
/// the exact scan equals `dream ism --method taylor` vs `--method exact`; Cancel stops a scan at
/// once and keeps what it has; a new scan cancels the running one; bad input during a scan is
/// reported and the scan goes on.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn snv_scan_preview_streams_and_cancels() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    b.pool_ready().await;

    // Preview first, exact later; the preview's r = the CLI's.
    b.set_sequences(&format!(">first\n{NATIVE}\n")).await;
    b.el("ism-button").await.click().await.unwrap();
    let preview = b.wait_text("ism-preview", 60, |t| t.contains("Approximate preview")).await;
    let status = b.text("ism-status").await;
    assert!(!status.starts_with("done"), "the preview came after the exact scan: {status}");
    let approx = b.text("ism-approximate").await;
    assert!(approx.contains("of 240 cells are approximate"), "{approx}");
    let faded = b.client.find_all(Locator::Css("[data-testid=\"ism-heatmap\"] rect.approx")).await.unwrap().len();
    assert!(faded > 0 && faded <= 240, "{faded} faded cells");
    let status = b.wait_text("ism-status", 300, |t| t.starts_with("done") || t.contains("failed")).await;
    assert!(status.starts_with("done: 240 SNVs"), "{status}");
    let faded = b.client.find_all(Locator::Css("[data-testid=\"ism-heatmap\"] rect.approx")).await.unwrap().len();
    assert_eq!(faded, 0, "every cell exact at the end");
    let (preview_ms, ism_ms) = (b.number("preview-ms").await, b.number("ism-ms").await);
    assert!(preview_ms < ism_ms, "preview {preview_ms} ms, exact {ism_ms} ms");
    println!("Taylor preview after {preview_ms:.0} ms, exact scan {ism_ms:.0} ms ({preview})");
    let done = b.text("ism-preview").await;
    let r_web: f64 = done.rsplit(": ").next().unwrap().trim_end_matches('.').parse().unwrap_or_else(|_| panic!("{done}"));
    let r_cli = pearson(&cli_ism_deltas(NATIVE, "exact"), &cli_ism_deltas(NATIVE, "taylor"));
    assert!((r_web - r_cli).abs() <= 2e-3, "Taylor r: web {r_web}, dream ism {r_cli}");
    assert!(r_cli >= 0.5, "Taylor ISM r {r_cli} with the exact scan");

    // Cancel: at once, and it stays cancelled (late chunks are dropped).
    b.el("ism-button").await.click().await.unwrap();
    b.wait_text("ism-status", 60, |t| t.starts_with("exact scan:") && !t.starts_with("exact scan: 0 ")).await;
    b.el("ism-cancel").await.click().await.unwrap();
    let cancelled = b.wait_text("ism-status", 2, |t| t.starts_with("cancelled")).await;
    assert!(cancelled.contains("of 240 SNVs scanned exactly"), "{cancelled}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(b.text("ism-status").await, cancelled, "a cancelled scan stays cancelled");
    let cells = b.client.find_all(Locator::Css("[data-testid=\"ism-heatmap\"] rect[data-tip]")).await.unwrap();
    assert_eq!(cells.len(), 240 + 80, "the partial heatmap stays");
    assert!(!b.el("ism-button").await.prop("disabled").await.unwrap().is_some_and(|d| d == "true"));

    // A new scan cancels the running one; bad input during a scan leaves it running.
    b.el("ism-button").await.click().await.unwrap();
    b.wait_text("ism-preview", 60, |t| t.contains("Approximate preview")).await;
    b.set_sequences(&format!(">second\n{NATIVE2}\n")).await;
    b.el("ism-button").await.click().await.unwrap();
    b.wait_text("ism-preview", 60, |t| t.contains("Approximate preview")).await;
    b.set_sequences("ACGTXACGT").await;
    b.el("ism-button").await.click().await.unwrap();
    let err = b.wait_text("error-message", 10, |t| !t.is_empty()).await;
    assert!(err.contains("invalid character 'X'"), "{err}");
    let status = b.wait_text("ism-status", 300, |t| t.starts_with("done") || t.contains("failed")).await;
    assert!(status.starts_with("done: 240 SNVs"), "{status}");
    let summary = b.text("ism-summary").await;
    assert!(summary.starts_with("second:"), "{summary}");
    let web_csv = b.fetch_link("ism-csv").await;
    let web: Vec<f64> = web_csv.lines().skip(1).map(|l| l.split(',').nth(4).unwrap().parse().unwrap()).collect();
    assert_close("second scan (web vs dream ism)", &web, &cli_ism_deltas(NATIVE2, "exact"), 1e-4);
    // The page still predicts.
    b.set_sequences(NATIVE).await;
    let p = b.predict(1).await;
    assert_close("prediction after the scans", &p, &dream_predict("dream-cnn", &[NATIVE]), 1e-4);
    b.stop().await;
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
    // Chromium has relaxed SIMD: the workers run the relaxed-SIMD build (scripts/web-build.sh).
    assert!(status.ends_with("Web Worker(s), relaxed SIMD"), "{status}");
    let cells = b.client.find_all(Locator::Css("[data-testid=\"ism-heatmap\"] rect[data-tip]")).await.unwrap();
    assert_eq!(cells.len(), 240 + 80, "240 variant cells + 80 reference cells");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ism.tsv");
    let bundle = root().join("public/models/dream-cnn");
    dream(&["ism", "--model", bundle.to_str().unwrap(), "--sequence", NATIVE, "--region", "18-97", "--output", out.to_str().unwrap()]);
    let cli_tsv = std::fs::read_to_string(out).unwrap();
    let same_as_cli = |web_csv: String| {
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
    };
    same_as_cli(b.fetch_link("ism-csv").await);

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

    // The plain-SIMD fallback (browsers without relaxed SIMD; forced by ?simd=plain) scans the same.
    b.open(&format!("{site}?backend=cpu&simd=plain")).await;
    b.pool_ready().await;
    b.set_sequences(NATIVE).await;
    b.el("ism-button").await.click().await.unwrap();
    let status = b.wait_text("ism-status", 300, |t| t.contains("done") || t.contains("failed")).await;
    assert!(status.starts_with("done: 240 SNVs") && status.ends_with("Web Worker(s), plain SIMD"), "{status}");
    same_as_cli(b.fetch_link("ism-csv").await);
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

/// Variant table panel on the CPU path: the CSV equals `dream variants` on the same table (SNVs,
/// a deletion, an insertion); the table sorts by a header click; the example button fills a
/// table that scores.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn variants_panel_matches_dream_variants() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    let mut rows: Vec<[String; 5]> = Vec::new();
    for (id, seq, pos) in [("n1_50", NATIVE, 50), ("n1_30", NATIVE, 30), ("n2_60", NATIVE2, 60)] {
        let (r, a) = snv_at(seq, pos);
        rows.push([id.into(), seq.into(), pos.to_string(), r.to_string(), a.to_string()]);
    }
    rows.push(["n2_del40".into(), NATIVE2.into(), "40".into(), NATIVE2[39..41].into(), "-".into()]);
    rows.push(["n1_ins70".into(), NATIVE.into(), "70".into(), NATIVE[69..70].into(), format!("{}GG", &NATIVE[69..70])]);
    let table = |sep: &str| {
        let mut t = ["id", "sequence", "position", "ref", "alt"].join(sep) + "\n";
        for r in &rows {
            t += &(r.join(sep) + "\n");
        }
        t
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("V.tsv");
    std::fs::write(&input, table("\t")).unwrap();
    let cli = dream_table(&["variants", "--input", input.to_str().unwrap()]);

    b.type_into("variants-input", &table(",")).await;
    let status = b.run_task("variants-button", "variants-status").await;
    assert!(status.starts_with("done: 5 variants (7 distinct sequences)"), "{status}");
    let web = b.fetch_link("variants-csv").await;
    assert_table_close("variants CSV (web CPU vs dream variants)", &web, &cli, 1, 1e-4);

    // The table: largest |delta| first, then by id after a click on its header.
    let deltas = b.client.find_all(Locator::Css("[data-testid=\"variants-table\"] tbody tr td:nth-child(4)")).await.unwrap();
    assert_eq!(deltas.len(), 5);
    let mut abs = Vec::new();
    for d in deltas {
        abs.push(d.text().await.unwrap().parse::<f64>().unwrap().abs());
    }
    assert!(abs.windows(2).all(|w| w[0] >= w[1]), "sorted by |delta|: {abs:?}");
    b.el("variants-sort-id").await.click().await.unwrap();
    let first = b.wait_css("[data-testid=\"variants-table\"] tbody tr td", 10, |t| t == "n1_30").await;
    assert_eq!(first, "n1_30");

    // The example table (tab-separated, 6 variants of the example promoters) scores too.
    b.el("variants-example").await.click().await.unwrap();
    assert!(b.value("variants-input").await.starts_with("id\tsequence\tposition\tref\talt\n"));
    let status = b.run_task("variants-button", "variants-status").await;
    assert!(status.starts_with("done: 6 variants"), "{status}");
    assert!(b.search().await.contains("task=variants"), "{}", b.search().await);
    b.stop().await;
}

/// Motif tiling panel on the CPU path: Skn7 over one promoter = `dream tile --motif Skn7`; over
/// two, a mean ± sd band and a CSV with a background column whose rows equal `dream tile` of
/// each; the address records the task.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn tiling_panel_matches_dream_tile() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    b.set_sequences(NATIVE).await;
    b.el("tile-known").await.select_by_value("Skn7").await.unwrap();
    assert_eq!(b.value("tile-motif").await, "Skn7");
    let status = b.run_task("tile-button", "tile-status").await;
    assert!(status.starts_with("done: motif Skn7 (GTCTGGCCC) at 144 placements") && status.contains("145 sequences"), "{status}");
    let lines = b.client.find_all(Locator::Css("[data-testid=\"tile-plot\"] polyline")).await.unwrap();
    assert_eq!(lines.len(), 2, "one line per orientation");
    let cli = dream_table(&["tile", "--sequence", NATIVE, "--motif", "Skn7"]);
    let web = b.fetch_link("tile-csv").await;
    assert_table_close("tiling CSV (web CPU vs dream tile)", &web, &cli, 2, 1e-4);
    let search = b.search().await;
    assert!(search.contains("task=tile") && search.contains("motif=Skn7") && search.contains("seq=TGCATT"), "{search}");

    // Two backgrounds: the band, and a background column.
    b.set_sequences(&format!("{NATIVE}\n{NATIVE2}\n")).await;
    let status = b.run_task("tile-button", "tile-status").await;
    assert!(status.contains("× 2 background(s), 290 sequences"), "{status}");
    let bands = b.client.find_all(Locator::Css("[data-testid=\"tile-plot\"] polygon")).await.unwrap();
    assert_eq!(bands.len(), 2, "a mean ± sd band per orientation");
    let web = b.fetch_link("tile-csv").await;
    assert!(web.starts_with("background,position,orientation,expression,delta\n"), "{web}");
    let cli2 = dream_table(&["tile", "--sequence", NATIVE2, "--motif", "Skn7"]);
    for (id, cli) in [("seq1", &cli), ("seq2", &cli2)] {
        let rows: String = web.lines().filter_map(|l| l.strip_prefix(&format!("{id},"))).map(|l| format!("{l}\n")).collect();
        let header = cli.lines().next().unwrap().replace('\t', ",");
        assert_table_close(&format!("tiling of {id}"), &format!("{header}\n{rows}"), cli, 2, 1e-4);
    }
    b.stop().await;
}

/// WebGPU path (SwiftShader adapter) of the variant table and motif tiling panels: the chunked
/// WebGPU predictions agree with `dream variants` / `dream tile` (CPU) to 1e-3, as predictions do.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn webgpu_variants_and_tiling_match_cli() {
    let site = serve(dist());
    let b = Browser::start(&["--enable-unsafe-webgpu"]).await;
    b.open(&site).await;
    assert_eq!(b.text("backend-indicator").await, "webgpu", "note: {}", b.text("backend-note").await);
    let (r, a) = snv_at(NATIVE, 50);
    let table = format!("id,sequence,position,ref,alt\nv1,{NATIVE},50,{r},{a}\nv2,{NATIVE2},30,{},-\n", &NATIVE2[29..30]);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("V.csv");
    std::fs::write(&input, &table).unwrap();
    b.type_into("variants-input", &table).await;
    let status = b.run_task("variants-button", "variants-status").await;
    assert!(status.starts_with("done: 2 variants"), "{status}");
    let cli = dream_table(&["variants", "--input", input.to_str().unwrap()]);
    assert_table_close("variants on WebGPU vs dream variants", &b.fetch_link("variants-csv").await, &cli, 1, 1e-3);

    // A 16 bp region (20 placements: SwiftShader is slow) through the region field.
    b.set_sequences(NATIVE).await;
    b.type_into("tile-motif", "Ume6").await;
    b.type_into("tile-region", "18-33").await;
    let status = b.run_task("tile-button", "tile-status").await;
    assert!(status.starts_with("done: motif Ume6 (AGCCGCC) at 20 placements") && status.ends_with("on WebGPU"), "{status}");
    let cli = dream_table(&["tile", "--sequence", NATIVE, "--motif", "Ume6", "--region", "18-33"]);
    assert_table_close("tiling on WebGPU vs dream tile", &b.fetch_link("tile-csv").await, &cli, 2, 1e-3);
    assert_eq!(b.text("backend-indicator").await, "webgpu", "note: {}", b.text("backend-note").await);
    b.stop().await;
}

/// Bad input in the variant table and motif tiling panels: a clear message naming the row or
/// field, the text kept, and the page still predicts afterwards.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn variants_and_tiling_bad_input_is_explained() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    b.set_sequences(NATIVE).await;

    // A motif with a letter that is not a base; a region outside the sequence.
    b.type_into("tile-motif", "ACGX").await;
    b.el("tile-button").await.click().await.unwrap();
    let err = b.panel_error("tile-panel", "motif").await;
    assert!(err.contains("motif \"ACGX\": character 'X' at position 4 is not A, C, G or T"), "{err}");
    assert_eq!(b.value("tile-motif").await, "ACGX");
    b.type_into("tile-motif", "Skn7").await;
    b.type_into("tile-region", "100-200").await;
    b.el("tile-button").await.click().await.unwrap();
    let err = b.panel_error("tile-panel", "region").await;
    assert!(err.contains("background 'seq1' (line 1): region 100-200 is not within the background sequence (1-110 bp)"), "{err}");
    assert_eq!(b.value("tile-region").await, "100-200");

    // Variant tables: a ref that does not match, a position outside the sequence, no rows, empty.
    let (r, _) = snv_at(NATIVE, 50);
    let wrong = if r == 'A' { 'C' } else { 'A' };
    let header = "id,sequence,position,ref,alt\n";
    let good = format!("ok,{NATIVE},50,{r},T\n");
    let cases = [
        (format!("{header}{good}bad_ref,{NATIVE},50,{wrong},G\n"), format!("line 3, column {}: ref {wrong} does not match the sequence, which has {r} at position 50", NATIVE.len() + 13)),
        (format!("{header}{good}far,{NATIVE},500,A,G\n"), format!("line 3, column {}: position 500 (ref A) is outside the 110 bp sequence", NATIVE.len() + 6)),
        (header.to_string(), "the variant table has a header but no rows".to_string()),
        ("  \n".to_string(), "no variants: paste a table with the header".to_string()),
    ];
    for (text, expect) in &cases {
        b.type_into("variants-input", text).await;
        b.el("variants-button").await.click().await.unwrap();
        let err = b.panel_error("variants-panel", expect).await;
        assert!(err.starts_with("Cannot read the variant table"), "{err}");
        assert_eq!(&b.value("variants-input").await, text);
    }

    // Still alive: a prediction runs, and the tiling error's text stays as typed.
    assert_close("after bad panel input", &b.predict(1).await, &dream_predict("dream-cnn", &[NATIVE]), 1e-4);
    assert_eq!(b.value("sequence-input").await, NATIVE);
    b.stop().await;
}

/// The address reproduces a view: `?backend=cpu&task=predict&seq=<FASTA>` fills the box and
/// predicts as `dream predict`; running a task writes the address back; sequences over ~8 kB stay
/// out of it, with a note.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn url_reproduces_the_view() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    let fasta = format!(">YDL047W.5 native\n{NATIVE}\n");
    b.open(&format!("{site}?backend=cpu&task=predict&seq={}", percent_encode(&fasta))).await;
    b.wait_text("predict-runs", 120, |t| t == "1").await;
    assert_eq!(b.value("sequence-input").await, fasta);
    let values = b.client.find_all(Locator::Css("[data-testid=\"prediction-value\"]")).await.unwrap();
    assert_eq!(values.len(), 1);
    let web: f64 = values[0].text().await.unwrap().parse().unwrap();
    assert_close("URL prediction vs dream predict", &[web], &dream_predict("dream-cnn", &[NATIVE]), 1e-4);
    let search = b.search().await;
    assert!(search.starts_with("?backend=cpu&model=dream-cnn&task=predict&seq=%3EYDL047W.5%20native%0ATGCATT"), "{search}");
    assert!(b.text("url-note").await.is_empty());

    // Over 8 kB of sequences: predicted, but the link leaves them out and says so.
    let many: String = (1..=70).map(|i| format!(">s{i}\n{NATIVE}\n")).collect();
    b.paste_into("sequence-input", &many).await;
    b.predict(70).await;
    let search = b.search().await;
    assert!(search.contains("task=predict") && !search.contains("seq="), "{search}");
    assert!(b.text("url-note").await.contains("not the sequences"), "{}", b.text("url-note").await);

    // A tiling link.
    b.open(&format!("{site}?backend=cpu&model=dream-cnn&task=tile&motif=Mga1&seq={NATIVE}")).await;
    let status = b.wait_text("tile-status", 300, |t| t.starts_with("done") || t.starts_with("failed")).await;
    assert!(status.starts_with("done: motif Mga1 (TTCT) at 154 placements"), "{status}");
    assert_eq!(b.value("tile-motif").await, "Mga1");
    b.stop().await;
}

/// Browser timings per model on the CPU (WebAssembly) path, with the workers' relaxed-SIMD build
/// and with the plain one (`?simd=plain`), and WebGPU with `webgpu` in `DREAM_BENCH_WEB`; medians
/// of `DREAM_BENCH_REPS` (3) page loads: navigation → model ready, one prediction, the SNV scan of a 110 bp
/// promoter (80 bp region: 240 SNVs + reference, forward and reverse complement). Prints a
/// table; writes `DREAM_BENCH_OUT` (JSON) when set. Run by `scripts/bench-web.sh`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; scripts/bench-web.sh runs it"]
async fn web_benchmark() {
    /// One core's WebAssembly SIMD128 limit as issue 14 states it: 2 four-lane multiplies and 2
    /// four-lane adds per cycle at ~3 GHz.
    const SIMD128_LIMIT_GFLOPS: f64 = 48.0;
    let site = serve(dist());
    let modes: Vec<(&str, Vec<&str>, &str)> = if std::env::var("DREAM_BENCH_WEB").unwrap_or_default().contains("webgpu") {
        vec![("cpu", vec![], "backend=cpu&"), ("cpu", vec![], "backend=cpu&simd=plain&"), ("webgpu", vec!["--enable-unsafe-webgpu"], "")]
    } else {
        vec![("cpu", vec![], "backend=cpu&"), ("cpu", vec![], "backend=cpu&simd=plain&")]
    };
    let mut rows = Vec::new();
    println!("| model | backend | model ready (ms from navigation) | scan workers ready (ms) | one prediction (ms) | Taylor preview (ms) | SNV scan, 240 SNVs (ms) | GFLOP/s per worker | of the SIMD128 limit |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (backend, flags, param) in &modes {
        // DREAM_BENCH_MODELS=dream-cnn,… limits the run (default: the three DREAM models).
        let only = std::env::var("DREAM_BENCH_MODELS").unwrap_or_default();
        for model in ["dream-cnn", "dream-rnn", "dream-attn"] {
            if !only.is_empty() && !only.split(',').any(|m| m.trim() == model) {
                continue;
            }
            // DREAM_BENCH_REPS page loads (default 3), each with one scan; the medians are
            // reported (this VM's run-to-run spread is ~20 %).
            let reps: usize = std::env::var("DREAM_BENCH_REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(3).max(1);
            let mut runs: Vec<[f64; 5]> = Vec::new();
            let mut status = String::new();
            for _ in 0..reps {
                let b = Browser::start(flags).await;
                b.open(&format!("{site}?{param}model={model}")).await;
                assert_eq!(b.text("backend-indicator").await, *backend);
                let ready = b.number("ready-ms").await;
                b.set_sequences(NATIVE).await;
                b.predict(1).await;
                let predict = b.number("predict-ms").await;
                let pool_ms = if *backend == "cpu" { b.pool_ready().await } else { f64::NAN };
                b.el("ism-button").await.click().await.unwrap();
                status = b.wait_text("ism-status", 600, |t| t.contains("done") || t.contains("failed")).await;
                assert!(status.starts_with("done"), "{status}");
                println!("  ({status})");
                if *backend == "cpu" {
                    // Where the scan's time went: per worker, ms computing (Taylor preview included
                    // on the first) and windows; wall from the pool's first chunk to its last.
                    let js = "return JSON.stringify(window.dreamPool.stats())";
                    println!("  pool: {}", b.client.execute(js, vec![]).await.unwrap());
                }
                runs.push([ready, pool_ms, predict, b.number("preview-ms").await, b.number("ism-ms").await]);
                b.stop().await;
            }
            let median = |k: usize| {
                let mut v: Vec<f64> = runs.iter().map(|r| r[k]).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (ready, pool_ms, predict, preview, ism) = (median(0), median(1), median(2), median(3), median(4));
            // The workers' kernels, from the status line ("…, relaxed SIMD" / "…, plain SIMD").
            let simd = status.rsplit(", ").next().filter(|s| s.ends_with(" SIMD")).map(|s| s.trim_end_matches(" SIMD").to_string());
            // Work done: 482 model rows (240 SNVs + reference, both strands) of the model's
            // multiply-adds; per worker on the CPU path (the status names the worker count).
            let macs = prixfixe::bundle::Bundle::read(&root().join("public/models").join(model)).unwrap().manifest.architecture.macs_per_row();
            let workers: f64 = status.split(" on ").nth(1).and_then(|w| w.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(1.0);
            let gflops = 482.0 * 2.0 * macs as f64 / (ism / 1000.0) / 1e9 / workers;
            let fraction = gflops / SIMD128_LIMIT_GFLOPS;
            let simd = simd.unwrap_or_default();
            let label = if simd.is_empty() { backend.to_string() } else { format!("{backend} ({simd} SIMD)") };
            println!("| {model} | {label} | {ready:.0} | {pool_ms:.0} | {predict:.0} | {preview:.0} | {ism:.0} | {gflops:.1} | {:.0} % |", 100.0 * fraction);
            let scans: Vec<f64> = runs.iter().map(|r| r[4]).collect();
            rows.push(json!({ "model": model, "backend": backend, "simd": simd, "runs": reps, "ready_ms": ready, "workers_ready_ms": pool_ms, "predict_ms": predict, "taylor_preview_ms": preview, "ism_ms": ism, "ism_ms_each": scans, "macs_per_row": macs, "workers": workers, "gflops_per_worker": gflops, "fraction_of_simd128_limit": fraction, "status": status }));
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

/// Design panel (CPU path): the greedy trajectory and its CSV equal `dream design` on the same
/// bundle (1e-4); the attribution logo and its CSV equal `dream ism --attribution`; bad settings
/// are explained with the field named and the text kept; Cancel stops a running design and the
/// page still predicts afterwards.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn design_and_attribution_match_dream_cli() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    b.pool_ready().await;
    let bundle = root().join("public/models/dream-cnn");
    let model = bundle.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Greedy design, k = 2, protected 18-19: CSV = dream design.
    b.set_sequences(NATIVE).await;
    b.paste_into("design-k", "2").await;
    b.paste_into("design-protect", "18-19").await;
    b.el("design-button").await.click().await.unwrap();
    let status = b.wait_text("design-status", 300, |t| t.starts_with("done") || t.starts_with("failed")).await;
    assert!(status.starts_with("done: expression"), "{status}");
    let web = b.fetch_link("design-csv").await;
    let out = dir.path().join("design.tsv");
    dream(&["design", "--model", model, "--sequence", NATIVE, "--goal", "max", "--max-edits", "2", "--seed", "0", "--protect", "18-19", "--output", out.to_str().unwrap()]);
    let cli = std::fs::read_to_string(&out).unwrap();
    // step, sequence and changes equal; expression within 1e-4.
    assert_columns_close("design CSV (web CPU vs dream design)", &web, &cli, &[2], 1e-4);
    let steps = cli.lines().count() - 1;
    let points = b.client.find_all(Locator::Css("[data-testid=\"design-plot\"] circle")).await.unwrap();
    assert_eq!(points.len(), steps);
    let marks = b.client.find_all(Locator::Css("[data-testid=\"design-sequence\"] mark")).await.unwrap();
    assert_eq!(marks.len(), 2, "the two substituted bases are marked");

    // Bad settings: the field named, the sequence box untouched.
    for (field, value, want) in [
        ("design-k", "81", "81 edits asked, but the editable region 18-97 has only 78 editable position(s) (2 protected)"),
        ("design-k", "two", "substitutions (k): \"two\" is not a whole number"),
        ("design-protect", "0-3", "protected positions: \"0-3\" is not a 1-based position"),
        ("design-protect", "1-4000000000", "protected positions: \"1-4000000000\" reaches past the sequence (1-110 bp)"),
        ("design-region", "90-200", "editable region 90-200 is not within the sequence (1-110 bp)"),
    ] {
        b.paste_into("design-k", "2").await;
        b.paste_into("design-protect", "18-19").await;
        b.paste_into("design-region", "").await;
        b.paste_into(field, value).await;
        b.el("design-button").await.click().await.unwrap();
        let err = b.wait_text("design-panel", 10, |t| t.contains(want)).await;
        assert!(err.contains("Cannot design"), "{field}={value}: {err}");
        // The previous design is not left on show under the error.
        assert!(b.client.find(Locator::Css("[data-testid=\"design-csv\"]")).await.is_err(), "{field}={value}: old CSV still shown");
        assert_eq!(b.el("sequence-input").await.prop("value").await.unwrap().unwrap(), NATIVE);
    }

    // Cancel: a long design stops after the round in flight; the page still predicts.
    b.paste_into("design-region", "").await;
    b.paste_into("design-protect", "").await;
    b.paste_into("design-k", "20").await;
    b.el("design-button").await.click().await.unwrap();
    b.wait_text("design-status", 120, |t| t.contains("round 2,")).await;
    b.el("design-cancel").await.click().await.unwrap();
    let status = b.wait_text("design-status", 120, |t| !t.starts_with("designing")).await;
    assert!(status.starts_with("cancelled after"), "{status}");
    // Stopped after the round in flight (round 2 or 3), not after all 20.
    let kept = b.fetch_link("design-csv").await.lines().count() - 2;
    assert!((1..=3).contains(&kept), "{kept} steps kept after Cancel: {status}");
    let web = b.predict(1).await;
    assert_close("prediction after a cancelled design", &web, &dream_predict("dream-cnn", &[NATIVE]), 1e-4);

    // Attribution under the heatmap = dream ism --attribution (and one letter per position).
    b.el("ism-button").await.click().await.unwrap();
    let status = b.wait_text("ism-status", 300, |t| t.contains("done") || t.contains("failed")).await;
    assert!(status.starts_with("done: 240 SNVs"), "{status}");
    let letters = b.client.find_all(Locator::Css("[data-testid=\"ism-logo\"] text[data-tip]")).await.unwrap();
    let web = b.fetch_link("ism-attribution-csv").await;
    let (ism, att) = (dir.path().join("ism.tsv"), dir.path().join("att.tsv"));
    dream(&["ism", "--model", model, "--sequence", NATIVE, "--region", "18-97", "--output", ism.to_str().unwrap(), "--attribution", att.to_str().unwrap()]);
    let cli = std::fs::read_to_string(&att).unwrap();
    assert_eq!(web.lines().count(), 81, "{web}");
    assert_table_close("attribution CSV (web CPU vs dream ism --attribution)", &web, &cli, 2, 1e-4);
    assert!(letters.len() >= 70 && letters.len() <= 80, "{} letters", letters.len());
    let svg = b.fetch_link("ism-logo-svg").await;
    assert!(svg.starts_with("<svg") && svg.contains("ISM attribution"), "{svg}");
    b.stop().await;
}

/// Screenshots of the interpretation panels (SNV scan with its attribution logo, variant table,
/// motif tiling, design) to `docs/panel-*.png`, for the README. Run by `scripts/bench-web.sh`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes docs/panel-*.png; scripts/bench-web.sh runs it"]
async fn panel_screenshots() {
    let site = serve(dist());
    let b = Browser::start(&["--window-size=1300,1800"]).await;
    b.open(&format!("{site}?backend=cpu")).await;
    b.pool_ready().await;
    let shot = |name: &'static str, testid: &'static str| {
        let b = &b;
        async move {
            let el = b.el(testid).await;
            b.client.execute("arguments[0].scrollIntoView();", vec![serde_json::to_value(&el).unwrap()]).await.unwrap();
            let png = el.screenshot().await.unwrap();
            let path = root().join(format!("docs/panel-{name}.png"));
            std::fs::write(&path, png).unwrap();
            println!("screenshot: {}", path.display());
        }
    };
    b.set_sequences(NATIVE).await;
    b.el("ism-button").await.click().await.unwrap();
    b.wait_text("ism-status", 300, |t| t.contains("done")).await;
    shot("snv-scan", "scan-panel").await;
    b.el("variants-example").await.click().await.unwrap();
    b.el("variants-button").await.click().await.unwrap();
    b.wait_text("variants-status", 120, |t| t.contains("done")).await;
    shot("variants", "variants-panel").await;
    let buttons = b.client.find_all(Locator::Css("button.example")).await.unwrap();
    buttons.last().unwrap().click().await.unwrap();
    let motif = b.el("tile-motif").await;
    motif.clear().await.unwrap();
    motif.send_keys("Skn7").await.unwrap();
    b.el("tile-button").await.click().await.unwrap();
    b.wait_text("tile-status", 300, |t| t.contains("done")).await;
    shot("tiling", "tile-panel").await;
    b.set_sequences(NATIVE).await;
    b.el("design-button").await.click().await.unwrap();
    b.wait_text("design-status", 300, |t| t.starts_with("done")).await;
    shot("design", "design-panel").await;
    b.stop().await;
}

/// `dream predict --model public/models/<model>` of FASTA records `(id, sequence)`: every
/// output column (after the id) per sequence, and the header's output names.
fn dream_outputs(model: &str, records: &[(&str, &str)]) -> (Vec<String>, Vec<Vec<f64>>) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    let fasta: String = records.iter().map(|(id, s)| format!(">{id}\n{s}\n")).collect();
    std::fs::write(&input, fasta).unwrap();
    let output = dir.path().join("out.tsv");
    let bundle = root().join("public/models").join(model);
    dream(&["predict", "--model", bundle.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    let text = std::fs::read_to_string(output).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split('\t').skip(1).map(str::to_string).collect();
    let rows = lines.map(|l| l.split('\t').skip(1).map(|v| v.parse().unwrap()).collect()).collect();
    (header, rows)
}

/// Example records of a dataset: the page's example buttons' sequences, read from the same
/// sample files (`data/drosophila`, `data/human`), first `n` forward rows.
fn sample_records(file: &str, id_col: &str, seq_col: &str, forward: &str, n: usize) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let (i, s) = (header.iter().position(|h| *h == id_col).unwrap(), header.iter().position(|h| *h == seq_col).unwrap());
    lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[i].contains(forward))
        .take(n)
        .map(|f| (f[i].to_string(), f[s].to_string()))
        .collect()
}

/// The shipped Drosophila (DeepSTARR, 249 bp, Dev + Hk) and human (lentiMPRA, 230 bp) bundles in
/// the page: the length rule is the bundle's, one column per output equal to `dream predict` to
/// 1e-4, a sequence of the wrong length refused with the rule (text kept), and the SNV scan of
/// the chosen output (Hk) equal to `dream ism --task Hk`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn assay_bundles_match_dream_cli() {
    let site = serve(dist());
    let b = Browser::start(&[]).await;
    let fly = sample_records("data/drosophila/sample_test.tsv", "ID", "Sequence", "_+_", 3);
    let human = sample_records("data/human/sample_test.tsv", "seq_id", "seq", "_F", 3);

    b.open(&format!("{site}?backend=cpu&model=deepstarr-dream-cnn")).await;
    assert!(b.text("length-rule").await.contains("exactly 249 bp"));
    assert!(b.text("model-card").await.contains("deepstarr"), "{}", b.text("model-card").await);
    let fasta: String = fly.iter().map(|(id, s)| format!(">{id}\n{s}\n")).collect();
    b.paste_into("sequence-input", &fasta).await;
    let web = b.predict(2 * fly.len()).await;
    let recs: Vec<(&str, &str)> = fly.iter().map(|(i, s)| (i.as_str(), s.as_str())).collect();
    let (names, cli) = dream_outputs("deepstarr-dream-cnn", &recs);
    assert_eq!(names, ["Dev", "Hk"]);
    assert_close("DeepSTARR Dev and Hk (web vs dream predict)", &web, &cli.concat(), 1e-4);
    let heads = b.client.find(Locator::Css("[data-testid=\"outputs-table\"] thead")).await.unwrap().text().await.unwrap();
    assert!(heads.contains("Dev") && heads.contains("Hk") && !heads.contains("bins"), "{heads}");
    let csv = b.fetch_link("predict-csv").await;
    assert!(csv.starts_with("id,length,Dev,Hk\n"), "{csv}");

    // A 230 bp sequence: the bundle's rule stated, the text kept.
    let wrong = format!("{}\n{}\n", fly[0].1, human[0].1);
    b.paste_into("sequence-input", &wrong).await;
    b.el("predict-button").await.click().await.unwrap();
    let err = b.wait_text("error-message", 10, |t| !t.is_empty()).await;
    assert!(err.contains("line 2: sequence 'seq2' is 230 bp: this model reads sequences of exactly 249 bp"), "{err}");
    assert_eq!(b.value("sequence-input").await, wrong);

    // SNV scan of the Hk output over the whole 249 bp: 747 SNVs, CSV = dream ism --task Hk.
    b.paste_into("sequence-input", &fly[0].1).await;
    b.el("output-select").await.select_by_value("1").await.unwrap();
    b.el("ism-button").await.click().await.unwrap();
    let status = b.wait_text("ism-status", 600, |t| t.contains("done") || t.contains("failed")).await;
    assert!(status.starts_with("done: 747 SNVs"), "{status}");
    assert!(b.text("ism-summary").await.contains("change of Hk"));
    let web_csv = b.fetch_link("ism-csv").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ism.tsv");
    let bundle = root().join("public/models/deepstarr-dream-cnn");
    dream(&["ism", "--model", bundle.to_str().unwrap(), "--task", "Hk", "--sequence", &fly[0].1, "--output", out.to_str().unwrap()]);
    assert_table_close("SNV scan of Hk (web vs dream ism --task Hk)", &web_csv, &std::fs::read_to_string(out).unwrap(), 3, 1e-4);

    // The human bundle: 230 bp, one activity column.
    b.open(&format!("{site}?backend=cpu&model=lentimpra-dream-cnn")).await;
    assert!(b.text("length-rule").await.contains("exactly 230 bp"));
    let fasta: String = human.iter().map(|(id, s)| format!(">{id}\n{s}\n")).collect();
    b.paste_into("sequence-input", &fasta).await;
    let web = b.predict(human.len()).await;
    let recs: Vec<(&str, &str)> = human.iter().map(|(i, s)| (i.as_str(), s.as_str())).collect();
    let (names, cli) = dream_outputs("lentimpra-dream-cnn", &recs);
    assert_eq!(names, ["activity"]);
    assert_close("lentiMPRA activity (web vs dream predict)", &web, &cli.concat(), 1e-4);
    b.stop().await;
}

/// The first row of `data/dream/train_demo.tsv` of each length in `lens`, as `(id, sequence)`
/// (id: `demo<row>_<len>bp`, row 1-based).
fn demo_sequences(lens: &[usize]) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("data/dream/train_demo.tsv")).unwrap();
    lens.iter()
        .map(|&len| {
            let (i, seq) = text
                .lines()
                .map(|l| l.split('\t').next().unwrap())
                .enumerate()
                .find(|(_, s)| s.len() == len)
                .unwrap_or_else(|| panic!("no {len} bp row in train_demo.tsv"));
            (format!("demo{}_{len}bp", i + 1), seq.to_string())
        })
        .collect()
}

/// `dream predict --model BUNDLE` of FASTA records: the last column (the prediction) per record.
fn dream_predict_bundle(bundle: &Path, records: &[(String, String)]) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    std::fs::write(&input, records.iter().map(|(id, s)| format!(">{id}\n{s}\n")).collect::<String>()).unwrap();
    let output = dir.path().join("out.tsv");
    dream(&["predict", "--model", bundle.to_str().unwrap(), "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    let text = std::fs::read_to_string(output).unwrap();
    text.lines().skip(1).map(|l| l.rsplit('\t').next().unwrap().parse().unwrap()).collect()
}

/// A screenshot of the page into `$DREAM_E2E_SHOTS/<name>.png` when that is set (for a look).
async fn shot(b: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("DREAM_E2E_SHOTS") {
        let png = b.client.screenshot().await.unwrap();
        std::fs::write(Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// Opens the model card and returns its "Prix Fixe combination" line.
async fn combination_shown(b: &Browser) -> String {
    b.client.find(Locator::Css("[data-testid=\"model-card\"] summary")).await.unwrap().click().await.unwrap();
    b.text("model-combination").await
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Any compatible Prix Fixe combination bundle in the page: #32 `1_1_0_1` (BHI DataProcessor +
/// Trainer) and `2_2_2_2` (UnlockDNA), imported from the module fixtures' weights as `dream
/// predict`'s test does and served beside the shipped models (never shipped): the box states
/// the bundle's DataProcessor rule, the model card names the combination, the predictions of
/// three real training sequences (95, 110 and 135 bp) equal `dream predict` to 1e-4, the BHI SNV
/// scan of the 135 bp one covers the random region within the first 110 bp (18–110; all it
/// reads: 1–110) and equals `dream ism --region 18-110`, and a 141 bp sequence is refused by the
/// UnlockDNA bundle with its rule, the text kept. A combination trained here (`dream train
/// --combo 1_1_0_0` + `model-export bundle`) loads and predicts as `dream predict` does.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ and chromium + chromium-driver; scripts/test.sh runs it"]
async fn combination_bundles_match_dream_cli() {
    // The bundles, in a folder served over dist/ with its own models/index.json.
    let extra = tempfile::tempdir().unwrap();
    let models = extra.path().join("models");
    for (code, fixture) in [("1_1_0_1", "bfirst_acore_bfinal"), ("2_2_2_2", "ufirst_ucore_ufinal")] {
        let weights = root().join(format!("tests/fixtures/modules/{fixture}_weights.safetensors"));
        let yeast = prixfixe::dataset::Dataset::dream_yeast();
        let bundle = model_export::import_torch(code.parse().unwrap(), &yeast, &weights, &format!("combo-{code}"), prixfixe::weights::Precision::F32, None).unwrap();
        model_export::write_bundle(&bundle, &models.join(format!("combo-{code}"))).unwrap();
    }
    // A combination trained here (BHI DataProcessor + Trainer, autosome soft-bin Final block), as
    // `dream train` + `model-export bundle` make it.
    let rows: String = std::fs::read_to_string(root().join("data/dream/train_demo.tsv")).unwrap().lines().take(64).map(|l| format!("{l}\n")).collect();
    let train = extra.path().join("train.tsv");
    std::fs::write(&train, rows).unwrap();
    let run = extra.path().join("run-1_1_0_0");
    dream(&["train", "--combo", "1_1_0_0", "--train", train.to_str().unwrap(), "--out", run.to_str().unwrap(), "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--val-fraction", "0.25"]);
    let trained = model_export::bundle_from_run(&run, "trained-1_1_0_0", prixfixe::weights::Precision::F32, None, None).unwrap();
    assert_eq!(trained.manifest.output.bins, 18, "the autosome Final block keeps its 18 bins under the BHI Trainer");
    model_export::write_bundle(&trained, &models.join("trained-1_1_0_0")).unwrap();
    let added = model_export::write_index(&models).unwrap();
    let mut index: Value = serde_json::from_str(&std::fs::read_to_string(dist().join("models/index.json")).unwrap()).unwrap();
    index["models"].as_array_mut().unwrap().extend(added["models"].as_array().unwrap().iter().cloned());
    std::fs::write(models.join("index.json"), serde_json::to_string_pretty(&index).unwrap()).unwrap();
    let site = serve_layers(vec![extra.path().to_path_buf(), dist()]).0;

    let seqs = demo_sequences(&[95, 110, 135]);
    let fasta: String = seqs.iter().map(|(id, s)| format!(">{id}\n{s}\n")).collect();
    let b = Browser::start(&[]).await;

    // The trained 1_1_0_0 bundle: predictions (expected bin of its 18-bin output) = dream predict.
    b.open(&format!("{site}?backend=cpu&model=trained-1_1_0_0")).await;
    let rule = b.text("length-rule").await;
    assert!(rule.contains("BHI DataProcessor"), "{rule}");
    b.paste_into("sequence-input", &fasta).await;
    let web = b.predict(3).await;
    let cli = dream_predict_bundle(&models.join("trained-1_1_0_0"), &seqs);
    eprintln!("trained 1_1_0_0: web {web:?}, dream predict {cli:?}, max |Δ| {:.2e}", max_abs_diff(&web, &cli));
    assert_close("trained 1_1_0_0 (web vs dream predict)", &web, &cli, 1e-4);
    let combo = combination_shown(&b).await;
    assert!(combo.contains("1_1_0_0 (#31 of 81)"), "{combo}");

    // #32 1_1_0_1: the BHI DataProcessor's rule, the combination, predictions = dream predict.
    let bhi = models.join("combo-1_1_0_1");
    b.open(&format!("{site}?backend=cpu&model=combo-1_1_0_1")).await;
    let rule = b.text("length-rule").await;
    assert!(rule.contains("BHI DataProcessor") && rule.contains("first 110 bp are read") && rule.contains("plasmid vector"), "{rule}");
    let combo = combination_shown(&b).await;
    assert!(combo.contains("1_1_0_1 (#32 of 81)") && combo.contains("DataProcessor + Trainer: BHI"), "{combo}");
    b.paste_into("sequence-input", &fasta).await;
    let web = b.predict(3).await;
    let cli = dream_predict_bundle(&bhi, &seqs);
    eprintln!("1_1_0_1: web {web:?}, dream predict {cli:?}, max |Δ| {:.2e}", max_abs_diff(&web, &cli));
    assert_close("1_1_0_1 (web vs dream predict)", &web, &cli, 1e-4);
    let csv_values = |csv: &str| -> Vec<f64> { csv.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse().unwrap()).collect() };
    let csv = csv_values(&b.fetch_link("predict-csv").await);
    assert_close("1_1_0_1 CSV (web vs dream predict)", &csv, &cli, 1e-4);
    eprintln!("1_1_0_1 predictions CSV: max |Δ| vs dream predict {:.2e}", max_abs_diff(&csv, &cli));
    let note = b.wait_text("box-note", 10, |t| !t.is_empty()).await;
    assert!(note.contains("longer than 110 bp") && note.contains("demo"), "{note}");
    let heads = b.client.find(Locator::Css("[data-testid=\"outputs-table\"] thead")).await.unwrap().text().await.unwrap();
    assert!(heads.contains("expression") && !heads.contains("bins"), "{heads}");

    // The SNV scan of the 135 bp sequence: the random region within the first 110 bp.
    let long = &seqs[2].1;
    b.paste_into("sequence-input", long).await;
    b.el("ism-button").await.click().await.unwrap();
    let status = b.wait_text("ism-status", 300, |t| t.contains("done") || t.contains("failed")).await;
    assert!(status.starts_with("done: 279 SNVs"), "{status}");
    assert!(b.text("ism-summary").await.contains("positions 18–110"), "{}", b.text("ism-summary").await);
    let web_csv = b.fetch_link("ism-csv").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ism.tsv");
    dream(&["ism", "--model", bhi.to_str().unwrap(), "--sequence", long, "--region", "18-110", "--output", out.to_str().unwrap()]);
    let cli_tsv = std::fs::read_to_string(out).unwrap();
    assert_table_close("1_1_0_1 SNV scan (web vs dream ism --region 18-110)", &web_csv, &cli_tsv, 3, 1e-4);
    let col = |t: &str, sep: char| -> Vec<f64> { t.lines().skip(1).map(|l| l.split(sep).nth(4).unwrap().parse().unwrap()).collect() };
    eprintln!("1_1_0_1 SNV scan: 279 deltas, max |Δ| vs dream ism {:.2e}", max_abs_diff(&col(&web_csv, ','), &col(&cli_tsv, '\t')));
    // All it reads: the first 110 bp.
    b.el("ism-whole").await.click().await.unwrap();
    b.el("ism-button").await.click().await.unwrap();
    let status = b.wait_text("ism-status", 300, |t| t.starts_with("done: 330") || t.contains("failed")).await;
    assert!(status.starts_with("done: 330 SNVs"), "{status}");
    assert!(b.text("ism-summary").await.contains("positions 1–110"), "{}", b.text("ism-summary").await);
    shot(&b, "bhi").await;

    // 2_2_2_2: the UnlockDNA DataProcessor's rule, predictions = dream predict, 141 bp refused.
    let unlock = models.join("combo-2_2_2_2");
    b.open(&format!("{site}?backend=cpu&model=combo-2_2_2_2")).await;
    let rule = b.text("length-rule").await;
    assert!(rule.contains("UnlockDNA DataProcessor") && rule.contains("41–140 bp") && rule.contains("20 bp are cut at each end"), "{rule}");
    let combo = combination_shown(&b).await;
    assert!(combo.contains("2_2_2_2 (#81 of 81)") && combo.contains("DataProcessor + Trainer: UnlockDNA"), "{combo}");
    b.paste_into("sequence-input", &fasta).await;
    let web = b.predict(3).await;
    let cli = dream_predict_bundle(&unlock, &seqs);
    eprintln!("2_2_2_2: web {web:?}, dream predict {cli:?}, max |Δ| {:.2e}", max_abs_diff(&web, &cli));
    assert_close("2_2_2_2 (web vs dream predict)", &web, &cli, 1e-4);
    let csv = csv_values(&b.fetch_link("predict-csv").await);
    assert_close("2_2_2_2 CSV (web vs dream predict)", &csv, &cli, 1e-4);
    eprintln!("2_2_2_2 predictions CSV: max |Δ| vs dream predict {:.2e}", max_abs_diff(&csv, &cli));
    let wrong = format!(">{}\n{}\n>too_long\n{long}{}\n", seqs[1].0, seqs[1].1, &seqs[1].1[..6]);
    b.paste_into("sequence-input", &wrong).await;
    b.el("predict-button").await.click().await.unwrap();
    let err = b.wait_text("error-message", 10, |t| !t.is_empty()).await;
    assert!(err.contains("line 3: sequence 'too_long' is 141 bp: too long") && err.contains("41–140 bp"), "{err}");
    assert_eq!(b.value("sequence-input").await, wrong);
    shot(&b, "unlockdna").await;
    // Still predicts afterwards.
    b.paste_into("sequence-input", &fasta).await;
    assert_close("2_2_2_2 after the refusal", &b.predict(3).await, &cli, 1e-4);
    b.stop().await;
}

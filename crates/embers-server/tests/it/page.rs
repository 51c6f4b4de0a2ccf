//! End-to-end test of the web page in headless Chromium, driven through chromedriver's
//! WebDriver HTTP protocol with a tiny client: load the page, type a word, press the button,
//! and check the neighbour list (against brute-force cosine) and the SVG plot; then an analogy.
//! Needs Debian's `chromium` and `chromium-driver` (installed by `.ci/run`).

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process with one browser session; both end when dropped.
struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

fn find_program(names: &[&str]) -> String {
    for n in names {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
            let p = format!("{dir}/{n}");
            if std::path::Path::new(&p).exists() {
                return p;
            }
        }
    }
    panic!("{names:?} not found: install Debian's chromium and chromium-driver (see .ci/run)");
}

impl Browser {
    fn start() -> Browser {
        let driver_bin = find_program(&["chromedriver"]);
        let chromium = find_program(&["chromium", "chromium-browser"]);
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--window-size=1200,900",
                     format!("--user-data-dir={}", browser._profile.path().display())]
        }}}});
        let v = browser.call("POST", "/session", Some(caps));
        browser.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let (status, text) = http(self.addr, method, path, body.as_deref());
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status != 200 {
            return json!({"error": v, "status": status});
        }
        v
    }

    fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn goto(&self, url: &str) {
        let v = self.session("POST", "/url", Some(json!({ "url": url })));
        assert!(v.get("error").is_none(), "navigate: {v}");
    }

    /// Elements matching a CSS selector (possibly none).
    fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.session(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e[ELEMENT].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits (up to 20 s) for an element matching `css`.
    fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                return e;
            }
            if Instant::now() > deadline {
                let src = self.session("GET", "/source", None);
                panic!("no element {css} after 20 s; page: {}", src["value"]);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css);
        self.session("POST", &format!("/element/{e}/clear"), Some(json!({})));
        let v = self.session(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
        assert!(v.get("error").is_none(), "typing into {css}: {v}");
    }

    fn click(&self, css: &str) {
        let e = self.wait_for(css);
        let v = self.session("POST", &format!("/element/{e}/click"), Some(json!({})));
        assert!(v.get("error").is_none(), "clicking {css}: {v}");
    }

    fn text(&self, element: &str) -> String {
        self.session("GET", &format!("/element/{element}/text"), None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// A DOM property of an element (such as an image's `naturalWidth`), as JSON.
    fn property(&self, element: &str, name: &str) -> Value {
        self.session("GET", &format!("/element/{element}/property/{name}"), None)["value"].clone()
    }

    fn attribute(&self, element: &str, name: &str) -> String {
        self.session("GET", &format!("/element/{element}/attribute/{name}"), None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn page_finds_neighbours_and_plots_them_in_chromium() {
    let server = Running::start(registry(), embers_server::Limits::default());
    let browser = Browser::start();
    browser.goto(&format!("http://{}/", server.addr));
    browser.wait_for("body[data-state='ready']");
    // The model list comes from /v1/models; pick the toy model.
    let options = browser.find_all("#model option");
    let names: Vec<String> = options.iter().map(|o| browser.text(o)).collect();
    assert_eq!(names, ["sub", "toy"]);
    browser.click("#model option[value='toy']");

    browser.type_into("#k", "5");
    browser.type_into("#word", "king");
    browser.click("#go");
    browser.wait_for("body[data-state='done']");

    // The list: the 5 nearest by cosine, in order, with their scores.
    let items = browser.find_all("#neighbors li.neighbor");
    let want = toy_reference(&toy_unit("king"), 5, &["king"]);
    assert_eq!(items.len(), 5);
    for (item, (word, score)) in items.iter().zip(&want) {
        assert_eq!(&browser.attribute(item, "data-word"), word);
        let text = browser.text(item);
        assert!(
            text.contains(&format!("{score:.4}")),
            "{text:?} lacks {score:.4}"
        );
    }
    // The plot: the query word and its 5 neighbours as points, the query highlighted.
    let points = browser.find_all("#plot circle.point");
    assert_eq!(points.len(), 6);
    assert_eq!(browser.find_all("#plot circle.point.query").len(), 1);
    let labels: Vec<String> = browser
        .find_all("#plot text.label")
        .iter()
        .map(|l| browser.text(l))
        .collect();
    assert!(
        labels.contains(&"king".to_string()) && labels.contains(&want[0].0),
        "{labels:?}"
    );

    // An analogy through the form.
    browser.type_into("#a", "man");
    browser.type_into("#b", "king");
    browser.type_into("#c", "woman");
    browser.click("#analogy-go");
    browser.wait_for("#status:not(.error)");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = browser.text(&browser.wait_for("#status"));
        if status.contains("is to") {
            let (m, k, w) = (toy_unit("man"), toy_unit("king"), toy_unit("woman"));
            let q: Vec<f64> = (0..4).map(|i| k[i] - m[i] + w[i]).collect();
            let best = &toy_reference(&q, 1, &["man", "king", "woman"])[0].0;
            assert_eq!(status, format!("man is to king as woman is to {best}"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "analogy did not finish: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // 3 query words + 5 answers on the plot.
    browser.wait_for("body[data-state='done']");
    assert_eq!(browser.find_all("#plot circle.point").len(), 8);

    // An unknown word shows the API's message instead of a list.
    browser.type_into("#word", "dragon");
    browser.click("#go");
    browser.wait_for("body[data-state='error']");
    let status = browser.text(&browser.wait_for("#status.error"));
    assert!(status.contains("unknown_word"), "{status:?}");
}

#[test]
fn page_shows_the_cosine_of_two_sentences() {
    let dir = embers_testkit::testdata("static-tokenlearn").join("static-tokenlearn");
    let model = embers::sentence::StaticModel::load(&dir).unwrap();
    let (s1, s2) = ("The cat sat on the mat.", "A kitten was sitting on a rug.");
    let v = model.encode(&[s1, s2]).unwrap();
    let want = cosine64(v.row(0), v.row(1));
    let mut reg = registry();
    reg.add_sentence("potion", &dir, model).unwrap();
    let server = Running::start(reg, embers_server::Limits::default());
    let browser = Browser::start();
    browser.goto(&format!("http://{}/", server.addr));
    browser.wait_for("body[data-state='ready']");
    // Static models and word models are offered; pick the static one.
    let names: Vec<String> = browser
        .find_all("#sentence-model option")
        .iter()
        .map(|o| browser.attribute(o, "value"))
        .collect();
    assert_eq!(names, ["potion", "sub", "toy"]);
    browser.click("#sentence-model option[value='potion']");
    browser.type_into("#s1", s1);
    browser.type_into("#s2", s2);
    browser.click("#cosine-go");
    browser.wait_for("body[data-state='cosine-done']");
    let out = browser.wait_for("#cosine");
    let shown: f64 = browser.attribute(&out, "data-cosine").parse().unwrap();
    assert!((shown - want).abs() < 1e-6, "page {shown} vs {want}");
    let text = browser.text(&out);
    assert!(text.contains(&format!("{want:.4}")), "{text:?}");
}

#[test]
fn page_classifies_a_text_with_a_fasttext_model() {
    let path = embers_testkit::testdata("lid/lid.176.ftz").join("lid/lid.176.ftz");
    let lid = embers::supervised::Classifier::read(&path).unwrap();
    let want = lid.predict("Das ist ein schönes Haus", 3, 0.0);
    let mut reg = registry();
    reg.add_classifier("lid", &path, lid).unwrap();
    let server = Running::start(reg, embers_server::Limits::default());
    let browser = Browser::start();
    browser.goto(&format!("http://{}/", server.addr));
    browser.wait_for("body[data-state='ready']");
    browser.type_into("#ptext", "Das ist ein schönes Haus");
    browser.click("#predict-go");
    browser.wait_for("body[data-state='predict-done']");
    let items = browser.find_all("#labels li");
    assert_eq!(items.len(), want.len());
    assert_eq!(browser.attribute(&items[0], "data-label"), "__label__de");
    for (li, p) in items.iter().zip(&want) {
        let prob: f32 = browser.attribute(li, "data-prob").parse().unwrap();
        assert_eq!(prob, p.prob);
    }
}

#[test]
fn page_shows_the_sweep_chart_of_a_model_that_has_one() {
    let dir = tempfile::tempdir().unwrap();
    // A chart as `embers sweep --svg` writes it, for the toy model.
    let chart = toy_sweep_chart();
    std::fs::write(dir.path().join("charted.sweep.svg"), chart).unwrap();
    let mut reg = registry();
    reg.add_embeddings("charted", dir.path().join("charted.embers"), toy())
        .unwrap();
    let server = Running::start(reg, embers_server::Limits::default());
    let browser = Browser::start();
    // A model without a chart: the section stays hidden.
    browser.goto(&format!("http://{}/?model=toy", server.addr));
    browser.wait_for("body[data-state='ready']");
    let section = browser.wait_for("#sweep");
    assert_eq!(browser.property(&section, "hidden"), json!(true));
    // The model with one: shown, and the browser decoded the SVG the server sent.
    browser.goto(&format!("http://{}/?model=charted", server.addr));
    browser.wait_for("body[data-state='ready']");
    let section = browser.wait_for("#sweep");
    assert_eq!(browser.property(&section, "hidden"), json!(false));
    let img = browser.wait_for("#sweep-chart");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let width = browser.property(&img, "naturalWidth").as_u64().unwrap_or(0);
        if width > 0 {
            assert_eq!(width, 820, "the chart's own width");
            break;
        }
        assert!(Instant::now() < deadline, "the chart did not load");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(browser
        .attribute(&img, "src")
        .ends_with("/v1/models/charted/sweep.svg"));
}

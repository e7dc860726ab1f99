//! End-to-end flows in headless Chromium (Debian's `chromium` driven through
//! `chromedriver` with fantoccini) over the example catalog: browse, filter,
//! search and page `/catalog`, open an entity, follow a relation in its graph,
//! inspect its YAML, register a location through `/catalog-import`, see a
//! processing error, tab through the filters, read both themes, and take the
//! README's screenshots.
//!
//! One browser session serves every flow: starting Chromium is the slow part.

#[path = "import_support/harness.rs"]
mod harness;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::TestDir;
use greenroom_web::context::THEME_COOKIE;
use harness::{SourceHost, entity, eventually, serve_dir, start_portal, wait_for_count};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Every entity of the example catalog plus the generated Location of the
/// configured root file.
const EXAMPLE_ENTITIES: u64 = 49;

/// The component registered through the import page.
const IMPORTED: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: quay-crane-planner
  title: Quay crane planner
  tags: [scheduling]
spec:
  type: service
  lifecycle: experimental
  owner: group:default/harbour-ops-team
";

/// The same component broken: a tag that breaks the naming rules.
const IMPORTED_BROKEN: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: quay-crane-planner
  title: Quay crane planner
  tags: [Not A Tag]
spec:
  type: service
  lifecycle: experimental
  owner: group:default/harbour-ops-team
";

/// A chromedriver process on a free loopback port, killed on drop (also when
/// a flow fails and the test unwinds).
#[derive(Debug)]
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> anyhow::Result<Driver> {
        // The port is picked by binding port 0 and released just before the
        // driver takes it; nothing else on the machine races for it in practice.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that the guard can end the browser too.
            .process_group(0)
            .spawn()?;
        Ok(Driver { child, port })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // First ask chromedriver to end its sessions, which quits their
        // browsers; then end whatever is left of its process group (the
        // browser's processes included, should the driver not have managed).
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(
                b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        }
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with a fresh profile directory.
async fn browser(driver: &Driver, profile: &Path) -> anyhow::Result<Client> {
    let http = reqwest::Client::new();
    let status = format!("{}/status", driver.url());
    eventually("chromedriver answers", || async {
        http.get(&status)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await?;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url())
        .await?;
    Ok(client)
}

/// The browser, the portal and what the flows share.
struct Session {
    client: Client,
    backend: TestBackend,
    http: reqwest::Client,
    source: SourceHost,
    files: TestDir,
}

impl Session {
    async fn open(&self, path: &str) -> anyhow::Result<()> {
        self.client.goto(&self.backend.url(path)).await?;
        Ok(())
    }

    /// The path and query of the current page.
    async fn location(&self) -> anyhow::Result<String> {
        let url = self.client.current_url().await?;
        Ok(match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
    }

    /// Clicks `element` and waits until a new document has loaded: a marker
    /// set on the old page's window is gone on the new one.
    async fn click_to_navigate(&self, element: Element) -> anyhow::Result<()> {
        self.client
            .execute("window.__greenroomStale = true;", vec![])
            .await?;
        element.click().await?;
        for _ in 0..600 {
            let loaded = self
                .client
                .execute(
                    "return window.__greenroomStale !== true && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            // A script racing the navigation may fail; the next try sees the new page.
            if matches!(loaded, Ok(Value::Bool(true))) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the click did not load a new page")
    }

    /// Finds the element at `locator` and navigates by clicking it.
    async fn follow(&self, locator: Locator<'_>) -> anyhow::Result<()> {
        let element = self.client.find(locator).await?;
        self.click_to_navigate(element).await
    }

    async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    async fn h1(&self) -> anyhow::Result<String> {
        self.text("main h1").await
    }

    /// Picks the option of `<select id=..>` whose label starts with `label`
    /// (labels carry counts, "API (5)"), then submits the filter form with
    /// its button, as a keyboard user without script would.
    async fn choose(&self, select_id: &str, label: &str) -> anyhow::Result<()> {
        let select = self.client.find(Locator::Id(select_id)).await?;
        let options = select.find_all(Locator::Css("option")).await?;
        let mut chosen = None;
        for option in options {
            if option.text().await?.starts_with(label) {
                chosen = option.attr("value").await?;
                break;
            }
        }
        let value = chosen.ok_or_else(|| anyhow::anyhow!("no option {label} in #{select_id}"))?;
        // Setting the value through script does not fire `change`, so the
        // enhancement script leaves the submit to the button.
        self.client
            .execute(
                "document.getElementById(arguments[0]).value = arguments[1];",
                vec![json!(select_id), json!(value)],
            )
            .await?;
        self.apply_filters().await
    }

    async fn apply_filters(&self) -> anyhow::Result<()> {
        self.follow(Locator::XPath(
            "//form[contains(@class,'filters')]//button[@type='submit']",
        ))
        .await
    }

    /// The first cells' texts of the results table.
    async fn first_column(&self) -> anyhow::Result<Vec<String>> {
        let mut names = Vec::new();
        for cell in self
            .client
            .find_all(Locator::Css("table.data-table tbody tr td:first-child"))
            .await?
        {
            names.push(cell.text().await?);
        }
        Ok(names)
    }

    async fn results_text(&self) -> anyhow::Result<String> {
        self.text("table.data-table tbody").await
    }
}

async fn link_with_href(client: &Client, href: &str) -> anyhow::Result<Element> {
    Ok(client
        .find(Locator::Css(&format!(r#"a[href="{href}"]"#)))
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_flows_in_headless_chromium() -> anyhow::Result<()> {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let data = TestDir::new();
    let files = TestDir::new();
    std::fs::write(files.path().join("quay-crane-planner.yaml"), IMPORTED)?;
    let source = serve_dir(files.path().to_path_buf()).await?;
    let backend = start_portal(
        data.sqlite_database_config(),
        &examples.join("catalog-info.yaml").canonicalize()?,
        &source.host,
        Vec::new(),
    )
    .await?;
    let http = reqwest::Client::new();
    wait_for_count(&http, &backend, EXAMPLE_ENTITIES).await?;

    let driver = Driver::start()?;
    let profile = TestDir::new();
    let client = browser(&driver, profile.path()).await?;
    let session = Session {
        client,
        backend,
        http,
        source,
        files,
    };
    // The flows run in one session; the browser is closed whatever they return.
    let outcome = run_flows(&session).await;
    let Session {
        client, backend, ..
    } = session;
    let closed = client.close().await;
    drop(driver);
    backend.stop().await;
    outcome?;
    closed?;
    Ok(())
}

async fn run_flows(session: &Session) -> anyhow::Result<()> {
    browse_filter_search_and_page(session).await?;
    entity_graph_and_inspect(session).await?;
    keyboard_labels(session).await?;
    themes(session).await?;
    // Before the import, so that they show the example catalog as it is.
    screenshots(session).await?;
    import_and_processing_error(session).await?;
    Ok(())
}

/// `/catalog`: kind and owner filters, text search, the next page.
async fn browse_filter_search_and_page(s: &Session) -> anyhow::Result<()> {
    s.open("/catalog?limit=4").await?;
    assert_eq!(s.h1().await?, "Component entities");

    s.choose("filter-kind", "API").await?;
    assert!(
        s.location().await?.contains("kind=api"),
        "{}",
        s.location().await?
    );
    assert_eq!(s.h1().await?, "API entities");
    let apis = s.first_column().await?;
    assert!(!apis.is_empty() && apis.len() <= 4, "{apis:?}");

    s.choose("filter-kind", "Component").await?;
    s.choose("filter-owner", "freight-team").await?;
    let location = s.location().await?;
    assert!(location.contains("owner="), "{location}");
    let owned = s.results_text().await?;
    assert!(owned.contains("freight-team"), "{owned}");
    for other in ["sailings-team", "digital-team", "harbour-ops-team"] {
        assert!(!owned.contains(other), "{other} in {owned}");
    }

    // Search within the kind, the owner filter cleared.
    s.open("/catalog?kind=component&limit=4").await?;
    let search = s.client.find(Locator::Id("filter-q")).await?;
    search.send_keys("booking").await?;
    s.apply_filters().await?;
    assert!(s.location().await?.contains("q=booking"));
    let mut rows = Vec::new();
    for row in s
        .client
        .find_all(Locator::Css("table.data-table tbody tr"))
        .await?
    {
        rows.push(row.text().await?.to_lowercase());
    }
    assert!(!rows.is_empty(), "nothing found for booking");
    assert!(
        rows.iter().all(|row| row.contains("booking")),
        "a row without the term: {rows:?}"
    );
    assert!(
        rows.iter().any(|row| row.contains("booking service")),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|row| row.contains("fare engine")),
        "{rows:?}"
    );

    // Page forward: the next page shows other rows.
    s.open("/catalog?kind=component&limit=4").await?;
    let first = s.first_column().await?;
    assert_eq!(first.len(), 4, "{first:?}");
    s.follow(Locator::Css(r#"nav.pager a[rel="next"]"#)).await?;
    let second = s.first_column().await?;
    assert!(!second.is_empty(), "an empty second page");
    assert!(
        second.iter().all(|n| !first.contains(n)),
        "{first:?} then {second:?}"
    );
    Ok(())
}

/// An entity page, a relation followed in the SVG graph, and its YAML.
async fn entity_graph_and_inspect(s: &Session) -> anyhow::Result<()> {
    s.open("/catalog?kind=system").await?;
    let link = s
        .client
        .find(Locator::Css("table.data-table tbody tr td:first-child a"))
        .await?;
    let href = link
        .attr("href")
        .await?
        .ok_or_else(|| anyhow::anyhow!("a row link without href"))?;
    s.click_to_navigate(link).await?;
    assert_eq!(s.location().await?, href);
    let system_title = s.h1().await?;
    assert!(!system_title.is_empty());

    // A node of the relations graph is a link inside the SVG.
    let node = s.client.find(Locator::Css("svg.graph a")).await?;
    let target = node
        .attr("href")
        .await?
        .ok_or_else(|| anyhow::anyhow!("a graph node without href"))?;
    s.click_to_navigate(node).await?;
    assert_eq!(s.location().await?, target, "followed the graph link");
    assert_ne!(s.h1().await?, system_title);

    // Inspect: the raw YAML of the entity.
    s.follow(Locator::XPath(
        "//nav[contains(@class,'tabs')]//a[normalize-space()='Inspect']",
    ))
    .await?;
    assert_eq!(s.location().await?, format!("{target}/inspect"));
    let yaml = s.text("#entity-yaml").await?;
    assert!(yaml.contains("apiVersion:"), "{yaml}");
    let name = target.rsplit('/').next().unwrap_or_default();
    assert!(yaml.contains(&format!("name: {name}")), "{yaml}");
    Ok(())
}

/// Register a location through `/catalog-import`, see its entity listed, then
/// break the file and see the processing error on the entity page.
async fn import_and_processing_error(s: &Session) -> anyhow::Result<()> {
    s.open("/catalog-import").await?;
    let url = s.source.url("quay-crane-planner.yaml");
    s.client
        .find(Locator::Id("import-url"))
        .await?
        .send_keys(&url)
        .await?;
    s.follow(Locator::XPath("//button[normalize-space()='Analyze']"))
        .await?;
    assert_eq!(s.h1().await?, "Review the import");
    assert!(s.results_text().await?.contains("quay-crane-planner"));
    s.follow(Locator::XPath("//button[normalize-space()='Import']"))
        .await?;
    assert!(s.location().await?.starts_with("/catalog-import/done?"));
    assert_eq!(s.h1().await?, "Import finished");

    eventually("the imported component is ingested", || async {
        matches!(
            entity(&s.http, &s.backend, "component/default/quay-crane-planner").await,
            Ok(Some(_))
        )
    })
    .await?;
    s.open("/catalog?kind=component&owner=group%3Adefault%2Fharbour-ops-team")
        .await?;
    assert!(
        s.results_text().await?.contains("Quay crane planner"),
        "{}",
        s.results_text().await?
    );
    s.click_to_navigate(
        link_with_href(&s.client, "/catalog/default/component/quay-crane-planner").await?,
    )
    .await?;
    assert_eq!(s.h1().await?, "Quay crane planner");
    assert!(
        s.client
            .find_all(Locator::Css(".banner-error"))
            .await?
            .is_empty(),
        "no error before the file breaks"
    );

    // Break the file and ask for a refresh; the page keeps the last good
    // version and shows the error.
    std::fs::write(
        s.files.path().join("quay-crane-planner.yaml"),
        IMPORTED_BROKEN,
    )?;
    s.http
        .post(s.backend.url("/api/catalog/refresh"))
        .json(&json!({ "entityRef": "component:default/quay-crane-planner" }))
        .send()
        .await?
        .error_for_status()?;
    eventually("the processing error is recorded", || async {
        entity(&s.http, &s.backend, "component/default/quay-crane-planner")
            .await
            .ok()
            .flatten()
            .is_some_and(|e| {
                e["status"]["items"]
                    .as_array()
                    .is_some_and(|i| !i.is_empty())
            })
    })
    .await?;
    s.client.refresh().await?;
    let banner = s.text(".banner-error").await?;
    assert!(banner.contains("could not process"), "{banner}");
    assert!(banner.contains("Not A Tag"), "{banner}");
    Ok(())
}

/// What script reads of the focused element: whether it sits in the filter
/// form, its tag, and its accessible name (aria-label, aria-labelledby, a
/// `<label>`, or its own text for buttons and links).
const FOCUSED: &str = r#"
const el = document.activeElement;
const form = document.querySelector('form.filters');
let name = (el.getAttribute('aria-label') || '').trim();
if (!name && el.getAttribute('aria-labelledby')) {
  name = el.getAttribute('aria-labelledby').split(/\s+/)
    .map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
}
if (!name && el.labels && el.labels.length) {
  name = Array.from(el.labels).map(l => l.textContent).join(' ').trim();
}
if (!name && (el.tagName === 'BUTTON' || el.tagName === 'A')) {
  name = el.textContent.trim();
}
return {
  inForm: !!(form && form.contains(el)),
  tag: el.tagName,
  id: el.id || el.getAttribute('name') || el.textContent.trim(),
  name: name,
};
"#;

/// Tab through `/catalog`'s filters: each control is reached by keyboard and
/// has an accessible name; together they are every control of the form.
async fn keyboard_labels(s: &Session) -> anyhow::Result<()> {
    s.open("/catalog").await?;
    let expected: Value = s
        .client
        .execute(
            "return Array.from(document.querySelectorAll('form.filters select, form.filters input:not([type=hidden]), form.filters button, form.filters a')).length;",
            vec![],
        )
        .await?;
    let expected = expected.as_u64().unwrap_or_default();
    assert!(expected >= 4, "the filter form has {expected} controls");

    let mut reached = Vec::new();
    let mut entered = false;
    // Bounded: the sidebar, the header's search and the filters fit easily.
    for _ in 0..80 {
        s.client
            .active_element()
            .await?
            .send_keys(&char::from(Key::Tab).to_string())
            .await?;
        let focused = s.client.execute(FOCUSED, vec![]).await?;
        if focused["inForm"] == true {
            entered = true;
            let name = focused["name"].as_str().unwrap_or_default().to_owned();
            assert!(!name.is_empty(), "an unlabelled control: {focused}");
            reached.push(focused);
        } else if entered {
            break;
        }
    }
    assert_eq!(
        reached.len() as u64,
        expected,
        "every filter control is reached by Tab: {reached:?}"
    );
    Ok(())
}

/// The WCAG contrast ratio of the page's text against its background.
const CONTRAST: &str = r#"
function rgb(value) {
  const m = value.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const p = m[1].split(',').map(x => parseFloat(x));
  if (p.length === 4 && p[3] === 0) return null;
  return p.slice(0, 3);
}
function background(el) {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c) return c;
  }
  return [255, 255, 255];
}
function luminance(c) {
  const [r, g, b] = c.map(v => {
    v = v / 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const el = document.querySelector(arguments[0]);
const fg = rgb(getComputedStyle(el).color);
const bg = background(el);
const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
return {
  theme: document.documentElement.dataset.theme,
  contrast: (hi + 0.05) / (lo + 0.05),
  background: bg,
};
"#;

/// Both themes, chosen by cookie: `data-theme` is set and text stays readable.
async fn themes(s: &Session) -> anyhow::Result<()> {
    let mut backgrounds = Vec::new();
    for theme in ["light", "dark"] {
        s.open("/").await?;
        s.client
            .execute(
                "document.cookie = arguments[0] + '=' + arguments[1] + '; path=/';",
                vec![json!(THEME_COOKIE), json!(theme)],
            )
            .await?;
        s.open("/catalog").await?;
        for selector in ["main h1", "table.data-table td", ".filter label"] {
            let seen = s.client.execute(CONTRAST, vec![json!(selector)]).await?;
            assert_eq!(seen["theme"], theme, "{seen}");
            let contrast = seen["contrast"].as_f64().unwrap_or_default();
            assert!(
                contrast >= 4.5,
                "{theme}: {selector} has contrast {contrast:.2}"
            );
            if selector == "main h1" {
                backgrounds.push(seen["background"].clone());
            }
        }
    }
    assert_ne!(backgrounds[0], backgrounds[1], "the themes differ");
    // Back to the light theme for the screenshots.
    s.open("/").await?;
    s.client
        .execute(
            "document.cookie = arguments[0] + '=light; path=/';",
            vec![json!(THEME_COOKIE)],
        )
        .await?;
    Ok(())
}

/// The README's screenshots: `/catalog`, an entity page and an API's
/// Definition tab. They are always taken and checked to be PNGs; with
/// `GREENROOM_SCREENSHOTS=1` they are written to `docs/screenshots/`.
async fn screenshots(s: &Session) -> anyhow::Result<()> {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    let write = std::env::var_os("GREENROOM_SCREENSHOTS").is_some_and(|v| v == "1");
    s.client.set_window_size(1440, 1000).await?;
    for (file, path, heading) in [
        (
            "catalog.png",
            "/catalog?kind=component",
            "Component entities",
        ),
        (
            "entity.png",
            "/catalog/default/component/booking-service",
            "",
        ),
        (
            "api-definition.png",
            "/catalog/default/api/sailings-api/api",
            "",
        ),
    ] {
        s.open(path).await?;
        if !heading.is_empty() {
            assert_eq!(s.h1().await?, heading);
        }
        // Fonts and layout settle before the capture.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let png = s.client.screenshot().await?;
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{file} is a PNG");
        assert!(png.len() > 10_000, "{file} is {} bytes", png.len());
        if write {
            std::fs::create_dir_all(&out)?;
            std::fs::write(out.join(file), &png)?;
        }
    }
    s.client.set_window_size(1280, 900).await?;
    Ok(())
}

//! `/catalog-import` and `/create` over HTTP, asserting on the HTML: analyze
//! and preview, register, the result page, the entities appearing in the
//! catalog, and each error state; on SQLite and PostgreSQL.

#[path = "import_support/harness.rs"]
mod harness;

use std::sync::Arc;

use async_trait::async_trait;
use greenroom_backend_plugin_api::{BackendError, BackendFeature, BackendModule};
use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use greenroom_catalog_client::{
    AnalyzeLocationExistingEntity, AnalyzeLocationResponse, LocationSpec,
};
use greenroom_plugin_catalog_node::{
    AnalyzeRequest, CATALOG_ANALYSIS_EXTENSION_POINT, ScmLocationAnalyzer,
};
use harness::{SourceHost, entity, eventually, serve_dir, start_portal, wait_for_count};
use serde_json::{Value, json};

const BASE: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: base
spec:
  targets: [./template.yaml]
";

const TEMPLATE: &str = "\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: rust-service
  title: Rust service <b>fast</b>
  description: Creates a new Rust service.
  tags: [rust, recommended]
spec:
  owner: team-a
  type: service
  steps: []
";

/// Two entities, one with a title that must show as text.
const NEW_FILE: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: harbour-lights
  title: <script>alert(1)</script>
spec:
  type: service
  lifecycle: production
  owner: team-a
  providesApis: [lights-api]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: lights-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: 'openapi: 3.0.0'
";

const FOLDER_FILE: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: tide-tables
spec:
  type: library
  lifecycle: experimental
  owner: team-b
";

/// A component whose name breaks the naming rules (and carries markup).
const INVALID_FILE: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: <b>bad name</b>
spec:
  type: service
  lifecycle: production
  owner: team-a
";

/// A repository's catalog file, served at `repos/good-repo/catalog-info.yaml`.
const REPO_FILE: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: pilot-roster
spec:
  type: service
  lifecycle: production
  owner: team-a
";

/// A source-host analyzer, as an SCM module would add one: for repositories
/// under `<source>/repos/` it reports the catalog file at the root and its
/// entity (`good-repo`), an entity that does not validate (`bad-repo`), a
/// file registered already (`registered-repo`), or nothing (any other), which
/// leaves the answer to the default analyzer.
struct LoopbackScm {
    prefix: String,
}

#[async_trait]
impl ScmLocationAnalyzer for LoopbackScm {
    fn name(&self) -> &str {
        "loopback-scm"
    }

    fn supports(&self, url: &str) -> bool {
        url.starts_with(&self.prefix)
    }

    async fn analyze(
        &self,
        request: &AnalyzeRequest,
    ) -> Result<AnalyzeLocationResponse, BackendError> {
        let repo = request.url.trim_end_matches('/');
        let (name, is_registered) = match repo.rsplit('/').next() {
            Some("good-repo") => ("pilot-roster", false),
            Some("bad-repo") => ("Not A Valid Name!", false),
            Some("registered-repo") => ("already-here", true),
            _ => return Ok(AnalyzeLocationResponse::default()),
        };
        Ok(AnalyzeLocationResponse {
            existing_entity_files: vec![AnalyzeLocationExistingEntity {
                location: LocationSpec {
                    location_type: "url".to_owned(),
                    target: format!("{repo}/catalog-info.yaml"),
                },
                is_registered,
                entity: json!({
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "Component",
                    "metadata": { "name": name },
                    "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" },
                }),
            }],
            generate_entities: Vec::new(),
        })
    }
}

fn analyzer_module(prefix: String) -> BackendFeature {
    BackendModule::new("catalog", "loopback-scm", move |registrar| {
        let prefix = prefix.clone();
        registrar.register_init(move |env| async move {
            let analysis = env.extension_point(&CATALOG_ANALYSIS_EXTENSION_POINT)?;
            analysis.add_location_analyzer(Arc::new(LoopbackScm { prefix }));
            Ok(())
        });
    })
    .into()
}

struct Env {
    backend: TestBackend,
    source: SourceHost,
    http: reqwest::Client,
    _catalog: TestDir,
    _files: TestDir,
}

async fn start(database: Value) -> anyhow::Result<Env> {
    let catalog = TestDir::new();
    std::fs::write(catalog.path().join("catalog-info.yaml"), BASE)?;
    std::fs::write(catalog.path().join("template.yaml"), TEMPLATE)?;
    let files = TestDir::new();
    std::fs::write(files.path().join("new.yaml"), NEW_FILE)?;
    std::fs::write(files.path().join("invalid.yaml"), INVALID_FILE)?;
    // A folder URL without an extension that the reader serves as a file:
    // analyze finds nothing at the repository root, the dry run does.
    std::fs::create_dir_all(files.path().join("org"))?;
    std::fs::write(files.path().join("org/tide-tables"), FOLDER_FILE)?;
    std::fs::create_dir_all(files.path().join("repos/good-repo"))?;
    std::fs::write(
        files.path().join("repos/good-repo/catalog-info.yaml"),
        REPO_FILE,
    )?;
    let source = serve_dir(files.path().to_path_buf()).await?;
    let backend = start_portal(
        database,
        &catalog.path().join("catalog-info.yaml"),
        &source.host,
        vec![analyzer_module(source.url("repos/"))],
    )
    .await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // The generated config Location, the base location and the template.
    wait_for_count(&http, &backend, 3).await?;
    Ok(Env {
        backend,
        source,
        http,
        _catalog: catalog,
        _files: files,
    })
}

impl Env {
    async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self.http.get(self.backend.url(path)).send().await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<reqwest::Response> {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in form {
            body.append_pair(key, value);
        }
        Ok(self
            .http
            .post(self.backend.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.finish())
            .send()
            .await?)
    }

    async fn analyze(&self, url: &str) -> anyhow::Result<(u16, String)> {
        let response = self
            .post("/catalog-import/analyze", &[("url", url)])
            .await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// Posts the preview's register form as a browser would, with every
    /// hidden field it carries, and returns the redirect target.
    async fn register_from(&self, preview: &str) -> anyhow::Result<String> {
        let form_start = preview
            .find(r#"action="/catalog-import/register""#)
            .ok_or_else(|| anyhow::anyhow!("no register form in {preview}"))?;
        let fields = hidden_fields(&preview[form_start..]);
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let response = self.post("/catalog-import/register", &pairs).await?;
        assert_eq!(response.status(), 303, "{}", response.text().await?);
        Ok(response.headers()["location"].to_str()?.to_owned())
    }
}

/// The `name`/`value` pairs of the hidden inputs in `html`, unescaped.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let end = html.find("</form>").unwrap_or(html.len());
    for input in html[..end].split("<input ").skip(1) {
        if !input.starts_with(r#"type="hidden""#) {
            continue;
        }
        let attr = |name: &str| {
            let start = input.find(&format!(r#"{name}=""#))? + name.len() + 2;
            let len = input[start..].find('"')?;
            Some(
                input[start..start + len]
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            )
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            fields.push((name, value));
        }
    }
    fields
}

async fn import_flow(database: Value, name: &str) -> anyhow::Result<()> {
    let env = start(database).await?;

    // The form: a labelled URL field posting to analyze, pre-filled from ?url=.
    let (status, form) = env
        .get("/catalog-import?url=https%3A%2F%2Fexample.com%2Fx")
        .await?;
    assert_eq!(status, 200, "{name}");
    assert!(form.contains(r#"<label for="import-url">"#), "{form}");
    assert!(form.contains(r#"action="/catalog-import/analyze""#));
    assert!(form.contains(r#"value="https://example.com/x""#));

    // Analyze a catalog file: a dry run lists both entities, stores nothing.
    let file_url = env.source.url("new.yaml");
    let (status, preview) = env.analyze(&file_url).await?;
    assert_eq!(status, 200, "{name}: {preview}");
    assert!(preview.contains("Review the import"), "{preview}");
    for cell in [
        "<td>Component</td>",
        "<td>harbour-lights</td>",
        "<td>API</td>",
        "<td>lights-api</td>",
        "<td>default</td>",
    ] {
        assert!(preview.contains(cell), "{name}: {cell} in {preview}");
    }
    assert!(!preview.contains("<script>alert(1)"), "unescaped title");
    assert!(preview.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(preview.contains(&format!(r#"name="target" value="{file_url}""#)));
    // The generated Location for the file itself is not listed.
    assert!(!preview.contains("<td>Location</td>"), "{preview}");
    assert!(
        entity(&env.http, &env.backend, "component/default/harbour-lights")
            .await?
            .is_none(),
        "{name}: the preview stored nothing"
    );

    // Import: POST-redirect-GET to a result page linking the new entities.
    let done = env.register_from(&preview).await?;
    assert!(done.starts_with("/catalog-import/done?location="), "{done}");
    let (status, result) = env.get(&done).await?;
    assert_eq!(status, 200, "{name}: {result}");
    assert!(result.contains("Registered 1 location."), "{result}");
    assert!(
        result.contains(&format!("<code>{file_url}</code>")),
        "{result}"
    );
    assert!(result.contains(r#"href="/catalog/default/component/harbour-lights""#));
    assert!(result.contains(r#"href="/catalog/default/api/lights-api""#));
    assert!(result.contains(r#"href="/catalog""#));

    // The entities appear in the catalog, and the result page says so.
    eventually("the imported entities are ingested", || async {
        matches!(
            entity(&env.http, &env.backend, "api/default/lights-api").await,
            Ok(Some(_))
        ) && matches!(
            entity(&env.http, &env.backend, "component/default/harbour-lights").await,
            Ok(Some(_))
        )
    })
    .await?;
    let (_, result) = env.get(&done).await?;
    assert_eq!(
        result.matches("in the catalog</span>").count(),
        2,
        "{result}"
    );
    let (status, catalog_page) = env.get("/catalog?kind=component").await?;
    assert_eq!(status, 200, "{name}");
    assert!(
        catalog_page.contains("harbour-lights"),
        "{name}: {catalog_page}"
    );

    // The same file again: the dry run reports the location as registered.
    let (status, again) = env.analyze(&file_url).await?;
    assert_eq!(status, 409, "{name}: {again}");
    assert!(
        again.contains("This location is already registered"),
        "{again}"
    );
    assert!(again.contains(r#"role="alert""#));
    // A register form posted twice (e.g. from the back button) says so too.
    let response = env
        .post(
            "/catalog-import/register",
            &[("url", &file_url), ("target", &file_url)],
        )
        .await?;
    assert_eq!(response.status(), 409, "{name}");
    assert!(response.text().await?.contains("already registered"));

    // A URL without an extension: analyze finds no catalog file at the
    // repository root, and the dry run reads the URL itself.
    let folder_url = env.source.url("org/tide-tables");
    let (status, preview) = env.analyze(&folder_url).await?;
    assert_eq!(status, 200, "{name}: {preview}");
    assert!(preview.contains("<td>tide-tables</td>"), "{preview}");
    let done = env.register_from(&preview).await?;
    let (_, result) = env.get(&done).await?;
    assert!(result.contains(r#"href="/catalog/default/component/tide-tables""#));
    eventually("the folder's component is ingested", || async {
        matches!(
            entity(&env.http, &env.backend, "component/default/tide-tables").await,
            Ok(Some(_))
        )
    })
    .await?;

    // A repository URL: analyze (here through a source-host analyzer) finds
    // the catalog file at its root; the file's location is what is registered.
    let repo_url = env.source.url("repos/good-repo");
    let (status, preview) = env.analyze(&repo_url).await?;
    assert_eq!(status, 200, "{name}: {preview}");
    assert!(
        preview.contains("The repository has catalog files"),
        "{preview}"
    );
    assert!(preview.contains("<td>pilot-roster</td>"), "{preview}");
    let repo_file = format!("{repo_url}/catalog-info.yaml");
    assert!(preview.contains(&format!(r#"name="target" value="{repo_file}""#)));
    let done = env.register_from(&preview).await?;
    let (_, result) = env.get(&done).await?;
    assert!(
        result.contains(&format!("<code>{repo_file}</code>")),
        "{result}"
    );
    assert!(result.contains(r#"href="/catalog/default/component/pilot-roster""#));
    eventually("the repository's component is ingested", || async {
        matches!(
            entity(&env.http, &env.backend, "component/default/pilot-roster").await,
            Ok(Some(_))
        )
    })
    .await?;

    env.backend.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_preview_import_on_sqlite() -> anyhow::Result<()> {
    let data = TestDir::new();
    import_flow(data.sqlite_database_config(), "sqlite").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_preview_import_on_postgres() -> anyhow::Result<()> {
    let pg = TestPostgres::new();
    let result = import_flow(pg.database_config(json!({})), "postgres").await;
    pg.cleanup().await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_descriptors_show_clear_errors() -> anyhow::Result<()> {
    let data = TestDir::new();
    let env = start(data.sqlite_database_config()).await?;

    // Empty, malformed and non-HTTP URLs never reach the catalog.
    for (url, expected) in [
        (
            "",
            "Enter the URL of a catalog-info.yaml file or of a repository.",
        ),
        ("   ", "Enter the URL"),
        ("not a url", "This is not a valid URL"),
        (
            "ftp://127.0.0.1/catalog-info.yaml",
            "Only http and https URLs",
        ),
    ] {
        let (status, page) = env.analyze(url).await?;
        assert_eq!(status, 400, "{url:?}: {page}");
        assert!(page.contains("The URL is not valid"), "{url:?}: {page}");
        assert!(page.contains(expected), "{url:?}: {page}");
        // The form is shown again with what was entered.
        assert!(page.contains(r#"id="import-url""#));
    }
    let (status, page) = env
        .analyze(&format!("https://x.example/{}", "a".repeat(2100)))
        .await?;
    assert_eq!(status, 400);
    assert!(page.contains("longer than 2048 characters"), "{page}");

    // A host outside backend.reading.allow (the same address on another port
    // is another host; nothing is read from it).
    let (status, page) = env.analyze("http://127.0.0.1:1/catalog-info.yaml").await?;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("Reading from this host is not allowed"),
        "{page}"
    );
    assert!(page.contains("backend.reading.allow"));

    // An invalid descriptor: the validation messages, escaped.
    let (status, page) = env.analyze(&env.source.url("invalid.yaml")).await?;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("The descriptor is not valid"), "{page}");
    assert!(page.contains("&lt;b&gt;bad name&lt;/b&gt;"), "{page}");
    assert!(!page.contains("<b>bad name</b>"), "unescaped message");
    assert!(!page.contains(r#"action="/catalog-import/register""#));

    // A repository whose catalog file holds an entity that does not validate:
    // the catalog's validation messages, before anything is registered.
    let (status, page) = env.analyze(&env.source.url("repos/bad-repo")).await?;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("The descriptor is not valid"), "{page}");
    assert!(page.contains("Not A Valid Name!"), "{page}");

    // A repository whose catalog file is registered already.
    let (status, page) = env
        .analyze(&env.source.url("repos/registered-repo"))
        .await?;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("This location is already registered"),
        "{page}"
    );

    // A missing file on an allowed host.
    let (status, page) = env.analyze(&env.source.url("missing.yaml")).await?;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("The location could not be read"), "{page}");

    // A repository without any catalog file: the analyzer's suggestion.
    let (status, page) = env.analyze(&env.source.url("org/empty-repo")).await?;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("No catalog-info.yaml was found"), "{page}");
    assert!(page.contains("Suggested catalog-info.yaml"), "{page}");
    assert!(page.contains("empty-repo"), "{page}");

    // Register without a target, with a non-URL target, and an oversized form.
    let response = env.post("/catalog-import/register", &[("url", "")]).await?;
    assert_eq!(response.status(), 400);
    assert!(response.text().await?.contains("analyze a URL first"));
    let response = env
        .post("/catalog-import/register", &[("target", "/etc/passwd")])
        .await?;
    assert_eq!(response.status(), 400);
    let huge = "a".repeat(70 * 1024);
    let response = env
        .post("/catalog-import/analyze", &[("url", &huge)])
        .await?;
    assert_eq!(response.status(), 413);

    // The result page with nothing in it, and with a ref that is not one.
    let (status, page) = env.get("/catalog-import/done?entity=nonsense").await?;
    assert_eq!(status, 200);
    assert!(page.contains("Nothing was registered."), "{page}");

    // Nothing above registered a location (config locations are not listed).
    let locations: Value = env
        .http
        .get(env.backend.url("/api/catalog/locations"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(locations, json!([]), "{locations}");

    // /create lists the template with its title (as text), description and
    // tags, and links to the import page; it says the scaffolder is missing.
    let (status, page) = env.get("/create").await?;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Rust service &lt;b&gt;fast&lt;/b&gt;"),
        "{page}"
    );
    assert!(!page.contains("<b>fast</b>"));
    assert!(page.contains("Creates a new Rust service."));
    assert!(page.contains(r#"<span class="badge">rust</span>"#));
    assert!(page.contains(r#"<span class="badge">recommended</span>"#));
    assert!(page.contains(r#"href="/catalog/default/template/rust-service""#));
    assert!(page.contains(r#"href="/catalog-import">Register existing component</a>"#));
    assert!(page.contains("scaffolder"));
    assert!(
        page.contains(r#"<a href="/create" aria-current="page">"#),
        "sidebar item"
    );

    env.backend.stop().await;
    Ok(())
}

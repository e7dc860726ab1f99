//! The catalog's extension points used by a module, over HTTP, on SQLite and
//! PostgreSQL: a placeholder resolver added under a new key (`$upper`, which
//! reads its target through the catalog's reader), one replacing the built-in
//! `$text`, and a location analyzer that `POST /analyze-location` consults before
//! the default analyzer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use greenroom_backend_plugin_api::{BackendError, BackendModule};
use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use greenroom_catalog_client::{
    AnalyzeLocationExistingEntity, AnalyzeLocationResponse, LocationSpec,
};
use greenroom_plugin_catalog_node::{
    AnalyzeRequest, CATALOG_ANALYSIS_EXTENSION_POINT, CATALOG_PROCESSING_EXTENSION_POINT,
    PlaceholderResolver, PlaceholderResolverParams, ScmLocationAnalyzer,
};
use serde_json::{Value, json};

/// `$upper: <path or URL>`: the target's text, upper-cased.
struct Upper;

#[async_trait]
impl PlaceholderResolver for Upper {
    async fn resolve(&self, params: PlaceholderResolverParams<'_>) -> Result<Value, String> {
        let Some(value) = params.value.as_str() else {
            return Err(format!("Placeholder ${} expects a string", params.key));
        };
        let text = params
            .reader
            .read(value)
            .await
            .map_err(|e| format!("Placeholder ${} could not read {value}, {e}", params.key))?;
        Ok(Value::String(text.trim().to_uppercase()))
    }
}

/// Replaces the built-in `$text`: answers without reading anything.
struct NotReallyText;

#[async_trait]
impl PlaceholderResolver for NotReallyText {
    async fn resolve(&self, params: PlaceholderResolverParams<'_>) -> Result<Value, String> {
        Ok(json!(format!(
            "text of {} from {}",
            params.value.as_str().unwrap_or_default(),
            params.base.location_type
        )))
    }
}

/// Knows `https://scm.example.com/<owner>/<repo>` and reports one catalog file.
struct ExampleScm;

#[async_trait]
impl ScmLocationAnalyzer for ExampleScm {
    fn name(&self) -> &str {
        "example-scm"
    }

    fn supports(&self, url: &str) -> bool {
        url.starts_with("https://scm.example.com/")
    }

    async fn analyze(
        &self,
        request: &AnalyzeRequest,
    ) -> Result<AnalyzeLocationResponse, BackendError> {
        if request.url.ends_with("/empty") {
            return Ok(AnalyzeLocationResponse::default());
        }
        let filename = request
            .catalog_filename
            .clone()
            .unwrap_or_else(|| "catalog-info.yaml".to_owned());
        Ok(AnalyzeLocationResponse {
            existing_entity_files: vec![AnalyzeLocationExistingEntity {
                location: LocationSpec {
                    location_type: "url".into(),
                    target: format!("{}/raw/{filename}", request.url),
                },
                is_registered: false,
                entity: json!({
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "Component",
                    "metadata": { "name": "from-analyzer" },
                    "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" },
                }),
            }],
            generate_entities: Vec::new(),
        })
    }
}

fn extensions_module() -> BackendModule {
    BackendModule::new("catalog", "test-extensions", |registrar| {
        registrar.register_init(|env| async move {
            let processing = env.extension_point(&CATALOG_PROCESSING_EXTENSION_POINT)?;
            processing.add_placeholder_resolver("upper", Arc::new(Upper));
            processing.add_placeholder_resolver("$text", Arc::new(NotReallyText));
            let analysis = env.extension_point(&CATALOG_ANALYSIS_EXTENSION_POINT)?;
            analysis.add_location_analyzer(Arc::new(ExampleScm));
            Ok(())
        });
    })
}

/// Polls `check` every 100 ms for up to 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.expect("answered");
    response.json().await.unwrap_or(Value::Null)
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn run(database: Value, name: &str) {
    let files = TestDir::new();
    std::fs::write(files.path().join("desc.txt"), "first description\n").expect("write");
    std::fs::write(files.path().join("owner.json"), "\"team-a\"").expect("write");
    let component = files.path().join("catalog-info.yaml");
    std::fs::write(
        &component,
        "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: extended
  description: { $upper: ./desc.txt }
  annotations:
    example.com/text: { $text: ./notes.md }
spec:
  type: service
  lifecycle: production
  owner: { $json: ./owner.json }
",
    )
    .expect("write");
    let config = json!({
        "backend": { "database": database },
        "catalog": {
            "rules": [{ "allow": ["Component", "Location"] }],
            "locations": [{ "type": "file", "target": component.display().to_string() }],
        },
    });
    let backend = TestBackend::start(
        config,
        vec![
            greenroom_plugin_catalog_backend::plugin().into(),
            extensions_module().into(),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: backend starts: {e}"));
    let client = reqwest::Client::new();
    let api = |path: &str| backend.url(&format!("/api/catalog{path}"));
    let entity_url = api("/entities/by-name/component/default/extended");

    eventually("the component is ingested", || async {
        get(&client, &entity_url).await["kind"] == "Component"
    })
    .await;
    let entity = get(&client, &entity_url).await;
    // The added resolver read the file through the catalog's reader.
    assert_eq!(
        entity["metadata"]["description"], "FIRST DESCRIPTION",
        "{name}: {entity}"
    );
    // The replaced `$text` answered instead of reading (there is no notes.md).
    assert_eq!(
        entity["metadata"]["annotations"]["example.com/text"], "text of ./notes.md from file",
        "{name}: {entity}"
    );
    // The built-in `$json` still works beside them.
    assert_eq!(entity["spec"]["owner"], "team-a", "{name}: {entity}");

    // The added resolver's reads are refreshed like the built-in ones.
    std::fs::write(files.path().join("desc.txt"), "second description").expect("write");
    let (status, _) = post(
        &client,
        &api("/refresh"),
        json!({ "entityRef": "component:default/extended" }),
    )
    .await;
    assert_eq!(status, 200, "{name}");
    eventually("the new description is read", || async {
        get(&client, &entity_url).await["metadata"]["description"] == "SECOND DESCRIPTION"
    })
    .await;

    // The analyzer answers for its URLs, with the requested file name.
    let (status, analysis) = post(
        &client,
        &api("/analyze-location"),
        json!({
            "location": { "type": "url", "target": "https://scm.example.com/acme/shop" },
            "catalogFilename": "backstage.yaml",
        }),
    )
    .await;
    assert_eq!(status, 200, "{name}: {analysis}");
    assert_eq!(
        analysis,
        json!({
            "existingEntityFiles": [{
                "location": { "type": "url", "target": "https://scm.example.com/acme/shop/raw/backstage.yaml" },
                "isRegistered": false,
                "entity": {
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "Component",
                    "metadata": { "name": "from-analyzer" },
                    "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" },
                },
            }],
            "generateEntities": [],
        }),
        "{name}"
    );
    // When it finds nothing, and for URLs it does not support, the default
    // analyzer proposes a component named after the repository.
    for (target, repo) in [
        ("https://scm.example.com/acme/empty", "empty"),
        ("https://git.example.org/acme/billing", "billing"),
    ] {
        let (status, analysis) = post(
            &client,
            &api("/analyze-location"),
            json!({ "location": { "type": "url", "target": target } }),
        )
        .await;
        assert_eq!(status, 200, "{name}: {analysis}");
        assert_eq!(analysis["existingEntityFiles"], json!([]), "{name}");
        assert_eq!(
            analysis["generateEntities"][0]["entity"]["metadata"]["name"], repo,
            "{name}: {analysis}"
        );
    }

    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn module_placeholder_resolvers_and_analyzers_on_sqlite() {
    let data = TestDir::new();
    run(data.sqlite_database_config(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn module_placeholder_resolvers_and_analyzers_on_postgres() {
    let pg = TestPostgres::new();
    run(pg.database_config(json!({})), "postgres").await;
    pg.cleanup().await;
}

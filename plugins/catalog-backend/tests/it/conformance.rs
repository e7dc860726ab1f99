//! Backstage's own clients against Greenroom: the npm packages
//! `@backstage/catalog-client` and `@backstage/catalog-model` drive the catalog
//! API of a running backend (the example catalog, on SQLite and PostgreSQL)
//! through the Node test in `conformance/catalog-client`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use serde_json::{Value, json};

use crate::source_host::serve_dir;

/// The 48 entities of `examples/` plus the Location generated for the config
/// location that points at them.
const EXAMPLE_ENTITIES: u64 = 49;

/// What the dry run reads: one file with two entities, served over HTTP.
const DRY_RUN_FILE: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: conformance-dry-run
  description: Read by a dry run only.
spec:
  type: service
  lifecycle: experimental
  owner: group:default/harbour-ops-team
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: conformance-dry-run-db
spec:
  type: database
  owner: group:default/harbour-ops-team
";

/// Data the examples lack, registered by the differential filter test: another
/// namespace, mixed-case names and values, numbers, booleans, a null, an
/// annotation longer than the 200 characters the search index keeps, labels,
/// values with spaces, and a `javascript:` view URL. `{long}` stands for that
/// long value.
const EDGE_FILE: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: Edge-Service.v2
  namespace: ops-team
  title: Edge Service — Zweite Fassung
  description: Terminates TLS, then routes.
  labels:
    example.com/tier: Gold
  annotations:
    example.com/long-value: {long}
    example.com/with-spaces: two words here
    backstage.io/view-url: \" javascript:alert(1)\"
    backstage.io/edit-url: https://example.com/edit/edge
  tags:
    - c++
    - edge
spec:
  type: Service
  lifecycle: production
  owner: group:ops-team/platform
  system: ops-team/edge
  replicas: 3
  public: true
  retired: null
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: edge-worker
  tags:
    - edge
spec:
  type: service
  lifecycle: experimental
  owner: group:ops-team/platform
  dependsOn:
    - component:Ops-Team/Edge-Service.v2
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: platform
  namespace: ops-team
spec:
  type: team
  profile:
    displayName: Platform Crew
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: edge
  namespace: ops-team
spec:
  owner: platform
";

/// One entity of every built-in kind in namespace `rel`, using every relation
/// field with kinds and namespaces left to their defaults, plus one Component
/// whose `dependsOn` lacks a kind (its processing fails), for the relations test.
const RELATIONS_FILE: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: rel-a
  namespace: rel
spec:
  type: library
  lifecycle: production
  owner: user:jane
  subcomponentOf: rel-b
  providesApis: [rel-api]
  consumesApis: ['api:default/vessel-telemetry', ghost-api]
  dependsOn: ['resource:rel-db', 'component:default/vessel-tracker']
  dependencyOf: ['component:rel-b']
  system: rel-sys
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: rel-bad-dep
  namespace: rel
spec:
  type: library
  lifecycle: production
  owner: jane
  dependsOn: ['rel-db']
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: rel-b
  namespace: rel
spec:
  type: service
  lifecycle: production
  owner: group:default/harbour-ops-team
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: rel-api
  namespace: rel
spec:
  type: openapi
  lifecycle: production
  owner: rel-team
  definition: \"openapi: 3.0.0\"
  system: rel-sys
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: rel-db
  namespace: rel
spec:
  type: database
  owner: rel-team
  dependsOn: ['component:rel-b']
  dependencyOf: ['component:rel-a']
  system: rel-sys
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: rel-sys
  namespace: rel
spec:
  owner: rel-team
  domain: rel-dom
---
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: rel-dom
  namespace: rel
spec:
  owner: rel-team
  subdomainOf: default/harbour-operations
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: rel-team
  namespace: rel
spec:
  type: team
  parent: default/harbour-ops-team
  children: [rel-sub]
  members: [jane, 'user:default/ingrid-solberg']
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: rel-sub
  namespace: rel
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: jane
  namespace: rel
spec:
  memberOf: [rel-sub]
";

/// Both database runs would otherwise race on installing `node_modules`.
static NPM_INSTALL: Mutex<()> = Mutex::new(());

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs a command to completion, failing the test with its output otherwise.
fn run_command(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start (is it installed?): {e}"));
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{text}",
        output.status
    );
}

/// Installs the locked npm packages unless `.ci/run` already did.
fn ensure_node_modules(dir: &Path) {
    let _guard = NPM_INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    run_command(Command::new("node").arg("--version"), "node --version");
    if dir.join("node_modules/@backstage/catalog-client").is_dir()
        && dir.join("node_modules/@backstage/catalog-model").is_dir()
    {
        return;
    }
    run_command(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir),
        "npm ci",
    );
}

async fn run(database: Value, name: &str) {
    let files = TestDir::new();
    std::fs::write(files.path().join("dry-run.yaml"), DRY_RUN_FILE).expect("write");
    let edge = EDGE_FILE.replace("{long}", &"x".repeat(250));
    std::fs::write(files.path().join("edge.yaml"), edge).expect("write");
    std::fs::write(files.path().join("relations.yaml"), RELATIONS_FILE).expect("write");
    let remote = serve_dir(files.path().to_path_buf()).await;
    // As in Backstage, an allowed host is matched with its port.
    let (remote_base, remote_host) = (remote.base.clone(), remote.host.clone());
    let examples = repo_root().join("examples/catalog-info.yaml");
    let config = json!({
        "backend": {
            "database": database,
            "reading": { "allow": [{ "host": remote_host }] },
        },
        "catalog": {
            "rules": [{ "allow": [
                "Component", "System", "API", "Resource", "Location",
                "Domain", "Group", "User", "Template",
            ] }],
            "locations": [{ "type": "file", "target": examples.display().to_string() }],
        },
    });
    let backend = TestBackend::start(
        config,
        vec![greenroom_plugin_catalog_backend::plugin().into()],
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: backend starts: {e}"));
    let base = backend.url("/api/catalog");

    // The Node test asserts on the whole catalog, so it starts once ingestion
    // has finished: every entity present and every relation stitched.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let total = match client
            .get(format!("{base}/entities/by-query?limit=0"))
            .send()
            .await
        {
            Ok(response) => response.json::<Value>().await.ok(),
            Err(_) => None,
        }
        .and_then(|body| body["totalItems"].as_u64());
        if total == Some(EXAMPLE_ENTITIES) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the example catalog was not ingested in time (totalItems {total:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Relations of the last entities processed land with the next stitch.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let owned = client
            .get(format!(
                "{base}/entities/by-query?limit=0&filter=relations.ownedBy"
            ))
            .send()
            .await
            .expect("answered")
            .json::<Value>()
            .await
            .expect("json");
        let all_owned = client
            .get(format!(
                "{base}/entities/by-query?limit=0&filter=spec.owner"
            ))
            .send()
            .await
            .expect("answered")
            .json::<Value>()
            .await
            .expect("json");
        if owned["totalItems"] == all_owned["totalItems"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: relations never stitched"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let dir = repo_root().join("conformance/catalog-client");
    let node_dir = dir.clone();
    let dry_run_url = format!("{remote_base}/dry-run.yaml");
    // The Node test edits a served file to see processing errors come and go.
    let source_dir = files.path().to_path_buf();
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        ensure_node_modules(&node_dir);
        Command::new("node")
            .args(["--test", "--test-reporter=tap", "catalog.test.mjs"])
            .current_dir(&node_dir)
            .env("GREENROOM_CATALOG_URL", base)
            .env("GREENROOM_DRY_RUN_URL", dry_run_url)
            .env("GREENROOM_SOURCE_DIR", source_dir)
            .env("GREENROOM_EXAMPLE_ENTITIES", EXAMPLE_ENTITIES.to_string())
            .output()
    })
    .await
    .expect("the node runner thread")
    .unwrap_or_else(|e| panic!("{name}: cannot start node (is it installed?): {e}"));
    let report = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{name}: the catalog-client conformance test failed ({}) after {:?}:\n{report}",
        output.status,
        started.elapsed()
    );
    // A passing run must have run tests: guard against an emptied file.
    let passed = report
        .lines()
        .find_map(|line| line.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse::<u32>().ok());
    assert!(
        passed.is_some_and(|n| n >= 20),
        "{name}: too few Node tests ran ({passed:?}):\n{report}"
    );

    backend.stop().await;
    drop(remote);
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_client_conformance_on_sqlite() {
    let data = TestDir::new();
    run(data.sqlite_database_config(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_client_conformance_on_postgres() {
    let pg = TestPostgres::new();
    run(pg.database_config(json!({})), "postgres").await;
    pg.cleanup().await;
}

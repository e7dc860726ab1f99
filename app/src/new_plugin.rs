//! `greenroom new plugin <id>`: scaffolds a backend plugin and adds it to the app.
//!
//! The new crate `plugins/<id>-backend` (package `greenroom-plugin-<id>-backend`)
//! has a router with two routes, an embedded migration in the plugin's own
//! database, and an end-to-end test that runs on SQLite and PostgreSQL. The
//! command also registers the crate in the workspace dependencies, the app's
//! `Cargo.toml` and the app's plugin list, so `greenroom serve` mounts it at
//! `/api/<id>`. It refuses to overwrite anything that exists.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::output;

/// The line in `app/src/serve.rs` above which generated plugins are added.
pub(crate) const SERVE_MARKER: &str = "// greenroom:new-plugin";

/// Checks a plugin id: a lower-case letter, then lower-case letters, digits and
/// single hyphens, at most 40 characters, not ending in a hyphen.
fn check_id(id: &str) -> anyhow::Result<()> {
    let ok = id.len() <= 40
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!(
            "invalid plugin id '{id}': use a lower-case letter followed by lower-case letters, digits and single hyphens (at most 40 characters), e.g. 'tech-radar'"
        );
    }
    if id.ends_with("-backend") {
        bail!("invalid plugin id '{id}': leave out '-backend', it is added to the crate name");
    }
    Ok(())
}

/// Finds the workspace root: the nearest folder above `start` holding both a
/// `Cargo.toml` with `[workspace]` and the app's `src/serve.rs`.
fn find_root(start: &Path) -> anyhow::Result<PathBuf> {
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        let is_workspace = std::fs::read_to_string(&manifest)
            .map(|t| t.lines().any(|l| l.trim() == "[workspace]"))
            .unwrap_or(false);
        if is_workspace && dir.join("app/src/serve.rs").is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "no Greenroom workspace found at or above {}: run this inside a checkout of the Greenroom repository",
        start.display()
    )
}

pub(crate) fn run(id: &str) -> anyhow::Result<ExitCode> {
    check_id(id)?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = find_root(&cwd)?;
    let created = generate(&root, id)?;
    let mut text = format!("Created plugin '{id}' in {}:\n", created.display());
    text.push_str(&format!(
        "  routes:  GET/POST /api/{id}/items\n  test:    cargo test -p greenroom-plugin-{id}-backend\n  mounted: added to the app's plugins in app/src/serve.rs\n"
    ));
    output::out(&text);
    Ok(ExitCode::SUCCESS)
}

/// Writes the plugin and wires it in; returns the plugin's folder.
pub(crate) fn generate(root: &Path, id: &str) -> anyhow::Result<PathBuf> {
    let crate_name = format!("greenroom-plugin-{id}-backend");
    let lib_name = crate_name.replace('-', "_");
    let dir = root.join("plugins").join(format!("{id}-backend"));
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }

    // Read and check everything that will be edited before writing anything, so
    // that a failure leaves the workspace as it was.
    let workspace_manifest = root.join("Cargo.toml");
    let workspace_text = read(&workspace_manifest)?;
    if workspace_text.contains(&format!("{crate_name} =")) {
        bail!("{crate_name} is already a workspace dependency");
    }
    let workspace_text = add_after_line(
        &workspace_text,
        "[workspace.dependencies]",
        &format!("{crate_name} = {{ path = \"plugins/{id}-backend\" }}"),
    )
    .with_context(|| {
        format!(
            "{}: no [workspace.dependencies] table",
            workspace_manifest.display()
        )
    })?;

    let app_manifest = root.join("app/Cargo.toml");
    let app_text = add_after_line(
        &read(&app_manifest)?,
        "[dependencies]",
        &format!("{crate_name}.workspace = true"),
    )
    .with_context(|| format!("{}: no [dependencies] table", app_manifest.display()))?;

    let serve = root.join("app/src/serve.rs");
    let serve_text = read(&serve)?;
    let Some(marker_at) = serve_text.find(SERVE_MARKER) else {
        bail!("{}: the line '{SERVE_MARKER}' is missing", serve.display());
    };
    let line_start = serve_text[..marker_at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &serve_text[line_start..marker_at];
    let serve_text = format!(
        "{}{indent}{lib_name}::plugin().into(),\n{}",
        &serve_text[..line_start],
        &serve_text[line_start..]
    );

    let table = format!("{}_items", id.replace('-', "_"));
    let files = [
        ("Cargo.toml", cargo_toml(id, &crate_name)),
        ("README.md", readme(id, &crate_name)),
        // Generated keys are the one thing the two dialects spell differently.
        (
            "migrations/0001_items.postgres.sql",
            format!(
                "CREATE TABLE {table} (\n  id BIGSERIAL PRIMARY KEY,\n  name TEXT NOT NULL,\n  created_at BIGINT NOT NULL\n);\n"
            ),
        ),
        (
            "migrations/0001_items.sqlite.sql",
            format!(
                "CREATE TABLE {table} (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  name TEXT NOT NULL,\n  created_at BIGINT NOT NULL\n);\n"
            ),
        ),
        ("src/lib.rs", lib_rs(id, &table)),
        ("tests/it/main.rs", test_rs(id, &lib_name)),
    ];
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    write(&workspace_manifest, &workspace_text)?;
    write(&app_manifest, &app_text)?;
    write(&serve, &serve_text)?;
    format_sources(&dir);
    Ok(dir)
}

/// Lays the generated Rust out as `cargo fmt` would, since line breaks depend on
/// the id's length. Formatting is a nicety: without `rustfmt` the code still builds.
fn format_sources(dir: &Path) {
    let files = [dir.join("src/lib.rs"), dir.join("tests/it/main.rs")];
    let status = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(&files)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        output::error_line("note: rustfmt did not run; format the new plugin with `cargo fmt`");
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `text` with `line` inserted right after the line that equals `after`.
fn add_after_line(text: &str, after: &str, line: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + line.len() + 1);
    let mut done = false;
    for current in text.split_inclusive('\n') {
        out.push_str(current);
        if !done && current.trim_end() == after {
            out.push_str(line);
            out.push('\n');
            done = true;
        }
    }
    done.then_some(out)
}

fn cargo_toml(id: &str, crate_name: &str) -> String {
    format!(
        r#"[package]
name = "{crate_name}"
description = "The {id} backend plugin for Greenroom."
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
axum.workspace = true
greenroom-backend-database.workspace = true
greenroom-backend-plugin-api.workspace = true
serde.workspace = true
serde_json.workspace = true
sqlx.workspace = true

[dev-dependencies]
greenroom-backend-test-utils = {{ workspace = true, features = ["backend"] }}
reqwest.workspace = true
tokio = {{ workspace = true, features = ["rt-multi-thread"] }}

[[test]]
name = "it"
path = "tests/it/main.rs"

[lints]
workspace = true
"#
    )
}

fn readme(id: &str, crate_name: &str) -> String {
    format!(
        "# {crate_name}\n\nThe `{id}` backend plugin, mounted at `/api/{id}`.\n\n\
         - `GET /api/{id}/items`: every item, oldest first.\n\
         - `POST /api/{id}/items` with `{{\"name\": \"...\"}}`: adds an item (201).\n\n\
         Its table lives in the plugin's own database; `migrations/` holds its schema.\n\
         Run its tests with `cargo test -p {crate_name}`.\n"
    )
}

fn lib_rs(id: &str, table: &str) -> String {
    let template = r#"//! The `__ID__` backend plugin: a router at `/api/__ID__` over a table in the
//! plugin's own database.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use greenroom_backend_database::{Migration, run_migrations};
use greenroom_backend_plugin_api::http::{ApiError, Json};
use greenroom_backend_plugin_api::services::{DATABASE, Database, HTTP_ROUTER};
use greenroom_backend_plugin_api::{BackendError, BackendPlugin};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

/// The plugin id, and so the path under `/api`.
pub const PLUGIN_ID: &str = "__ID__";

const MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "items table",
    include_str!("../migrations/0001_items.postgres.sql"),
)
.with_sqlite(include_str!("../migrations/0001_items.sqlite.sql"))];

/// The plugin, to add to a backend.
pub fn plugin() -> BackendPlugin {
    BackendPlugin::new(PLUGIN_ID, |registrar| {
        registrar.register_init(|env| async move {
            let database = env.get(&DATABASE).await?;
            let db = database.client().await?;
            if !database.skip_migrations() {
                run_migrations(&db, "__TABLE___migrations", MIGRATIONS).await?;
            }
            let router = Router::new()
                .route("/items", get(list).post(create))
                .with_state(Arc::new(db));
            env.get(&HTTP_ROUTER).await?.use_router(router);
            Ok(())
        });
    })
}

/// Runs the same statement on whichever pool the plugin was given.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

async fn list(State(db): State<Arc<Database>>) -> Result<Json<Value>, ApiError> {
    const SQL: &str = "SELECT id, name FROM __TABLE__ ORDER BY id";
    let items = on_pool!(db.as_ref(), |pool| {
        let rows = sqlx::query(SQL).fetch_all(pool).await.map_err(BackendError::from)?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let name: String = row.try_get("name")?;
                Ok(json!({ "id": id, "name": name }))
            })
            .collect::<Result<Vec<Value>, sqlx::Error>>()
            .map_err(BackendError::from)?
    });
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewItem {
    name: String,
}

async fn create(
    State(db): State<Arc<Database>>,
    Json(item): Json<NewItem>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = item.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(BackendError::input("name must be 1 to 200 characters").into());
    }
    const SQL: &str = "INSERT INTO __TABLE__ (name, created_at) VALUES ($1, $2) RETURNING id";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let id: i64 = on_pool!(db.as_ref(), |pool| sqlx::query(SQL)
        .bind(name)
        .bind(now)
        .fetch_one(pool)
        .await
        .and_then(|row| row.try_get("id"))
        .map_err(BackendError::from)?);
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "name": name }))))
}
"#;
    template.replace("__ID__", id).replace("__TABLE__", table)
}

fn test_rs(id: &str, lib_name: &str) -> String {
    let template = r#"//! End-to-end tests of the `__ID__` plugin on a running backend, on SQLite and PostgreSQL.

use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use serde_json::{Value, json};

async fn items_round_trip(database: Value) {
    let config = json!({ "backend": { "database": database } });
    let backend = TestBackend::start(config, vec![__LIB__::plugin().into()])
        .await
        .expect("the backend starts");
    let client = reqwest::Client::new();
    let url = backend.url("/api/__ID__/items");

    let created = client.post(&url).json(&json!({"name": "first"})).send().await.expect("POST");
    assert_eq!(created.status().as_u16(), 201);
    let refused = client.post(&url).json(&json!({"name": " "})).send().await.expect("POST");
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.expect("an error body");
    assert_eq!(body["error"]["name"], "InputError");

    let listed: Value = client.get(&url).send().await.expect("GET").json().await.expect("JSON");
    assert_eq!(listed, json!({"items": [{"id": 1, "name": "first"}]}));
    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn items_round_trip_on_sqlite() {
    let dir = TestDir::new();
    items_round_trip(json!({
        "client": "better-sqlite3",
        "connection": { "directory": dir.path().display().to_string() },
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn items_round_trip_on_postgres() {
    let pg = TestPostgres::new();
    items_round_trip(pg.database_config(json!({}))).await;
    pg.cleanup().await;
}
"#;
    template.replace("__ID__", id).replace("__LIB__", lib_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for good in ["tech-radar", "a", "notes2", "x-1-y"] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Tech",
            "-a",
            "a-",
            "a--b",
            "a_b",
            "9lives",
            "todo-backend",
            &"a".repeat(41),
        ] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_are_added_after_their_table() {
        let text = "[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\n";
        assert_eq!(
            add_after_line(text, "[dependencies]", "new = \"2\"").as_deref(),
            Some("[package]\nname = \"x\"\n\n[dependencies]\nnew = \"2\"\nserde = \"1\"\n")
        );
        assert_eq!(add_after_line(text, "[nothing]", "x"), None);
    }
}

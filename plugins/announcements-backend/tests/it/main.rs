//! End-to-end tests of the announcements plugin on a running backend, against
//! SQLite and PostgreSQL: its database, cache and scheduled task all take part.

use std::time::{Duration, Instant};

use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use greenroom_plugin_announcements_backend::{EXPIRY_TASK_ID, plugin};
use serde_json::{Value, json};

/// One storage setup: the config for it, and a way to write behind the API's back.
enum Setup {
    Sqlite(TestDir),
    Postgres(TestPostgres),
}

impl Setup {
    fn all() -> Vec<Setup> {
        vec![
            Setup::Sqlite(TestDir::new()),
            Setup::Postgres(TestPostgres::new()),
        ]
    }

    fn name(&self) -> &'static str {
        match self {
            Setup::Sqlite(_) => "sqlite",
            Setup::Postgres(_) => "postgres",
        }
    }

    fn config(&self) -> Value {
        let database = match self {
            Setup::Sqlite(dir) => json!({
                "client": "better-sqlite3",
                "connection": { "directory": dir.path().display().to_string() },
            }),
            Setup::Postgres(pg) => pg.database_config(json!({})),
        };
        json!({
            "backend": { "database": database },
            "announcements": { "expiry": { "frequency": { "trigger": "manual" }, "timeout": { "seconds": 10 } } },
        })
    }

    /// Inserts a row straight into the plugin's table, bypassing the API and its cache.
    async fn insert_behind_the_api(&self, id: &str) {
        const SQL: &str =
            "INSERT INTO announcements (id, title, body, created_at) VALUES ($1, 'sneaky', '', 0)";
        match self {
            Setup::Sqlite(dir) => {
                let url = format!(
                    "sqlite://{}",
                    dir.path().join("announcements.sqlite").display()
                );
                let pool = sqlx::SqlitePool::connect(&url)
                    .await
                    .expect("sqlite file opens");
                sqlx::query(SQL)
                    .bind(id)
                    .execute(&pool)
                    .await
                    .expect("insert");
                pool.close().await;
            }
            Setup::Postgres(pg) => {
                let pool = pg.connect(&format!("{}announcements", pg.prefix())).await;
                sqlx::query(SQL)
                    .bind(id)
                    .execute(&pool)
                    .await
                    .expect("insert");
                pool.close().await;
            }
        }
    }

    async fn cleanup(self) {
        if let Setup::Postgres(pg) = self {
            pg.cleanup().await;
        }
    }
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request is answered");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body reads");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn announcements_live_in_the_database_are_cached_and_expire_on_schedule() {
    for setup in Setup::all() {
        let name = setup.name();
        let backend = TestBackend::start(setup.config(), vec![plugin().into()])
            .await
            .unwrap_or_else(|e| panic!("{name}: backend starts: {e}"));
        let client = reqwest::Client::new();
        let list_url = backend.url("/api/announcements/announcements");
        use reqwest::Method;

        let (status, body) = call(&client, Method::GET, &list_url, None).await;
        assert_eq!(
            (status, body["totalItems"].clone()),
            (200, json!(0)),
            "{name}"
        );

        let (status, created) = call(
            &client,
            Method::POST,
            &list_url,
            Some(json!({"title": "Catalog maintenance", "body": "Read-only on Saturday."})),
        )
        .await;
        assert_eq!(status, 201, "{name}: {created}");
        let kept_id = created["id"].as_str().expect("an id").to_owned();
        assert!(
            created["createdAt"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{created}"
        );

        // Expires in a moment: hidden from the list as soon as it expires.
        let soon = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis()
            + 1_500;
        let (status, short) = call(
            &client,
            Method::POST,
            &list_url,
            Some(json!({"title": "Fire drill", "expiresAt": rfc3339(soon)})),
        )
        .await;
        assert_eq!(status, 201, "{name}: {short}");
        let short_id = short["id"].as_str().expect("an id").to_owned();

        let (_, body) = call(&client, Method::GET, &list_url, None).await;
        assert_eq!(body["totalItems"], 2, "{name}: {body}");
        assert_eq!(body["items"][0]["id"], short_id.as_str(), "newest first");

        // The list is served from the cache: a row written behind the API's back
        // does not show until a write through the API clears the cache.
        setup.insert_behind_the_api("sneaky-1").await;
        let (_, body) = call(&client, Method::GET, &list_url, None).await;
        assert_eq!(body["totalItems"], 2, "{name}: cached list");

        tokio::time::sleep(Duration::from_millis(1_700)).await;
        let (_, body) = call(&client, Method::GET, &list_url, None).await;
        assert_eq!(
            body["totalItems"], 2,
            "{name}: expired one hidden, sneaky row now visible: {body}"
        );
        assert!(
            body["items"]
                .as_array()
                .is_some_and(|items| items.iter().all(|i| i["id"] != short_id.as_str()))
        );

        // The expired row is still stored until the scheduled sweep runs.
        let one = backend.url(&format!("/api/announcements/announcements/{short_id}"));
        assert_eq!(
            call(&client, Method::GET, &one, None).await.0,
            200,
            "{name}"
        );
        let trigger = backend.url(&format!(
            "/api/announcements/.backstage/scheduler/v1/tasks/{EXPIRY_TASK_ID}/trigger"
        ));
        let (status, body) = call(&client, Method::POST, &trigger, None).await;
        assert!(status < 300, "{name}: trigger answered {status} {body}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = call(&client, Method::GET, &one, None).await;
            if status == 404 {
                assert_eq!(body["error"]["name"], "NotFoundError", "{body}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: the sweep did not delete the expired announcement"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Bad input is refused with Backstage's error body.
        let (status, body) = call(
            &client,
            Method::POST,
            &list_url,
            Some(json!({"title": "  "})),
        )
        .await;
        assert_eq!(
            (status, body["error"]["name"].clone()),
            (400, json!("InputError")),
            "{name}"
        );
        let (status, _) = call(
            &client,
            Method::POST,
            &list_url,
            Some(json!({"title": "x", "colour": "red"})),
        )
        .await;
        assert_eq!(status, 400, "{name}: unknown fields are refused");
        let (status, body) = call(
            &client,
            Method::POST,
            &list_url,
            Some(json!({"title": "x", "expiresAt": "soon"})),
        )
        .await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("expiresAt"))
        );

        backend.stop().await;

        // The data outlives the process: a new backend on the same database sees it,
        // and re-running the migrations is harmless.
        let backend = TestBackend::start(setup.config(), vec![plugin().into()])
            .await
            .unwrap_or_else(|e| panic!("{name}: backend restarts: {e}"));
        let one = backend.url(&format!("/api/announcements/announcements/{kept_id}"));
        let (status, body) = call(&client, Method::GET, &one, None).await;
        assert_eq!(
            (status, body["title"].clone()),
            (200, json!("Catalog maintenance")),
            "{name}"
        );
        assert_eq!(
            call(&client, Method::DELETE, &one, None).await.0,
            204,
            "{name}"
        );
        assert_eq!(
            call(&client, Method::GET, &one, None).await.0,
            404,
            "{name}"
        );
        assert_eq!(
            call(&client, Method::DELETE, &one, None).await.0,
            404,
            "{name}"
        );
        backend.stop().await;
        setup.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_expiry_schedule_fails_start_up_naming_the_key() {
    let config = json!({ "announcements": { "expiry": { "frequency": "every minute" } } });
    let err = TestBackend::start(config, vec![plugin().into()])
        .await
        .expect_err("a bad frequency must fail start-up");
    assert!(
        err.message.contains("announcements.expiry.frequency"),
        "{err}"
    );
}

/// `ms` since the epoch as an RFC 3339 UTC time.
fn rfc3339(ms: u128) -> String {
    greenroom_backend_plugin_api::time::format_rfc3339(i64::try_from(ms).expect("small"))
}

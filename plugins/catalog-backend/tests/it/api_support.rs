//! Test fixtures for the REST API: an index filled with final entities, an
//! engine on a fresh SQLite database, and one call through the router (mounted
//! under `/api/catalog` behind the runtime's error-body middleware).

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use greenroom_backend_defaults::http::errors::complete_error_body;
use greenroom_backend_test_utils::database::{TestDatabase, TestDatabaseKind, TestDatabases};
use greenroom_catalog_query::CatalogIndex;
use greenroom_plugin_catalog_backend::api::{ApiState, router};
use greenroom_plugin_catalog_backend::engine::{CatalogEngine, OrphanStrategy};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The uid of fixture entity `n`: fixed, so uid order is known (and differs from name order).
pub(crate) fn uid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn entity(kind: &str, name: &str, n: u32, spec: Value, extra: Value) -> Value {
    let mut e = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": { "name": name, "namespace": "default", "uid": uid(n), "etag": format!("etag-{n}") },
        "spec": spec,
    });
    if let (Some(target), Value::Object(extra)) = (e.as_object_mut(), extra) {
        for (k, v) in extra {
            if k == "metadata" {
                if let (Some(meta), Value::Object(m)) =
                    (target.get_mut("metadata").and_then(Value::as_object_mut), v)
                {
                    meta.extend(m);
                }
            } else {
                target.insert(k, v);
            }
        }
    }
    e
}

fn owned_by(group: &str) -> Value {
    json!([{ "type": "ownedBy", "targetRef": format!("group:default/{group}") }])
}

/// The fixture catalog: five components, one API, two groups, two users.
/// Names sorted: adam, billing, cart, orders-api, payments-api, team-a, team-b,
/// web-shop, zeta, zoe. Uids are assigned out of name order.
pub(crate) fn fixture_entities() -> Vec<Value> {
    let long = "x".repeat(250);
    vec![
        entity(
            "Component",
            "Payments-API",
            5,
            json!({"type": "service", "lifecycle": "production", "owner": "team-a"}),
            json!({
                "metadata": {
                    "title": "Payments API",
                    "tags": ["java", "payments"],
                    "annotations": {
                        "backstage.io/view-url": "https://git.example.com/acme/payments",
                        "backstage.io/edit-url": "https://git.example.com/acme/payments/edit"
                    }
                },
                "relations": owned_by("team-a"),
            }),
        ),
        entity(
            "Component",
            "billing",
            2,
            json!({"type": "Website", "lifecycle": "production", "owner": "team-b"}),
            json!({"metadata": {"tags": ["Java"]}, "relations": owned_by("team-b")}),
        ),
        entity(
            "Component",
            "cart",
            9,
            json!({"type": null, "lifecycle": "experimental"}),
            json!({}),
        ),
        entity(
            "Component",
            "zeta",
            1,
            json!({"lifecycle": "experimental", "note": long}),
            json!({}),
        ),
        entity(
            "Component",
            "web-shop",
            7,
            json!({"type": "website", "lifecycle": "production", "owner": "team-a"}),
            json!({"relations": owned_by("team-a")}),
        ),
        entity(
            "API",
            "orders-api",
            3,
            json!({"type": "openapi", "owner": "team-a"}),
            json!({"relations": owned_by("team-a")}),
        ),
        entity("Group", "team-a", 4, json!({"type": "team"}), json!({})),
        entity("Group", "team-b", 8, json!({"type": "team"}), json!({})),
        entity(
            "User",
            "adam",
            6,
            json!({"memberOf": ["team-a"]}),
            json!({}),
        ),
        entity(
            "User",
            "zoe",
            10,
            json!({"memberOf": ["team-b"]}),
            json!({}),
        ),
    ]
}

/// A router over the fixture index and an engine on a fresh SQLite database.
pub(crate) struct Api {
    pub(crate) app: Router,
    pub(crate) test_db: TestDatabase,
}

impl Api {
    pub(crate) async fn new() -> Api {
        let mut index = CatalogIndex::new();
        for e in fixture_entities() {
            index.upsert(e).expect("fixture entity indexes");
        }
        let test_db = TestDatabases::init(TestDatabaseKind::Sqlite).await;
        let engine =
            CatalogEngine::for_stitching_tests(test_db.database().clone(), OrphanStrategy::Keep)
                .await
                .expect("engine");
        let state = Arc::new(ApiState {
            sync: None,
            engine,
            index: Arc::new(RwLock::new(index)),
            hot_texts: greenroom_catalog_query::HotTexts::default(),
        });
        let app = Router::new()
            .nest("/api/catalog", router(state))
            .layer(axum::middleware::from_fn(complete_error_body));
        Api { app, test_db }
    }

    /// Sends one request; `body` is `(content type, text)`.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<(Option<&str>, &str)>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/catalog{path}"));
        let body = match body {
            None => Body::empty(),
            Some((content_type, text)) => {
                if let Some(ct) = content_type {
                    request = request.header(header::CONTENT_TYPE, ct);
                }
                Body::from(text.to_owned())
            }
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .expect("body");
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, headers, value)
    }

    pub(crate) async fn cleanup(self) {
        self.test_db.cleanup().await;
    }
}

/// `metadata.name` of each entity of an array (`-` for nulls and projections without one).
pub(crate) fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    e.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("-")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

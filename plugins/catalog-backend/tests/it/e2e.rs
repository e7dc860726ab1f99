//! The catalog plugin on a whole backend, driven over HTTP, on SQLite and
//! PostgreSQL: a config location ingested to the end, a broken edit keeping the
//! last good version with its error, and registered locations served by a
//! loopback HTTP server (standing in for a source host) created, listed, tried
//! in a dry run, refused twice, and deleted with their entities.

use std::time::{Duration, Instant};

use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use serde_json::{Value, json};

use crate::source_host::serve_dir;

const TEAM: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
";

fn component(name: &str, tag: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  tags: [{tag}]\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.expect("answered");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A whole backend with the catalog plugin on `config`; `what` names it in a failure.
async fn start_catalog(config: Value, what: &str) -> TestBackend {
    TestBackend::start(
        config,
        vec![greenroom_plugin_catalog_backend::plugin().into()],
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: backend starts: {e}"))
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

async fn run(database: Value, name: &str) {
    let files = TestDir::new();
    std::fs::write(files.path().join("team.yaml"), TEAM).expect("write");
    std::fs::write(files.path().join("web.yaml"), component("web", "rust")).expect("write");
    let root = files.path().join("catalog-info.yaml");
    std::fs::write(
        &root,
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets: [./team.yaml, ./web.yaml]\n",
    )
    .expect("write");
    let remote = serve_dir(files.path().to_path_buf()).await;
    // As in Backstage, an allowed host is matched with its port.
    let (remote_base, remote_host) = (remote.base.clone(), remote.host.clone());

    let config = json!({
        "backend": {
            "database": database,
            "reading": { "allow": [{ "host": remote_host }] },
        },
        "catalog": {
            "rules": [{ "allow": ["Component", "Group", "Location", "API"] }],
            "locations": [{ "type": "file", "target": root.display().to_string() }],
            "orphanStrategy": "keep",
        },
    });
    let backend = start_catalog(config, name).await;
    let client = reqwest::Client::new();
    let api = |path: &str| backend.url(&format!("/api/catalog{path}"));

    // Ingested to the end: two Locations, the group and the component, with
    // relations on both ends.
    eventually("the config location is ingested", || async {
        get(&client, &api("/entities/by-query?limit=0")).await.1["totalItems"] == 4
    })
    .await;
    let (status, web) = get(&client, &api("/entities/by-name/component/default/web")).await;
    assert_eq!(status, 200, "{name}: {web}");
    assert_eq!(
        web["relations"],
        json!([{"type": "ownedBy", "targetRef": "group:default/team-a"}])
    );
    let (_, team) = get(&client, &api("/entities/by-name/group/default/team-a")).await;
    assert_eq!(
        team["relations"],
        json!([{"type": "ownerOf", "targetRef": "component:default/web"}])
    );
    let uid = web["metadata"]["uid"].as_str().expect("uid").to_owned();
    let etag = web["metadata"]["etag"].as_str().expect("etag").to_owned();

    // A broken edit keeps the last good version, with the error in status.items.
    std::fs::write(files.path().join("web.yaml"), component("web", "Bad Tag")).expect("write");
    let (status, _) = post(
        &client,
        &api("/refresh"),
        json!({"entityRef": "component:default/web"}),
    )
    .await;
    assert_eq!(status, 200, "{name}");
    eventually("the broken edit shows as an error", || async {
        let (_, web) = get(&client, &api("/entities/by-name/component/default/web")).await;
        web["status"]["items"][0]["type"] == "backstage.io/catalog-processing"
    })
    .await;
    let (_, broken) = get(&client, &api("/entities/by-name/component/default/web")).await;
    assert_eq!(
        broken["metadata"]["tags"],
        json!(["rust"]),
        "{name}: last good content kept"
    );
    assert_eq!(broken["status"]["items"][0]["level"], "error");
    assert_eq!(broken["metadata"]["uid"], uid.as_str(), "uid is stable");
    assert_ne!(
        broken["metadata"]["etag"],
        etag.as_str(),
        "etag changes with the status"
    );

    // Fixing the file clears the error and serves the new content.
    std::fs::write(files.path().join("web.yaml"), component("web", "go")).expect("write");
    post(
        &client,
        &api("/refresh"),
        json!({"entityRef": "component:default/web"}),
    )
    .await;
    eventually("the fix clears the error", || async {
        let (_, web) = get(&client, &api("/entities/by-name/component/default/web")).await;
        web["metadata"]["tags"] == json!(["go"])
            && web
                .get("status")
                .is_none_or(|s| s["items"].as_array().is_none_or(Vec::is_empty))
    })
    .await;

    // Registered locations: a URL on the loopback source host.
    std::fs::write(files.path().join("api.yaml"), "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: orders\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition: 'openapi: 3.0.0'\n").expect("write");
    let target = format!("{remote_base}/api.yaml");
    let (status, dry) = post(
        &client,
        &api("/locations?dryRun=true"),
        json!({"type": "url", "target": target}),
    )
    .await;
    assert_eq!(status, 201, "{name}: {dry}");
    assert_eq!(dry["exists"], false);
    assert_eq!(dry["entities"][0]["kind"], "Location");
    assert!(
        dry["entities"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["metadata"]["name"] == "orders")),
        "{dry}"
    );
    assert_eq!(
        get(&client, &api("/locations")).await.1,
        json!([]),
        "a dry run stores nothing"
    );

    let (status, created) = post(
        &client,
        &api("/locations"),
        json!({"type": "url", "target": target}),
    )
    .await;
    assert_eq!(status, 201, "{name}: {created}");
    let id = created["location"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let (status, again) = post(
        &client,
        &api("/locations"),
        json!({"type": "url", "target": target}),
    )
    .await;
    assert_eq!(
        (status, again["error"]["name"].clone()),
        (409, json!("ConflictError")),
        "{name}"
    );
    eventually("the registered location is ingested", || async {
        get(&client, &api("/entities/by-name/api/default/orders"))
            .await
            .0
            == 200
    })
    .await;
    let (status, listed) = get(&client, &api("/locations")).await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["data"]["id"], id.as_str(), "{listed}");
    let (status, by_entity) = get(&client, &api("/locations/by-entity/api/default/orders")).await;
    assert_eq!(
        (status, by_entity["id"].clone()),
        (200, json!(id)),
        "{name}: {by_entity}"
    );
    let (status, ancestry) = get(
        &client,
        &api("/entities/by-name/api/default/orders/ancestry"),
    )
    .await;
    assert_eq!(status, 200, "{name}: {ancestry}");
    assert_eq!(
        ancestry["items"].as_array().map(Vec::len),
        Some(2),
        "{ancestry}"
    );

    let response = client
        .delete(api(&format!("/locations/{id}")))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 204);
    eventually("deleting the location removes its entities", || async {
        get(&client, &api("/entities/by-name/api/default/orders"))
            .await
            .0
            == 404
    })
    .await;
    assert_eq!(get(&client, &api(&format!("/locations/{id}"))).await.0, 404);

    backend.stop().await;
    drop(remote);
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_end_to_end_on_sqlite() {
    let data = TestDir::new();
    run(data.sqlite_database_config(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_end_to_end_on_postgres() {
    let pg = TestPostgres::new();
    run(pg.database_config(json!({})), "postgres").await;
    pg.cleanup().await;
}

/// Two instances on one PostgreSQL database ingest the same catalog: every
/// entity exists once, and both instances serve the same final JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_ingest_one_catalog() {
    const TEAMS: usize = 20;
    const PER_TEAM: usize = 60;
    let pg = TestPostgres::new();
    let files = TestDir::new();
    let mut targets = Vec::new();
    for t in 0..TEAMS {
        let mut text = format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{t}\nspec:\n  type: team\n  children: []\n"
        );
        for c in 0..PER_TEAM {
            text.push_str(&format!(
                "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc-{t}-{c}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-{t}\n  dependsOn: [component:svc-{}-{c}]\n",
                (t + 1) % TEAMS
            ));
        }
        std::fs::write(files.path().join(format!("team-{t}.yaml")), text).expect("write");
        targets.push(format!("./team-{t}.yaml"));
    }
    let root = files.path().join("catalog-info.yaml");
    std::fs::write(
        &root,
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets: [{}]\n",
            targets.join(", ")
        ),
    )
    .expect("write");
    let config = json!({
        "backend": { "database": pg.database_config(json!({})) },
        "catalog": {
            "rules": [{ "allow": ["Component", "Group", "Location"] }],
            "locations": [{ "type": "file", "target": root.display().to_string() }],
        },
    });
    let first = start_catalog(config.clone(), "first instance").await;
    let second = start_catalog(config, "second instance").await;
    let client = reqwest::Client::new();
    // The groups, the components, the root Location and the generated one.
    let expected = TEAMS * (PER_TEAM + 1) + 2;
    for backend in [&first, &second] {
        let url = backend.url("/api/catalog/entities/by-query?limit=0");
        eventually("both instances see the whole catalog", || async {
            get(&client, &url).await.1["totalItems"] == expected
        })
        .await;
    }
    // Stitching settles within moments of the counts matching; until then an
    // instance may serve a relation the other has not indexed yet.
    let fetch_all = |backend: &TestBackend| {
        let url = backend.url("/api/catalog/entities");
        let client = client.clone();
        async move {
            let (status, all) = get(&client, &url).await;
            assert_eq!(status, 200);
            let mut entities: Vec<Value> = all.as_array().cloned().unwrap_or_default();
            entities.sort_by_key(|e| {
                format!(
                    "{}:{}/{}",
                    e["kind"].as_str().unwrap_or_default().to_lowercase(),
                    e["metadata"]["namespace"].as_str().unwrap_or_default(),
                    e["metadata"]["name"].as_str().unwrap_or_default()
                )
            });
            entities
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let served = loop {
        let served = vec![fetch_all(&first).await, fetch_all(&second).await];
        if served[0] == served[1] || Instant::now() > deadline {
            break served;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        served[0].len(),
        expected,
        "no entity lost and none duplicated"
    );
    let refs: std::collections::BTreeSet<String> = served[0]
        .iter()
        .map(|e| format!("{}/{}", e["kind"], e["metadata"]["name"]))
        .collect();
    assert_eq!(refs.len(), expected, "every entity exists once");
    assert_eq!(
        served[0], served[1],
        "both instances serve the same final JSON"
    );
    let web = served[0]
        .iter()
        .find(|e| e["metadata"]["name"] == "svc-0-0")
        .expect("a component");
    assert_eq!(
        web["relations"],
        json!([
            {"type": "dependencyOf", "targetRef": "component:default/svc-19-0"},
            {"type": "dependsOn", "targetRef": "component:default/svc-1-0"},
            {"type": "ownedBy", "targetRef": "group:default/team-0"},
        ])
    );
    first.stop().await;
    second.stop().await;
    pg.cleanup().await;
}

/// A location registered with `presence: optional` keeps it across a restart:
/// its missing target is not an error before or after.
#[tokio::test(flavor = "multi_thread")]
async fn optional_presence_survives_a_restart() {
    let data = TestDir::new();
    let files = TestDir::new();
    let remote = serve_dir(files.path().to_path_buf()).await;
    let config = json!({
        "backend": {
            "database": {"client": "better-sqlite3", "connection": {"directory": data.path().display().to_string()}},
            "reading": { "allow": [{ "host": remote.host }] },
        },
    });
    let client = reqwest::Client::new();
    let target = format!("{}/not-yet.yaml", remote.base);
    let mut location_ref = String::new();
    for round in 0..2 {
        let backend = start_catalog(config.clone(), "backend").await;
        let api = |path: &str| backend.url(&format!("/api/catalog{path}"));
        if round == 0 {
            let (status, created) = post(
                &client,
                &api("/locations"),
                json!({"type": "url", "target": target, "presence": "optional"}),
            )
            .await;
            assert_eq!(status, 201, "{created}");
            location_ref = created["location"]["entityRef"]
                .as_str()
                .expect("entityRef")
                .to_owned();
        }
        let (kind, rest) = location_ref.split_once(':').expect("a ref");
        let (namespace, name) = rest.split_once('/').expect("a ref");
        let url = api(&format!("/entities/by-name/{kind}/{namespace}/{name}"));
        eventually("the Location entity is served", || async {
            get(&client, &url).await.0 == 200
        })
        .await;
        let (_, entity) = get(&client, &url).await;
        assert_eq!(
            entity["spec"]["presence"], "optional",
            "round {round}: {entity}"
        );
        assert!(
            entity
                .get("status")
                .is_none_or(|s| s["items"].as_array().is_none_or(Vec::is_empty)),
            "round {round}: {entity}"
        );
        backend.stop().await;
    }
}

/// Forty components in one file, so that their texts are stored compressed and read through
/// the cache of decompressed texts; `description` goes to the last one.
fn many_components(description: &str) -> String {
    (0..40)
        .map(|i| {
            let text = if i == 39 { description } else { "A component." };
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: part-{i}\n  description: {text}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Reads of one entity answered from the cache of decompressed texts never serve it as it
/// was once a new version is in the index: by name, by ref and in a page.
async fn hot_texts_follow_edits(database: Value, name: &str) {
    let files = TestDir::new();
    let file = files.path().join("parts.yaml");
    std::fs::write(&file, many_components("First words.")).expect("write");
    let config = json!({
        "backend": { "database": database },
        "catalog": {
            "rules": [{ "allow": ["Component", "Location"] }],
            "locations": [{ "type": "file", "target": file.display().to_string() }],
        },
    });
    let backend = start_catalog(config, name).await;
    let client = reqwest::Client::new();
    let api = |path: &str| backend.url(&format!("/api/catalog{path}"));
    let by_name = api("/entities/by-name/component/default/part-39");
    let page = api("/entities/by-query?filter=metadata.name=part-39");
    let refs = api("/entities/by-refs");
    let descriptions = || async {
        let (_, one) = get(&client, &by_name).await;
        let (_, listed) = get(&client, &page).await;
        let (_, found) = post(
            &client,
            &refs,
            json!({"entityRefs": ["component:default/part-39"]}),
        )
        .await;
        [
            one["metadata"]["description"].clone(),
            listed["items"][0]["metadata"]["description"].clone(),
            found["items"][0]["metadata"]["description"].clone(),
        ]
    };
    eventually("the components are served", || async {
        descriptions().await
            == [
                json!("First words."),
                json!("First words."),
                json!("First words."),
            ]
    })
    .await;
    // Read again and again: kept in the cache by now.
    for _ in 0..3 {
        assert_eq!(descriptions().await[0], "First words.", "{name}");
    }

    std::fs::write(&file, many_components("Second words.")).expect("write");
    post(
        &client,
        &api("/refresh"),
        json!({"entityRef": "component:default/part-39"}),
    )
    .await;
    eventually("the edit is served by name", || async {
        descriptions().await[0] == "Second words."
    })
    .await;
    // Once by-name serves the new version, every read does, every time.
    for _ in 0..5 {
        assert_eq!(
            descriptions().await,
            [
                json!("Second words."),
                json!("Second words."),
                json!("Second words.")
            ],
            "{name}"
        );
    }
    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hot_texts_follow_edits_on_sqlite_and_postgres() {
    let data = TestDir::new();
    hot_texts_follow_edits(data.sqlite_database_config(), "sqlite").await;
    let pg = TestPostgres::new();
    hot_texts_follow_edits(pg.database_config(json!({})), "postgres").await;
    pg.cleanup().await;
}

//! The catalog API conformance checklist (spec §11) asserted over real HTTP on a
//! whole backend, on SQLite and PostgreSQL; every assertion names its item.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use serde_json::{Value, json};

const GROUPS_AND_USERS: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
  namespace: default
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-b
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: guest
spec:
  type: null
  memberOf: [team-a]
";

// The built-in kinds require a string `spec.type` on Components, so the
// explicit `null` of item 5 lives on the User above, and the Component
// `broken` with a null type fails its first-ever processing (item 45).
// `WEB_TAGS` and `LONG` are replaced before writing.
const COMPONENTS: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  tags: [java]
  annotations:
    backstage.io/view-url: javascript:alert(1)
spec:
  type: service
  lifecycle: production
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web
  namespace: default
  description: LONG
  tags: WEB_TAGS
spec:
  type: website
  lifecycle: experimental
  owner: team-b
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: Worker
  tags: [java, go]
spec:
  type: library
  lifecycle: deprecated
  owner: group:ghost-team
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: 'openapi: 3.0.0'
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: broken
spec:
  type: null
  lifecycle: production
  owner: team-a
";

/// The components file, with `web` carrying `web_tags` and a description over
/// 200 characters.
fn components_file(web_tags: &str) -> String {
    COMPONENTS
        .replace("WEB_TAGS", web_tags)
        .replace("LONG", &"x".repeat(250))
}

/// Every entity: two Locations, two Groups, a User, three Components, an API.
const TOTAL: usize = 9;

/// A raw answer: status, headers and body text.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        text,
    }
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

/// Item 60: a non-2xx JSON error carries the standard body.
fn check_error(item: &str, answer: &Answer, status: u16) -> Value {
    let body = answer.json();
    assert_eq!(answer.status, status, "item {item}: {}", answer.text);
    assert_eq!(
        body["response"]["statusCode"], status,
        "item {item} (60): statusCode: {body}"
    );
    assert!(
        body["error"]["name"].is_string() && body["error"]["message"].is_string(),
        "item {item} (60): error name and message: {body}"
    );
    assert!(
        body["request"].is_object(),
        "item {item} (9): request: {body}"
    );
    body
}

fn names(entities: &Value) -> BTreeSet<String> {
    entities
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    e["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn ordered_names(entities: &Value) -> Vec<String> {
    entities
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    e["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Standard base64 (padding optional), enough to read a pagination cursor.
fn base64_decode(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            _ => 63,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

async fn run(database: Value, name: &str) {
    let files = TestDir::new();
    std::fs::write(files.path().join("people.yaml"), GROUPS_AND_USERS).expect("write");
    std::fs::write(
        files.path().join("components.yaml"),
        components_file("[rust]"),
    )
    .expect("write");
    let root = files.path().join("catalog-info.yaml");
    std::fs::write(
        &root,
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets: [./people.yaml, ./components.yaml]\n",
    )
    .expect("write");
    let config = json!({
        "backend": { "database": database },
        "catalog": {
            "rules": [{ "allow": ["Component", "Group", "User", "Location", "API"] }],
            "locations": [{ "type": "file", "target": root.display().to_string() }],
        },
    });
    let backend = TestBackend::start(
        config,
        vec![greenroom_plugin_catalog_backend::plugin().into()],
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: backend starts: {e}"));
    let client = reqwest::Client::new();
    let api = |path: &str| backend.url(&format!("/api/catalog{path}"));
    let get = |path: &str| send(client.get(api(path)));
    let post = |path: &str, body: Value| send(client.post(api(path)).json(&body));

    // Ingested and stitched to the end: the last relation to appear is the
    // group's side of the membership and ownerships.
    let team_a_relations = json!([
        {"type": "hasMember", "targetRef": "user:default/guest"},
        {"type": "ownerOf", "targetRef": "api:default/orders"},
        {"type": "ownerOf", "targetRef": "component:default/payments-api"},
    ]);
    eventually("the catalog is ingested and stitched", || async {
        get("/entities/by-query?limit=0").await.json()["totalItems"] == TOTAL
            && get("/entities/by-name/group/default/team-a").await.json()["relations"]
                == team_a_relations
    })
    .await;

    // 1: every entity, as an array.
    let all = get("/entities").await;
    assert_eq!(all.status, 200, "{name}: item 1");
    let all = all.json();
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(TOTAL),
        "{name}: item 1: {all}"
    );

    // 40 (presence), 41: uid and etag everywhere; the default namespace filled in.
    for entity in all.as_array().into_iter().flatten() {
        assert!(
            entity["metadata"]["uid"].is_string() && entity["metadata"]["etag"].is_string(),
            "{name}: item 40: {entity}"
        );
        assert_eq!(
            entity["metadata"]["namespace"], "default",
            "{name}: item 41: {entity}"
        );
    }

    // 2: two conditions in one set, values case-insensitive.
    let components = set(&["payments-api", "web", "Worker"]);
    for filter in [
        "kind=component,metadata.namespace=default",
        "kind=COMPONENT,metadata.namespace=default",
    ] {
        let answer = get(&format!("/entities?filter={filter}")).await;
        assert_eq!(answer.status, 200, "{name}: item 2: {filter}");
        assert_eq!(
            names(&answer.json()),
            components,
            "{name}: item 2: {filter}"
        );
    }

    // 3, 4: union across sets, and within a set on one key.
    let users_and_groups = get("/entities?filter=kind=user&filter=kind=group").await;
    assert_eq!(
        names(&users_and_groups.json()),
        set(&["guest", "team-a", "team-b"]),
        "{name}: item 3"
    );
    let components_and_apis = get("/entities?filter=kind=component,kind=api").await;
    assert_eq!(
        names(&components_and_apis.json()),
        set(&["payments-api", "web", "Worker", "orders"]),
        "{name}: item 4"
    );

    // 5: existence of spec.type, explicit null included; the root Location has
    // no type, the generated one has `file`.
    let typed = names(&get("/entities?filter=spec.type").await.json());
    let generated: Vec<&String> = typed
        .iter()
        .filter(|n| n.starts_with("generated-"))
        .collect();
    assert_eq!(generated.len(), 1, "{name}: item 5: {typed:?}");
    let mut expected = set(&[
        "team-a",
        "team-b",
        "guest",
        "payments-api",
        "web",
        "Worker",
        "orders",
    ]);
    expected.insert(generated[0].clone());
    assert_eq!(typed, expected, "{name}: item 5");

    // 6: an object path never exists as a value.
    assert_eq!(
        get("/entities?filter=metadata.annotations").await.json(),
        json!([]),
        "{name}: item 6"
    );

    // 7: tags by key and by value, any case.
    for filter in [
        "metadata.tags.java",
        "metadata.tags=java",
        "metadata.tags=JAVA",
        "metadata.tags.Java",
    ] {
        assert_eq!(
            names(&get(&format!("/entities?filter={filter}")).await.json()),
            set(&["payments-api", "Worker"]),
            "{name}: item 7: {filter}"
        );
    }

    // 8: relations by type, the type in any case.
    for filter in [
        "relations.ownedBy=group:default/team-a",
        "relations.ownedby=group:default/team-a",
    ] {
        assert_eq!(
            names(&get(&format!("/entities?filter={filter}")).await.json()),
            set(&["payments-api", "orders"]),
            "{name}: item 8: {filter}"
        );
    }

    // 9: an empty key.
    let bad = get("/entities?filter==x").await;
    let body = check_error("9", &bad, 400);
    assert_eq!(body["error"]["name"], "InputError", "{name}: item 9");

    // 11: projection keeps only the selected paths; none selected gives `{}`.
    let projected = get("/entities?fields=metadata.name,kind&filter=kind=group")
        .await
        .json();
    for entity in projected.as_array().into_iter().flatten() {
        let keys: Vec<&String> = entity
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys.len(), 2, "{name}: item 11: {entity}");
        assert_eq!(entity["kind"], "Group", "{name}: item 11: {entity}");
        assert_eq!(
            entity["metadata"].as_object().map(|m| m.len()),
            Some(1),
            "{name}: item 11: {entity}"
        );
    }
    assert_eq!(
        names(&projected),
        set(&["team-a", "team-b"]),
        "{name}: item 11"
    );
    let partial =
        get("/entities?fields=metadata.name,spec.lifecycle&filter=kind=group,metadata.name=team-a")
            .await
            .json();
    assert_eq!(
        partial,
        json!([{"metadata": {"name": "team-a"}}]),
        "{name}: item 11: a missing path is omitted"
    );
    let empty = get("/entities?fields=spec.lifecycle&filter=kind=group")
        .await
        .json();
    assert_eq!(empty, json!([{}, {}]), "{name}: item 11: nothing selected");

    // 12, 47: one annotation, rewritten for safety.
    let rejected = "https://backstage.io/annotation-rejected-for-security-reasons";
    let view_url = get(
        "/entities?fields=metadata.annotations.backstage.io/view-url&filter=metadata.name=payments-api",
    )
    .await
    .json();
    assert_eq!(
        view_url,
        json!([{"metadata": {"annotations": {"backstage.io/view-url": rejected}}}]),
        "{name}: items 12 and 47"
    );

    // 13: array indexes are refused.
    let bad = get("/entities?fields=relations[0]").await;
    let body = check_error("13", &bad, 400);
    assert_eq!(
        body["error"]["message"],
        "Invalid field \"relations[0]\", array type fields are not supported",
        "{name}: item 13"
    );

    // 14: ordering case-insensitively; entities lacking the field come last
    // when paginated, in both directions.
    let desc = get("/entities?order=desc:metadata.name&filter=kind=component")
        .await
        .json();
    assert_eq!(
        ordered_names(&desc),
        ["Worker", "web", "payments-api"],
        "{name}: item 14"
    );
    for (direction, lifecycles) in [
        (
            "asc",
            ["deprecated", "experimental", "production", "production"],
        ),
        (
            "desc",
            ["production", "production", "experimental", "deprecated"],
        ),
    ] {
        let ordered = get(&format!(
            "/entities?order={direction}:spec.lifecycle&limit=20&filter=kind=component,kind=api,kind=group"
        ))
        .await
        .json();
        let served: Vec<Value> = ordered
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["spec"]["lifecycle"].clone())
            .collect();
        let mut wanted: Vec<Value> = lifecycles.iter().map(|l| json!(l)).collect();
        wanted.extend([Value::Null, Value::Null]);
        assert_eq!(served, wanted, "{name}: item 14: {direction}");
    }

    // 15: invalid order syntax.
    check_error("15", &get("/entities?order=name").await, 400);

    // 16: offset pagination with a `link` header until the last page.
    let mut path = "/entities?limit=2".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = get(&path).await;
        assert_eq!(page.status, 200, "{name}: item 16");
        let items = page.json();
        pages += 1;
        seen.extend(ordered_names(&items));
        let Some(link) = page.headers.get("link").and_then(|l| l.to_str().ok()) else {
            assert_eq!(
                seen.len(),
                TOTAL,
                "{name}: item 16: the last page has no link"
            );
            break;
        };
        assert_eq!(items.as_array().map(Vec::len), Some(2), "{name}: item 16");
        assert!(link.ends_with("; rel=\"next\""), "{name}: item 16: {link}");
        let target = link
            .split_once('<')
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(target, _)| target.to_owned())
            .unwrap_or_default();
        if pages == 1 {
            let after = target
                .split("after=")
                .nth(1)
                .unwrap_or_default()
                .split('&')
                .next()
                .unwrap_or_default()
                .replace("%3D", "=");
            let cursor: Value =
                serde_json::from_slice(&base64_decode(&after)).unwrap_or(Value::Null);
            assert_eq!(
                cursor,
                json!({"limit": 2, "offset": 2}),
                "{name}: item 16: {link}"
            );
        }
        assert!(pages <= TOTAL, "{name}: item 16: pagination ends");
        path = target;
    }
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        TOTAL,
        "{name}: item 16: pages do not overlap"
    );

    // 17: bad pagination parameters.
    check_error("17", &get("/entities?limit=0").await, 400);
    check_error("17", &get("/entities?offset=-1").await, 400);
    let body = check_error("17", &get("/entities?after=bm90anNvbg==").await, 400);
    assert_eq!(
        body["error"]["message"], "Malformed after cursor, could not be parsed",
        "{name}: item 17"
    );

    // 18: by-query defaults, ordered by uid.
    let everything = get("/entities/by-query").await.json();
    assert_eq!(everything["totalItems"], TOTAL, "{name}: item 18");
    let uids: Vec<String> = everything["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["metadata"]["uid"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(uids.len(), TOTAL, "{name}: item 18");
    let mut sorted = uids.clone();
    sorted.sort();
    assert_eq!(uids, sorted, "{name}: item 18: ordered by uid");
    assert!(everything["pageInfo"].is_object(), "{name}: item 18");

    // 19–21: cursor pagination over five matches; as in Backstage, follow-ups
    // repeat the `limit` beside the cursor.
    let five = "filter=kind=component&filter=kind=api&filter=kind=user";
    let first = get(&format!("/entities/by-query?limit=2&{five}"))
        .await
        .json();
    assert_eq!(
        first["items"].as_array().map(Vec::len),
        Some(2),
        "{name}: item 19"
    );
    assert_eq!(first["totalItems"], 5, "{name}: item 19");
    assert!(
        first["pageInfo"]["nextCursor"].is_string(),
        "{name}: item 19"
    );
    assert!(
        first["pageInfo"].get("prevCursor").is_none(),
        "{name}: item 19"
    );
    let cursor = |page: &Value, which: &str| {
        format!(
            "/entities/by-query?limit=2&cursor={}",
            page["pageInfo"][which].as_str().unwrap_or_default()
        )
    };
    let second = get(&cursor(&first, "nextCursor")).await.json();
    assert_eq!(
        second["items"].as_array().map(Vec::len),
        Some(2),
        "{name}: item 20"
    );
    assert_eq!(second["totalItems"], 5, "{name}: item 20");
    assert!(
        second["pageInfo"]["prevCursor"].is_string(),
        "{name}: item 20"
    );
    let first_two = names(&first["items"]);
    assert!(
        names(&second["items"]).is_disjoint(&first_two),
        "{name}: item 20: no overlap"
    );
    let back = get(&cursor(&second, "prevCursor")).await.json();
    assert_eq!(
        back["items"], first["items"],
        "{name}: item 20: back to the first page"
    );
    let third = get(&cursor(&second, "nextCursor")).await.json();
    assert_eq!(
        third["items"].as_array().map(Vec::len),
        Some(1),
        "{name}: item 21"
    );
    assert!(
        third["pageInfo"].get("nextCursor").is_none(),
        "{name}: item 21"
    );
    let whole = get(&format!("/entities/by-query?limit=10&{five}"))
        .await
        .json();
    assert_eq!(whole["pageInfo"], json!({}), "{name}: item 21");

    // 25: limit=0 counts without items.
    let counted = get("/entities/by-query?limit=0").await.json();
    assert_eq!(counted["items"], json!([]), "{name}: item 25");
    assert_eq!(counted["totalItems"], TOTAL, "{name}: item 25");
    assert!(
        counted["pageInfo"].get("nextCursor").is_none(),
        "{name}: item 25"
    );

    // 26: ordering by a field.
    let by_name = get("/entities/by-query?orderField=metadata.name,desc")
        .await
        .json();
    let served = ordered_names(&by_name["items"]);
    let mut wanted = served.clone();
    wanted.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(served.len(), TOTAL, "{name}: item 26");
    assert_eq!(served, wanted, "{name}: item 26");
    check_error(
        "26",
        &get("/entities/by-query?orderField=metadata.name,sideways").await,
        400,
    );

    // 27: full-text filtering, and a blank term that filters nothing.
    let pay = get("/entities/by-query?fullTextFilterTerm=PAY&fullTextFilterFields=metadata.name")
        .await
        .json();
    assert_eq!(
        names(&pay["items"]),
        set(&["payments-api"]),
        "{name}: item 27"
    );
    let blank = get("/entities/by-query?fullTextFilterTerm=%20%20")
        .await
        .json();
    assert_eq!(blank["totalItems"], TOTAL, "{name}: item 27: blank term");

    // 28: no count, still paginated.
    let uncounted = get("/entities/by-query?totalItems=exclude&limit=2")
        .await
        .json();
    assert_eq!(uncounted["totalItems"], 0, "{name}: item 28");
    assert_eq!(
        uncounted["items"].as_array().map(Vec::len),
        Some(2),
        "{name}: item 28"
    );
    assert!(
        uncounted["pageInfo"]["nextCursor"].is_string(),
        "{name}: item 28"
    );

    // 29: POST predicates match the GET filter.
    let posted = post(
        "/entities/by-query",
        json!({"query": {"kind": "component", "spec.type": {"$in": ["service", "website"]}}}),
    )
    .await;
    assert_eq!(posted.status, 200, "{name}: item 29: {}", posted.text);
    let via_get = get(
        "/entities/by-query?filter=kind=component,spec.type=service&filter=kind=component,spec.type=website",
    )
    .await
    .json();
    assert_eq!(posted.json()["items"], via_get["items"], "{name}: item 29");
    assert_eq!(
        names(&via_get["items"]),
        set(&["payments-api", "web"]),
        "{name}: item 29"
    );
    check_error(
        "29",
        &post("/entities/by-query", json!({"query": "x"})).await,
        400,
    );

    // 30, 31: by name, case-insensitively, and a missing one.
    let payments = get("/entities/by-name/COMPONENT/Default/Payments-API").await;
    assert_eq!(payments.status, 200, "{name}: item 30");
    let payments = payments.json();
    assert_eq!(
        payments["metadata"]["name"], "payments-api",
        "{name}: item 30"
    );
    assert_eq!(payments["kind"], "Component", "{name}: item 30");
    let body = check_error(
        "31",
        &get("/entities/by-name/component/default/missing").await,
        404,
    );
    assert_eq!(body["error"]["name"], "NotFoundError", "{name}: item 31");

    // 47: the unsafe view URL on the full entity.
    assert_eq!(
        payments["metadata"]["annotations"]["backstage.io/view-url"], rejected,
        "{name}: item 47"
    );

    // 32, 33: by uid.
    let uid = payments["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let by_uid = get(&format!("/entities/by-uid/{uid}")).await;
    assert_eq!(by_uid.status, 200, "{name}: item 32");
    assert_eq!(
        by_uid.json()["metadata"]["uid"],
        uid.as_str(),
        "{name}: item 32"
    );
    let unknown = "00000000-0000-4000-8000-000000000000";
    let body = check_error(
        "32",
        &get(&format!("/entities/by-uid/{unknown}")).await,
        404,
    );
    assert_eq!(
        body["error"]["message"],
        format!("No entity with uid {unknown}"),
        "{name}: item 32"
    );
    let deleted = send(client.delete(api(&format!("/entities/by-uid/{unknown}")))).await;
    assert_eq!(deleted.status, 204, "{name}: item 33");

    // 35, 36: by refs, in request order.
    let by_refs = post(
        "/entities/by-refs",
        json!({"entityRefs": ["component:default/payments-api", "component:default/missing", "component:default/payments-api"]}),
    )
    .await;
    assert_eq!(by_refs.status, 200, "{name}: item 35");
    assert_eq!(
        by_refs.json(),
        json!({"items": [payments, null, payments]}),
        "{name}: item 35"
    );
    for body in [json!({}), json!([]), json!({"entityRefs": 7})] {
        check_error("36", &post("/entities/by-refs", body).await, 400);
    }

    // 37: ancestry up to the generated Location.
    let ancestry = get("/entities/by-name/component/default/payments-api/ancestry")
        .await
        .json();
    let items = ancestry["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        items.first().map(|i| &i["entity"]),
        Some(&payments),
        "{name}: item 37"
    );
    assert!(
        items.iter().any(|i| {
            i["entity"]["kind"] == "Location"
                && i["entity"]["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("generated-"))
                && i["parentEntityRefs"] == json!([])
        }),
        "{name}: item 37: {ancestry}"
    );

    // 38, 39: facets.
    let facets = get("/entity-facets?facet=kind").await;
    assert_eq!(facets.status, 200, "{name}: item 38");
    assert_eq!(
        facets.json(),
        json!({"facets": {"kind": [
            {"value": "API", "count": 1},
            {"value": "Component", "count": 3},
            {"value": "Group", "count": 2},
            {"value": "Location", "count": 2},
            {"value": "User", "count": 1},
        ]}}),
        "{name}: item 38"
    );
    check_error("38", &get("/entity-facets").await, 400);
    let types = get("/entity-facets?facet=spec.type&filter=kind=component")
        .await
        .json();
    assert_eq!(
        types,
        json!({"facets": {"spec.type": [
            {"value": "library", "count": 1},
            {"value": "service", "count": 1},
            {"value": "website", "count": 1},
        ]}}),
        "{name}: item 39"
    );

    // 42, 43: relations on both ends; a missing target still shows.
    assert_eq!(
        payments["relations"],
        json!([{"type": "ownedBy", "targetRef": "group:default/team-a"}]),
        "{name}: item 42"
    );
    let worker = get("/entities/by-name/component/default/worker")
        .await
        .json();
    assert_eq!(
        worker["relations"],
        json!([{"type": "ownedBy", "targetRef": "group:default/ghost-team"}]),
        "{name}: item 43"
    );

    // 57: refresh.
    let refreshed = post(
        "/refresh",
        json!({"entityRef": "component:default/payments-api"}),
    )
    .await;
    assert_eq!(
        (refreshed.status, refreshed.text.as_str()),
        (200, ""),
        "{name}: item 57"
    );
    check_error(
        "57",
        &post(
            "/refresh",
            json!({"entityRef": "component:default/missing"}),
        )
        .await,
        404,
    );

    // 58: validate-entity.
    let entity = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "fine"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    });
    let valid = post(
        "/validate-entity",
        json!({"entity": entity, "location": "url:https://h/x.yaml"}),
    )
    .await;
    assert_eq!(
        (valid.status, valid.text.as_str()),
        (200, ""),
        "{name}: item 58"
    );
    let mut bad_name = entity.clone();
    bad_name["metadata"]["name"] = json!("bad name");
    let invalid = post(
        "/validate-entity",
        json!({"entity": bad_name, "location": "url:https://h/x.yaml"}),
    )
    .await;
    assert_eq!(invalid.status, 400, "{name}: item 58");
    assert!(
        invalid.json()["errors"][0]["message"].is_string(),
        "{name}: item 58: {}",
        invalid.text
    );
    let file = post(
        "/validate-entity",
        json!({"entity": entity, "location": "file:/x"}),
    )
    .await;
    assert_eq!(file.status, 400, "{name}: item 58: {}", file.text);

    // 10: an over-long value never matches by equality, but exists.
    let long = "x".repeat(250);
    assert_eq!(
        get(&format!("/entities?filter=metadata.description={long}"))
            .await
            .json(),
        json!([]),
        "{name}: item 10"
    );
    assert_eq!(
        names(&get("/entities?filter=metadata.description").await.json()),
        set(&["web"]),
        "{name}: item 10: existence"
    );

    // 22: filters beside a cursor are ignored.
    let with_filter = get(&format!(
        "{}&filter=kind=group&orderField=metadata.name,desc&fullTextFilterTerm=zzz",
        cursor(&first, "nextCursor")
    ))
    .await
    .json();
    assert_eq!(with_filter["items"], second["items"], "{name}: item 22");
    assert_eq!(with_filter["totalItems"], 5, "{name}: item 22");

    // 23, 24: a malformed cursor and a non-integer limit.
    let body = check_error(
        "23",
        &get("/entities/by-query?cursor=notbase64json").await,
        400,
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Malformed cursor")),
        "{name}: item 23: {body}"
    );
    let body = check_error("24", &get("/entities/by-query?limit=asdf").await, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("request/query/limit must be integer")),
        "{name}: item 24: {body}"
    );

    // 45: an entity whose first processing failed is served nowhere.
    check_error(
        "45",
        &get("/entities/by-name/component/default/broken").await,
        404,
    );
    let broken = post(
        "/entities/by-refs",
        json!({"entityRefs": ["component:default/broken"]}),
    )
    .await
    .json();
    assert_eq!(broken, json!({"items": [null]}), "{name}: item 45");
    let searched = get("/entities/by-query?filter=metadata.name=broken")
        .await
        .json();
    assert_eq!(searched["totalItems"], 0, "{name}: item 45: {searched}");

    // 40: a visible change keeps the uid and changes the etag.
    let web = get("/entities/by-name/component/default/web").await.json();
    std::fs::write(
        files.path().join("components.yaml"),
        components_file("[rust, go]"),
    )
    .expect("write");
    let refreshed = post("/refresh", json!({"entityRef": "location:default/root"})).await;
    assert_eq!(refreshed.status, 200, "{name}: item 40");
    eventually("the edited tags are served", || async {
        get("/entities/by-name/component/default/web").await.json()["metadata"]["tags"]
            == json!(["rust", "go"])
    })
    .await;
    let edited = get("/entities/by-name/component/default/web").await.json();
    assert_eq!(
        edited["metadata"]["uid"], web["metadata"]["uid"],
        "{name}: item 40: uid stable"
    );
    assert_ne!(
        edited["metadata"]["etag"], web["metadata"]["etag"],
        "{name}: item 40: etag changes"
    );

    // 34: a deleted entity still emitted by its parent comes back with a new uid.
    let old_uid = worker["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let deleted = send(client.delete(api(&format!("/entities/by-uid/{old_uid}")))).await;
    assert_eq!(deleted.status, 204, "{name}: item 34");
    // The delete forces the parent to re-process, so the entity may be back
    // before the next read; what matters is that it comes back as a new one.
    post("/refresh", json!({"entityRef": "location:default/root"})).await;
    eventually("the deleted entity re-appears with a new uid", || async {
        let worker = get("/entities/by-name/component/default/worker")
            .await
            .json();
        worker["metadata"]["uid"].is_string() && worker["metadata"]["uid"] != old_uid.as_str()
    })
    .await;

    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn checklist_on_sqlite() {
    let data = TestDir::new();
    run(data.sqlite_database_config(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn checklist_on_postgres() {
    let pg = TestPostgres::new();
    run(pg.database_config(json!({})), "postgres").await;
    pg.cleanup().await;
}

fn component(name: &str, tags: &str, description: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  description: {description}\n  tags: {tags}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

fn location_file(targets: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets: [{targets}]\n"
    )
}

fn has_error(entity: &Value) -> bool {
    entity["status"]["items"].as_array().is_some_and(|items| {
        items
            .iter()
            .any(|i| i["type"] == "backstage.io/catalog-processing" && i["level"] == "error")
    })
}

/// Items 44, 46, 48–56 and 59: edits, orphans, duplicate refs and the
/// location routes, with URL locations on a loopback source host.
async fn run_locations(database: Value, name: &str) {
    let files = TestDir::new();
    let dir = files.path();
    // Files are replaced whole (written aside, then renamed): the catalog reads
    // them while the test edits them, and a read between the truncation and the
    // write of a plain `fs::write` sees an empty file, which emits nothing and
    // orphans the file's entities.
    let write = |file: &str, text: &str| {
        let aside = dir.join(format!(".{file}.tmp"));
        std::fs::write(&aside, text).expect("write");
        std::fs::rename(&aside, dir.join(file)).expect("rename");
    };
    write("web.yaml", &component("web", "[rust]", "first"));
    write("extra.yaml", &component("extra", "[rust]", "extra"));
    write("root.yaml", &location_file("./web.yaml, ./extra.yaml"));
    write("dup-a.yaml", &component("twin", "[a]", "from-a"));
    write("dup-b.yaml", &component("twin", "[b]", "from-b"));
    write(
        "api.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: orders\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition: 'openapi: 3.0.0'\n",
    );
    let remote = crate::source_host::serve_dir(dir.to_path_buf()).await;
    let path_of = |file: &str| dir.join(file).display().to_string();
    let config = |readonly: bool| {
        json!({
            "backend": {
                "database": database.clone(),
                "reading": { "allow": [{ "host": remote.host }] },
            },
            "catalog": {
                "readonly": readonly,
                "orphanStrategy": "keep",
                "rules": [{ "allow": ["Component", "Location", "API"] }],
                "locations": [
                    { "type": "file", "target": path_of("root.yaml") },
                    { "type": "file", "target": path_of("dup-a.yaml") },
                    { "type": "file", "target": path_of("dup-b.yaml") },
                ],
            },
        })
    };
    let backend = TestBackend::start(
        config(false),
        vec![greenroom_plugin_catalog_backend::plugin().into()],
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: backend starts: {e}"));
    let client = reqwest::Client::new();
    let api = |path: &str| backend.url(&format!("/api/catalog{path}"));
    let get = |path: &str| send(client.get(api(path)));
    let post = |path: &str, body: Value| send(client.post(api(path)).json(&body));
    let entity = |reference: &str| {
        let path = format!(
            "/entities/by-name/{}",
            reference.replacen([':', '/'], "/", 2)
        );
        async move { get(&path).await.json() }
    };

    eventually("the config locations are ingested", || async {
        entity("component:default/web").await["metadata"]["uid"].is_string()
            && entity("component:default/extra").await["metadata"]["uid"].is_string()
            && entity("component:default/twin").await["metadata"]["uid"].is_string()
    })
    .await;

    // 48: two config locations emit `twin`; one owns it, the other changes nothing.
    let twin = entity("component:default/twin").await;
    let owner = twin["metadata"]["annotations"]["backstage.io/managed-by-location"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (winner, loser) = if owner == format!("file:{}", path_of("dup-a.yaml")) {
        ("from-a", "dup-b.yaml")
    } else {
        ("from-b", "dup-a.yaml")
    };
    assert_eq!(
        twin["metadata"]["description"], winner,
        "{name}: item 48: content from the owning location {owner}"
    );
    // The loser is reprocessed (a marker entity shows it was) and still
    // changes nothing.
    let mut loser_text = component("twin", "[z]", "from-loser");
    loser_text.push_str("---\n");
    loser_text.push_str(&component("marker", "[z]", "marker"));
    write(loser, &loser_text);
    let loser_location = format!(
        "location:default/generated-{}",
        sha1_smol::Sha1::from(format!("file:{}", path_of(loser))).digest()
    );
    let refreshed = post("/refresh", json!({"entityRef": loser_location})).await;
    assert_eq!(refreshed.status, 200, "{name}: item 48: {}", refreshed.text);
    eventually("the losing location is reprocessed", || async {
        entity("component:default/marker").await["metadata"]["uid"].is_string()
    })
    .await;
    let again = entity("component:default/twin").await;
    assert_eq!(
        (
            &again["metadata"]["uid"],
            &again["metadata"]["description"],
            &again["metadata"]["annotations"]["backstage.io/managed-by-location"],
        ),
        (&twin["metadata"]["uid"], &json!(winner), &json!(owner)),
        "{name}: item 48: the second location changes nothing"
    );
    let twins = get("/entities?filter=metadata.name=twin").await.json();
    assert_eq!(
        twins.as_array().map(Vec::len),
        Some(1),
        "{name}: item 48: no duplicate"
    );

    // 44: an invalid edit keeps the last good content and adds the error.
    let web = entity("component:default/web").await;
    write("web.yaml", &component("web", "[Bad Tag]", "second"));
    post("/refresh", json!({"entityRef": "location:default/root"})).await;
    post("/refresh", json!({"entityRef": "component:default/web"})).await;
    eventually("the invalid edit shows as an error", || async {
        has_error(&entity("component:default/web").await)
    })
    .await;
    let invalid = entity("component:default/web").await;
    assert_eq!(
        invalid["status"]["items"][0]["type"], "backstage.io/catalog-processing",
        "{name}: item 44: {invalid}"
    );
    assert_eq!(
        invalid["status"]["items"][0]["level"], "error",
        "{name}: item 44: {invalid}"
    );
    assert_eq!(
        (
            &invalid["metadata"]["tags"],
            &invalid["metadata"]["description"]
        ),
        (&json!(["rust"]), &json!("first")),
        "{name}: item 44: last good content kept"
    );
    // An unparseable file, then a missing one: the error is on the Location
    // reading it, and the file's entities stay as they were.
    for (broken, what) in [
        (Some("kind: [unclosed\n"), "unparseable"),
        (None, "unreadable"),
    ] {
        write("web.yaml", &component("web", "[rust]", "first"));
        post("/refresh", json!({"entityRef": "location:default/root"})).await;
        eventually("the root Location is clean", || async {
            !has_error(&entity("location:default/root").await)
        })
        .await;
        match broken {
            Some(text) => write("web.yaml", text),
            None => std::fs::remove_file(dir.join("web.yaml")).expect("remove"),
        }
        post("/refresh", json!({"entityRef": "location:default/root"})).await;
        eventually("the read error lands on the root Location", || async {
            has_error(&entity("location:default/root").await)
        })
        .await;
        let kept = entity("component:default/web").await;
        assert_eq!(
            (&kept["metadata"]["uid"], &kept["metadata"]["description"]),
            (&web["metadata"]["uid"], &json!("first")),
            "{name}: item 44 ({what}): entities unchanged: {kept}"
        );
        assert!(
            kept["metadata"]["annotations"]
                .get("backstage.io/orphan")
                .is_none(),
            "{name}: item 44 ({what}): not orphaned: {kept}"
        );
    }
    write("web.yaml", &component("web", "[rust]", "first"));

    // 46: a dropped target orphans its entities, kept and annotated.
    write("root.yaml", &location_file("./web.yaml"));
    post("/refresh", json!({"entityRef": "location:default/root"})).await;
    eventually("the dropped file's entity is orphaned", || async {
        entity("component:default/extra").await["metadata"]["annotations"]["backstage.io/orphan"]
            == "true"
    })
    .await;

    // 59: a repository without a catalog file gets a suggested Component.
    let analyzed = post(
        "/analyze-location",
        json!({"location": {"type": "url", "target": format!("http://{}/acme/shop", remote.host)}}),
    )
    .await;
    assert_eq!(analyzed.status, 200, "{name}: item 59: {}", analyzed.text);
    let analyzed = analyzed.json();
    assert_eq!(
        analyzed["existingEntityFiles"],
        json!([]),
        "{name}: item 59"
    );
    let generated = analyzed["generateEntities"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(generated.len(), 1, "{name}: item 59: {analyzed}");
    assert_eq!(
        generated[0]["entity"]["kind"], "Component",
        "{name}: item 59"
    );
    assert_eq!(
        generated[0]["entity"]["spec"],
        json!({"type": "other", "lifecycle": "unknown"}),
        "{name}: item 59"
    );

    // 59: a repository with a catalog file at its root, on a host with a port
    // (self-hosted forges): the file is found and its entities listed.
    std::fs::create_dir_all(dir.join("shop/blob/HEAD")).expect("mkdir");
    std::fs::write(
        dir.join("shop/blob/HEAD/catalog-info.yaml"),
        component("shop", "[]", "found"),
    )
    .expect("write");
    let analyzed = post(
        "/analyze-location",
        json!({"location": {"type": "url", "target": format!("{}/shop", remote.base)}}),
    )
    .await;
    assert_eq!(analyzed.status, 200, "{name}: item 59: {}", analyzed.text);
    let analyzed = analyzed.json();
    assert_eq!(
        analyzed["existingEntityFiles"][0]["location"]["target"],
        json!(format!("{}/shop/blob/HEAD/catalog-info.yaml", remote.base)),
        "{name}: item 59: {analyzed}"
    );
    assert_eq!(
        analyzed["existingEntityFiles"][0]["entity"]["metadata"]["name"], "shop",
        "{name}: item 59: {analyzed}"
    );

    // 51: only url locations, and a strict body.
    check_error(
        "51",
        &post("/locations", json!({"type": "file", "target": "/x"})).await,
        400,
    );
    let target = format!("{}/api.yaml", remote.base);
    check_error(
        "51",
        &post(
            "/locations",
            json!({"type": "url", "target": target, "extra": 1}),
        )
        .await,
        400,
    );

    // 53: static config locations are not listed.
    assert_eq!(get("/locations").await.json(), json!([]), "{name}: item 53");

    // 50: a dry run stores nothing and previews the generated Location.
    let dry = post(
        "/locations?dryRun=true",
        json!({"type": "url", "target": target}),
    )
    .await;
    assert_eq!(dry.status, 201, "{name}: item 50: {}", dry.text);
    let dry = dry.json();
    assert_eq!(dry["exists"], false, "{name}: item 50: {dry}");
    assert_eq!(
        dry["location"]["id"],
        format!("url:{target}"),
        "{name}: item 50: {dry}"
    );
    let sha = sha1_smol::Sha1::from(format!("url:{target}"))
        .digest()
        .to_string();
    assert_eq!(dry["entities"][0]["kind"], "Location", "{name}: item 50");
    assert_eq!(
        dry["entities"][0]["metadata"]["name"],
        format!("generated-{sha}"),
        "{name}: item 50"
    );
    assert!(
        names(&dry["entities"]).contains("orders"),
        "{name}: item 50: {dry}"
    );
    assert_eq!(
        get("/locations").await.json(),
        json!([]),
        "{name}: item 50: nothing stored"
    );

    // 49: registering, then a conflict.
    let created = post("/locations", json!({"type": "url", "target": target})).await;
    assert_eq!(created.status, 201, "{name}: item 49: {}", created.text);
    let created = created.json();
    let id = created["location"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let uuid_shape: Vec<usize> = id.split('-').map(str::len).collect();
    assert!(
        uuid_shape == [8, 4, 4, 4, 12] && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
        "{name}: item 49: a UUID id: {created}"
    );
    assert_eq!(created["entities"], json!([]), "{name}: item 49");
    let body = check_error(
        "49",
        &post("/locations", json!({"type": "url", "target": target})).await,
        409,
    );
    assert_eq!(
        (&body["error"]["name"], &body["error"]["message"]),
        (
            &json!("ConflictError"),
            &json!(format!("Location url:{target} already exists"))
        ),
        "{name}: item 49"
    );
    let dry_again = post(
        "/locations?dryRun=true",
        json!({"type": "url", "target": target}),
    )
    .await;
    assert_eq!(
        dry_again.json()["exists"],
        true,
        "{name}: item 50: {}",
        dry_again.text
    );

    // 53: the registered location, and only it.
    let entity_ref = format!("location:default/generated-{sha}");
    assert_eq!(
        get("/locations").await.json(),
        json!([{"data": {"id": id, "type": "url", "target": target, "entityRef": entity_ref}}]),
        "{name}: item 53"
    );

    // 56: by-entity for a registered entity, 404 for a static one.
    eventually("the registered location is ingested", || async {
        entity("api:default/orders").await["metadata"]["uid"].is_string()
    })
    .await;
    let orders = entity("api:default/orders").await;
    let by_entity = get("/locations/by-entity/api/default/orders").await;
    assert_eq!(by_entity.status, 200, "{name}: item 56: {}", by_entity.text);
    let by_entity = by_entity.json();
    assert_eq!(
        json!(format!(
            "{}:{}",
            by_entity["type"].as_str().unwrap_or_default(),
            by_entity["target"].as_str().unwrap_or_default()
        )),
        orders["metadata"]["annotations"]["backstage.io/managed-by-origin-location"],
        "{name}: item 56: {by_entity}"
    );
    assert_eq!(by_entity["id"], id.as_str(), "{name}: item 56");
    check_error(
        "56",
        &get("/locations/by-entity/component/default/web").await,
        404,
    );

    // 54: unknown ids.
    let unknown = "00000000-0000-4000-8000-000000000000";
    for answer in [
        get(&format!("/locations/{unknown}")).await,
        send(client.delete(api(&format!("/locations/{unknown}")))).await,
    ] {
        let body = check_error("54", &answer, 404);
        assert_eq!(
            body["error"]["message"],
            format!("Found no location with ID {unknown}"),
            "{name}: item 54"
        );
    }

    // 55: deleting removes the Location entity and its descendants at once.
    let deleted = send(client.delete(api(&format!("/locations/{id}")))).await;
    assert_eq!(deleted.status, 204, "{name}: item 55: {}", deleted.text);
    // "Immediately afterwards": the delete answers only once this instance's
    // reads no longer see the removed entities.
    let left = names(&get("/entities").await.json());
    assert!(
        !left.contains("orders") && !left.contains(&format!("generated-{sha}")),
        "{name}: item 55: gone at once: {left:?}"
    );
    assert!(
        left.contains("web"),
        "{name}: item 55: others stay: {left:?}"
    );
    backend.stop().await;

    // 52: a read-only instance on the same database.
    let readonly = TestBackend::start(
        config(true),
        vec![greenroom_plugin_catalog_backend::plugin().into()],
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: read-only backend starts: {e}"));
    let url = |path: &str| readonly.url(&format!("/api/catalog{path}"));
    let refused = send(
        client
            .post(url("/locations"))
            .json(&json!({"type": "url", "target": target})),
    )
    .await;
    let body = check_error("52", &refused, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not allowed in readonly")),
        "{name}: item 52: {body}"
    );
    let dry = send(
        client
            .post(url("/locations?dryRun=true"))
            .json(&json!({"type": "url", "target": target})),
    )
    .await;
    assert_eq!(dry.status, 201, "{name}: item 52: {}", dry.text);
    let deleted = send(client.delete(url("/entities/by-uid/x"))).await;
    assert_eq!(deleted.status, 204, "{name}: item 52: {}", deleted.text);
    readonly.stop().await;
    drop(remote);
}

#[tokio::test(flavor = "multi_thread")]
async fn checklist_locations_on_sqlite() {
    let data = TestDir::new();
    run_locations(data.sqlite_database_config(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn checklist_locations_on_postgres() {
    let pg = TestPostgres::new();
    run_locations(pg.database_config(json!({})), "postgres").await;
    pg.cleanup().await;
}

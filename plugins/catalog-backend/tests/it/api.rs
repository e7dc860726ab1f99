//! The read routes of the REST API over a fixture index (spec catalog-api.md
//! §11 items 1–33, 35–39 and 60), with exact statuses, bodies and messages.

use greenroom_catalog_query::decode_base64;
use serde_json::{Value, json};

use crate::api_support::{Api, names, uid};

/// A request and what must come back.
enum Expect {
    /// 200 and an array of entities with these names, in order.
    Names(&'static [&'static str]),
    /// 200 and exactly this JSON.
    Json(Value),
    /// The standard error body with this status, name and message.
    Error(u16, &'static str, &'static str),
}

const JSON: Option<&str> = Some("application/json");

/// A request body: content type (if any) and text.
type Body<'a> = Option<(Option<&'a str>, &'a str)>;
/// An error row: id, method, path, body, status, error name, message.
type ErrorRow<'a> = (&'a str, &'a str, &'a str, Body<'a>, u16, &'a str, &'a str);

async fn check(api: &Api, id: &str, method: &str, path: &str, body: Body<'_>, expect: Expect) {
    let (status, headers, value) = api.call(method, path, body).await;
    match expect {
        Expect::Names(expected) => {
            assert_eq!(status, 200, "{id}: {value}");
            assert_eq!(
                headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/json; charset=utf-8"),
                "{id}"
            );
            assert_eq!(names(&value), expected, "{id}");
        }
        Expect::Json(expected) => {
            assert_eq!(status, 200, "{id}: {value}");
            assert_eq!(value, expected, "{id}");
        }
        Expect::Error(code, name, message) => {
            assert_eq!(status.as_u16(), code, "{id}: {value}");
            assert_eq!(value["error"]["name"], name, "{id}: {value}");
            assert_eq!(value["error"]["message"], message, "{id}: {value}");
            // Item 60: the standard body, whose status matches the HTTP status.
            assert_eq!(value["response"]["statusCode"], code, "{id}");
            assert_eq!(value["request"]["method"], method, "{id}");
            assert_eq!(
                value["request"]["url"],
                format!("/api/catalog{path}"),
                "{id}"
            );
        }
    }
}

const ALL: &[&str] = &[
    "orders-api",
    "billing",
    "cart",
    "Payments-API",
    "web-shop",
    "zeta",
    "team-a",
    "team-b",
    "adam",
    "zoe",
];

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_projection_and_order() {
    let api = Api::new().await;
    let long = "x".repeat(250);
    let long_filter = format!("/entities?filter=spec.note={long}");
    let rows: Vec<(&str, String, Expect)> = vec![
        ("1 all entities, ref order", "/entities".into(), Expect::Names(ALL)),
        (
            "2 AND of conditions",
            "/entities?filter=kind=component,spec.lifecycle=experimental".into(),
            Expect::Names(&["cart", "zeta"]),
        ),
        (
            "2 values are case-insensitive",
            "/entities?filter=kind=COMPONENT,metadata.namespace=Default,spec.lifecycle=EXPERIMENTAL".into(),
            Expect::Names(&["cart", "zeta"]),
        ),
        ("3 OR of sets", "/entities?filter=kind=user&filter=kind=group".into(), Expect::Names(&["team-a", "team-b", "adam", "zoe"])),
        ("4 IN list in one set", "/entities?filter=kind=api,kind=group".into(), Expect::Names(&["orders-api", "team-a", "team-b"])),
        (
            "5 existence includes null",
            "/entities?filter=kind=component,spec.type".into(),
            Expect::Names(&["billing", "cart", "Payments-API", "web-shop"]),
        ),
        ("6 object path never exists", "/entities?filter=metadata.annotations".into(), Expect::Names(&[])),
        ("7 tag key", "/entities?filter=metadata.tags.java".into(), Expect::Names(&["billing", "Payments-API"])),
        ("7 tag value", "/entities?filter=metadata.tags=JAVA".into(), Expect::Names(&["billing", "Payments-API"])),
        (
            "8 relation filter",
            "/entities?filter=relations.ownedBy=group:default/team-a".into(),
            Expect::Names(&["orders-api", "Payments-API", "web-shop"]),
        ),
        (
            "8 relation type any case",
            "/entities?filter=relations.ownedby=group:default/team-a,kind=component".into(),
            Expect::Names(&["Payments-API", "web-shop"]),
        ),
        ("10 long value never equal", long_filter, Expect::Names(&[])),
        ("10 long value exists", "/entities?filter=spec.note".into(), Expect::Names(&["zeta"])),
        ("  empty filter sets are ignored", "/entities?filter=,,".into(), Expect::Names(ALL)),
        (
            "11 projection",
            "/entities?filter=kind=api,kind=group&fields=metadata.name,kind,spec.missing".into(),
            Expect::Json(json!([
                {"kind": "API", "metadata": {"name": "orders-api"}},
                {"kind": "Group", "metadata": {"name": "team-a"}},
                {"kind": "Group", "metadata": {"name": "team-b"}},
            ])),
        ),
        (
            "11 nothing selected gives {}",
            "/entities?filter=kind=user&fields=spec.nothing".into(),
            Expect::Json(json!([{}, {}])),
        ),
        (
            "12 one annotation",
            "/entities?filter=metadata.name=payments-api&fields=metadata.annotations.backstage.io/view-url".into(),
            Expect::Json(json!([{"metadata": {"annotations": {"backstage.io/view-url": "https://git.example.com/acme/payments"}}}])),
        ),
        (
            "14 desc order, missing values last",
            "/entities?filter=kind=component&order=desc:spec.type&limit=10".into(),
            Expect::Names(&["billing", "web-shop", "Payments-API", "zeta", "cart"]),
        ),
        (
            "14 name descending, case-insensitive",
            "/entities?filter=kind=component&order=desc:metadata.name&limit=10".into(),
            Expect::Names(&["zeta", "web-shop", "Payments-API", "cart", "billing"]),
        ),
        ("  offset", "/entities?offset=8".into(), Expect::Names(&["adam", "zoe"])),
    ];
    for (id, path, expect) in rows {
        check(&api, id, "GET", &path, None, expect).await;
    }
    api.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn request_validation_errors() {
    let api = Api::new().await;
    let rows: &[ErrorRow<'_>] = &[
        (
            "9 empty filter key",
            "GET",
            "/entities?filter==x",
            None,
            400,
            "InputError",
            "Invalid filter, '=x' is not a valid statement (expected a string on the form a=b or a= or a)",
        ),
        (
            "13 array fields",
            "GET",
            "/entities?fields=relations%5B0%5D",
            None,
            400,
            "InputError",
            "Invalid field \"relations[0]\", array type fields are not supported",
        ),
        (
            "15 order syntax",
            "GET",
            "/entities?order=name",
            None,
            400,
            "InputError",
            "Invalid order parameter \"name\", expected \"<asc or desc>:<field name>\"",
        ),
        (
            "17 limit zero",
            "GET",
            "/entities?limit=0",
            None,
            400,
            "InputError",
            "Invalid limit, must be greater than zero",
        ),
        (
            "17 negative offset",
            "GET",
            "/entities?offset=-1",
            None,
            400,
            "InputError",
            "request/query/offset must be >= 0",
        ),
        (
            "17 malformed after",
            "GET",
            "/entities?after=bm90anNvbg==",
            None,
            400,
            "InputError",
            "Malformed after cursor, could not be parsed",
        ),
        (
            "  unknown parameter",
            "GET",
            "/entities?x=1",
            None,
            400,
            "InputError",
            "Unknown query parameter 'x'",
        ),
        (
            "  unknown parameter on a path route",
            "GET",
            "/entities/by-name/component/default/x?x=1",
            None,
            400,
            "InputError",
            "Unknown query parameter 'x'",
        ),
        (
            "  empty after",
            "GET",
            "/entities?after=",
            None,
            400,
            "InputError",
            "Empty value found for query parameter 'after'",
        ),
        (
            "  empty filter",
            "GET",
            "/entities?filter=",
            None,
            400,
            "InputError",
            "Empty value found for query parameter 'filter'",
        ),
        (
            "  repeated limit",
            "GET",
            "/entities?limit=1&limit=2",
            None,
            400,
            "InputError",
            "request/query/limit must be integer",
        ),
        (
            "  object filter",
            "GET",
            "/entities?filter%5Ba%5D=b",
            None,
            400,
            "InputError",
            "request/query/filter/0 must be string",
        ),
        (
            "23 malformed cursor",
            "GET",
            "/entities/by-query?cursor=notbase64json",
            None,
            400,
            "InputError",
            "",
        ),
        (
            "24 limit not integer",
            "GET",
            "/entities/by-query?limit=asdf",
            None,
            400,
            "InputError",
            "request/query/limit must be integer",
        ),
        (
            "  by-query negative limit",
            "GET",
            "/entities/by-query?limit=-1",
            None,
            400,
            "InputError",
            "request/query/limit must be >= 0",
        ),
        (
            "  empty cursor",
            "GET",
            "/entities/by-query?cursor=",
            None,
            400,
            "InputError",
            "Empty value found for query parameter 'cursor'",
        ),
        (
            "26 bad order direction",
            "GET",
            "/entities/by-query?orderField=metadata.name,sideways",
            None,
            400,
            "InputError",
            "Invalid order field order, must be asc or desc",
        ),
        (
            "  totalItems enum",
            "GET",
            "/entities/by-query?totalItems=all",
            None,
            400,
            "InputError",
            "request/query/totalItems must be equal to one of the allowed values: include, exclude",
        ),
        (
            "29 query must be object",
            "POST",
            "/entities/by-query",
            Some((JSON, r#"{"query":"x"}"#)),
            400,
            "InputError",
            "request/body/query must be object",
        ),
        (
            "  POST empty cursor",
            "POST",
            "/entities/by-query",
            Some((JSON, r#"{"cursor":""}"#)),
            400,
            "InputError",
            "Cursor cannot be empty",
        ),
        (
            "31 by-name missing",
            "GET",
            "/entities/by-name/Component/default/Missing",
            None,
            404,
            "NotFoundError",
            "No entity named 'Missing' found, with kind 'Component' in namespace 'default'",
        ),
        (
            "32 by-uid missing",
            "GET",
            "/entities/by-uid/nope",
            None,
            404,
            "NotFoundError",
            "No entity with uid nope",
        ),
        (
            "36 by-refs {}",
            "POST",
            "/entities/by-refs",
            Some((JSON, "{}")),
            400,
            "InputError",
            "request/body must have required property 'entityRefs'",
        ),
        (
            "36 by-refs []",
            "POST",
            "/entities/by-refs",
            Some((JSON, "[]")),
            400,
            "InputError",
            "request/body must be object",
        ),
        (
            "36 by-refs wrong type",
            "POST",
            "/entities/by-refs",
            Some((JSON, r#"{"entityRefs":7}"#)),
            400,
            "InputError",
            "request/body/entityRefs must be array",
        ),
        (
            "36 by-refs not JSON",
            "POST",
            "/entities/by-refs",
            Some((JSON, "notjson")),
            400,
            "InputError",
            "Unexpected token 'n', \"notjson\" is not valid JSON",
        ),
        (
            "  by-refs text body",
            "POST",
            "/entities/by-refs",
            Some((Some("text/plain"), "{}")),
            400,
            "InputError",
            "unsupported media type text/plain",
        ),
        (
            "  by-refs body without type",
            "POST",
            "/entities/by-refs",
            Some((None, "{}")),
            400,
            "InputError",
            "unsupported media type undefined",
        ),
        (
            "37 ancestry of a missing entity",
            "GET",
            "/entities/by-name/component/default/ghost/ancestry",
            None,
            404,
            "NotFoundError",
            "No such entity component:default/ghost",
        ),
        (
            "38 facets without facet",
            "GET",
            "/entity-facets",
            None,
            400,
            "InputError",
            "request/query must have required property 'facet'",
        ),
        (
            "38 empty facet",
            "GET",
            "/entity-facets?facet=",
            None,
            400,
            "InputError",
            "Empty value found for query parameter 'facet'",
        ),
        (
            "  POST facets without facets",
            "POST",
            "/entity-facets",
            Some((JSON, "{}")),
            400,
            "InputError",
            "request/body must have required property 'facets'",
        ),
    ];
    for (id, method, path, body, code, name, message) in rows {
        let (status, _, value) = api.call(method, path, *body).await;
        assert_eq!(status.as_u16(), *code, "{id}: {value}");
        assert_eq!(value["error"]["name"], *name, "{id}");
        let got = value["error"]["message"].as_str().unwrap_or_default();
        if message.is_empty() {
            assert!(got.starts_with("Malformed cursor"), "{id}: {got}");
        } else {
            assert_eq!(got, *message, "{id}");
        }
        assert_eq!(value["response"]["statusCode"], *code, "{id}");
        assert_eq!(value["request"]["method"], *method, "{id}");
        assert_eq!(
            value["request"]["url"],
            format!("/api/catalog{path}"),
            "{id}"
        );
    }
    // The empty-body case of by-refs reaches the handler's own check.
    let (status, _, value) = api.call("POST", "/entities/by-refs", None).await;
    assert_eq!(status, 400);
    let message = value["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "Malformed request body (did you remember to specify an application/json content type?)"
        ),
        "{message}"
    );
    check(
        &api,
        "9 standard body",
        "GET",
        "/entities?filter==x",
        None,
        Expect::Error(400, "InputError", "Invalid filter, '=x' is not a valid statement (expected a string on the form a=b or a= or a)"),
    )
    .await;
    api.cleanup().await;
}

/// Decodes an `after` value of a `link` header.
fn link_after(link: &str) -> Value {
    let start = link.find("after=").map(|i| i + 6).unwrap_or(0);
    let end = link[start..].find('>').map_or(link.len(), |e| start + e);
    let raw = &link[start..end];
    let decoded: String = url::form_urlencoded::parse(format!("a={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    serde_json::from_slice(&decode_base64(&decoded)).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn list_pages_follow_link_headers() {
    let api = Api::new().await;
    // 16: limit=2 → two items and a next link whose after is {limit:2, offset:2}.
    let (status, headers, value) = api
        .call("GET", "/entities?filter=kind=component&limit=2", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(names(&value), ["billing", "cart"]);
    let link = headers
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        link.starts_with("</entities?filter=kind%3Dcomponent&limit=2&after="),
        "{link}"
    );
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
    assert_eq!(link_after(&link), json!({"limit": 2, "offset": 2}));
    // Following the links walks all five components; the last page has no link.
    let mut path = link[1..link.find('>').unwrap_or(1)].to_owned();
    let mut seen = names(&value);
    loop {
        let (status, headers, value) = api.call("GET", &path, None).await;
        assert_eq!(status, 200, "{path}");
        seen.extend(names(&value));
        match headers.get("link").and_then(|v| v.to_str().ok()) {
            Some(link) => path = link[1..link.find('>').unwrap_or(1)].to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["billing", "cart", "Payments-API", "web-shop", "zeta"]
    );
    let (_, headers, _) = api
        .call("GET", "/entities?filter=kind=component&limit=5", None)
        .await;
    assert!(
        headers.get("link").is_none(),
        "16 exact last page has no link"
    );
    api.cleanup().await;
}

/// A by-query page: names, total and which cursors are present.
fn page(value: &Value) -> (Vec<String>, u64, Option<String>, Option<String>) {
    (
        names(&value["items"]),
        value["totalItems"].as_u64().unwrap_or(u64::MAX),
        value["pageInfo"]["nextCursor"].as_str().map(str::to_owned),
        value["pageInfo"]["prevCursor"].as_str().map(str::to_owned),
    )
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn by_query_cursors() {
    let api = Api::new().await;
    // 18: default order is uid ascending.
    let (status, _, value) = api.call("GET", "/entities/by-query", None).await;
    assert_eq!(status, 200);
    let (all, total, next, prev) = page(&value);
    assert_eq!(
        all,
        [
            "zeta",
            "billing",
            "orders-api",
            "team-a",
            "Payments-API",
            "adam",
            "web-shop",
            "team-b",
            "cart",
            "zoe"
        ]
    );
    assert_eq!((total, next, prev), (10, None, None));
    assert_eq!(
        value["pageInfo"],
        json!({}),
        "21 pageInfo is {{}} without cursors"
    );

    // 19: first page of five components, two per page.
    let (_, _, first) = api
        .call(
            "GET",
            "/entities/by-query?filter=kind=component&limit=2",
            None,
        )
        .await;
    let (items, total, next, prev) = page(&first);
    assert_eq!(
        (items, total, prev),
        (vec!["zeta".to_owned(), "billing".to_owned()], 5, None)
    );
    let next = next.expect("19 nextCursor");
    // 20 + 22: the cursor carries the filter; one sent alongside is ignored.
    let (_, _, second) = api
        .call(
            "GET",
            &format!(
                "/entities/by-query?cursor={}&limit=2&filter=kind=user",
                enc(&next)
            ),
            None,
        )
        .await;
    let (items, total, next2, prev2) = page(&second);
    assert_eq!(
        (items, total),
        (vec!["Payments-API".to_owned(), "web-shop".to_owned()], 5),
        "20"
    );
    let prev2 = prev2.expect("20 prevCursor");
    let (_, _, back) = api
        .call(
            "GET",
            &format!("/entities/by-query?cursor={}&limit=2", enc(&prev2)),
            None,
        )
        .await;
    assert_eq!(
        page(&back).0,
        ["zeta", "billing"],
        "20 prevCursor returns the first page"
    );
    let (_, _, last) = api
        .call(
            "GET",
            &format!(
                "/entities/by-query?cursor={}&limit=2",
                enc(&next2.expect("next page"))
            ),
            None,
        )
        .await;
    let (items, total, next3, prev3) = page(&last);
    assert_eq!(
        (items, total, next3.is_none(), prev3.is_some()),
        (vec!["cart".to_owned()], 5, true, true),
        "21"
    );

    let rows: &[(&str, &str, &[&str], u64, bool)] = &[
        (
            "25 limit=0 counts only",
            "/entities/by-query?filter=kind=component&limit=0",
            &[],
            5,
            false,
        ),
        (
            "26 orderField desc",
            "/entities/by-query?filter=kind=component&orderField=metadata.name,desc",
            &["zeta", "web-shop", "Payments-API", "cart", "billing"],
            5,
            false,
        ),
        (
            "27 full text any case",
            "/entities/by-query?fullTextFilterTerm=PAY&fullTextFilterFields=metadata.name",
            &["Payments-API"],
            1,
            false,
        ),
        (
            "27 blank term filters nothing",
            "/entities/by-query?fullTextFilterTerm=%20%20&filter=kind=group",
            &["team-a", "team-b"],
            2,
            false,
        ),
        (
            "28 totalItems=exclude",
            "/entities/by-query?filter=kind=component&limit=1&totalItems=exclude",
            &["zeta"],
            0,
            true,
        ),
        (
            "  offset",
            "/entities/by-query?filter=kind=component&offset=3",
            &["web-shop", "cart"],
            5,
            false,
        ),
    ];
    for (id, path, expected, total, has_next) in rows {
        let (status, _, value) = api.call("GET", path, None).await;
        assert_eq!(status, 200, "{id}: {value}");
        let (items, got_total, next, _) = page(&value);
        assert_eq!(
            (items, got_total, next.is_some()),
            (
                expected.iter().map(|s| (*s).to_owned()).collect(),
                *total,
                *has_next
            ),
            "{id}"
        );
    }

    // 29: the POST predicate gives the same items as the equivalent GET filter.
    let (_, _, get) = api
        .call("GET", "/entities/by-query?filter=kind=component,spec.type=service&filter=kind=component,spec.type=website", None)
        .await;
    let (status, _, post) = api
        .call(
            "POST",
            "/entities/by-query",
            Some((
                JSON,
                r#"{"query":{"kind":"component","spec.type":{"$in":["service","website"]}}}"#,
            )),
        )
        .await;
    assert_eq!(status, 200, "29: {post}");
    assert_eq!(page(&post).0, page(&get).0, "29");
    assert_eq!(page(&post).0, ["billing", "Payments-API", "web-shop"], "29");
    // POST paging with orderBy and projection, then its cursor.
    let (_, _, first) = api
        .call(
            "POST",
            "/entities/by-query",
            Some((JSON, r#"{"query":{"kind":"component"},"orderBy":[{"field":"metadata.name","order":"asc"}],"limit":2,"fields":["metadata.name"]}"#)),
        )
        .await;
    assert_eq!(
        first["items"],
        json!([{"metadata":{"name":"billing"}},{"metadata":{"name":"cart"}}])
    );
    let cursor = first["pageInfo"]["nextCursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, _, second) = api
        .call(
            "POST",
            "/entities/by-query",
            Some((JSON, &json!({"cursor": cursor, "limit": 2}).to_string())),
        )
        .await;
    assert_eq!(page(&second).0, ["Payments-API", "web-shop"]);
    api.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn single_entities_refs_and_facets() {
    let api = Api::new().await;
    let rows: Vec<(&str, &str, &str, Body<'_>, Expect)> = vec![
        (
            "30 by-name any case",
            "GET",
            "/entities/by-name/COMPONENT/Default/payments-api",
            None,
            Expect::Names(&[]),
        ),
        (
            "35 by-refs in request order",
            "POST",
            "/entities/by-refs",
            Some((
                JSON,
                r#"{"entityRefs":["component:default/billing","component:default/missing","Component:Default/Billing","billing"],"fields":["metadata.name"]}"#,
            )),
            Expect::Json(
                json!({"items": [{"metadata":{"name":"billing"}}, null, {"metadata":{"name":"billing"}}, null]}),
            ),
        ),
        (
            "  by-refs with a filter",
            "POST",
            "/entities/by-refs?filter=kind=component",
            Some((
                JSON,
                r#"{"entityRefs":["component:default/billing","api:default/orders-api"],"fields":["kind","metadata.name"]}"#,
            )),
            Expect::Json(
                json!({"items": [{"kind":"Component","metadata":{"name":"billing"}}, null]}),
            ),
        ),
        (
            "  by-refs with a body predicate",
            "POST",
            "/entities/by-refs",
            Some((
                JSON,
                r#"{"entityRefs":["component:default/billing","api:default/orders-api","component:default/web-shop"],"fields":["metadata.name"],"query":{"$any":[{"kind":"api"},{"metadata.name":{"$hasPrefix":"BILL"}}]}}"#,
            )),
            Expect::Json(
                json!({"items": [{"metadata":{"name":"billing"}}, {"metadata":{"name":"orders-api"}}, null]}),
            ),
        ),
        (
            "  by-refs with a body predicate and a filter",
            "POST",
            "/entities/by-refs?filter=kind=component",
            Some((
                JSON,
                r#"{"entityRefs":["component:default/billing","api:default/orders-api"],"fields":["metadata.name"],"query":{"$any":[{"kind":"api"},{"metadata.name":"billing"}]}}"#,
            )),
            Expect::Json(json!({"items": [{"metadata":{"name":"billing"}}, null]})),
        ),
        (
            "  by-refs with a malformed body predicate",
            "POST",
            "/entities/by-refs",
            Some((
                JSON,
                r#"{"entityRefs":["component:default/billing"],"query":{"kind":{"$nope":1}}}"#,
            )),
            Expect::Error(
                400,
                "InputError",
                "Invalid filter predicate value for field \"kind\": unknown operator \"$nope\"",
            ),
        ),
        (
            "38 facets with original case",
            "GET",
            "/entity-facets?facet=kind&facet=spec.type",
            None,
            Expect::Json(json!({"facets": {
                "kind": [{"value":"API","count":1},{"value":"Component","count":5},{"value":"Group","count":2},{"value":"User","count":2}],
                "spec.type": [{"value":"Website","count":1},{"value":"openapi","count":1},{"value":"service","count":1},{"value":"team","count":2},{"value":"website","count":1}],
            }})),
        ),
        (
            "39 facets over filtered entities",
            "GET",
            "/entity-facets?facet=metadata.tags&filter=kind=component",
            None,
            Expect::Json(
                json!({"facets": {"metadata.tags": [{"value":"Java","count":1},{"value":"java","count":1},{"value":"payments","count":1}]}}),
            ),
        ),
        (
            "  POST facets with a predicate",
            "POST",
            "/entity-facets",
            Some((
                JSON,
                r#"{"facets":["spec.lifecycle"],"query":{"kind":"component"}}"#,
            )),
            Expect::Json(
                json!({"facets": {"spec.lifecycle": [{"value":"experimental","count":2},{"value":"production","count":3}]}}),
            ),
        ),
    ];
    for (id, method, path, body, expect) in rows {
        if let Expect::Names(_) = expect {
            let (status, headers, value) = api.call(method, path, body).await;
            assert_eq!(status, 200, "{id}");
            assert_eq!(
                headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/json; charset=utf-8")
            );
            assert_eq!(value["metadata"]["uid"], uid(5), "{id}");
            continue;
        }
        check(&api, id, method, path, body, expect).await;
    }
    // 32: by uid.
    let (status, _, value) = api
        .call("GET", &format!("/entities/by-uid/{}", uid(3)), None)
        .await;
    assert_eq!(
        (status.as_u16(), value["metadata"]["name"].as_str()),
        (200, Some("orders-api")),
        "32"
    );
    // 33: deleting an unknown uid answers 204 with no body.
    let (status, _, value) = api
        .call("DELETE", "/entities/by-uid/does-not-exist", None)
        .await;
    assert_eq!((status.as_u16(), value), (204, Value::Null), "33");
    api.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn write_route_validation() {
    let api = Api::new().await;
    let rows: &[ErrorRow<'_>] = &[
        (
            "51 type not allowed",
            "POST",
            "/locations",
            Some((JSON, r#"{"type":"file","target":"/x"}"#)),
            400,
            "InputError",
            "Registered locations must be of an allowed type [\"url\"]",
        ),
        (
            "51 missing target",
            "POST",
            "/locations",
            Some((JSON, r#"{"type":"url"}"#)),
            400,
            "InputError",
            "request/body must have required property 'target'",
        ),
        (
            "  onConflict enum",
            "POST",
            "/locations?onConflict=x",
            Some((JSON, r#"{"type":"url","target":"https://h/x"}"#)),
            400,
            "InputError",
            "request/query/onConflict must be equal to one of the allowed values: refresh, reject",
        ),
        (
            "54 unknown location",
            "GET",
            "/locations/0000",
            None,
            404,
            "NotFoundError",
            "Found no location with ID 0000",
        ),
        (
            "54 delete unknown location",
            "DELETE",
            "/locations/0000",
            None,
            404,
            "NotFoundError",
            "Found no location with ID 0000",
        ),
        (
            "  PUT extra key",
            "PUT",
            "/locations/0000",
            Some((JSON, r#"{"type":"url","target":"https://h/x","x":1}"#)),
            400,
            "InputError",
            "request/body must NOT have additional properties",
        ),
        (
            "  validate-entity without location",
            "POST",
            "/validate-entity",
            Some((JSON, "{}")),
            400,
            "InputError",
            "request/body must have required property 'location'",
        ),
        (
            "  validate-entity null entity",
            "POST",
            "/validate-entity",
            Some((JSON, r#"{"location":"url:https://h/x.yaml","entity":null}"#)),
            400,
            "InputError",
            "request/body/entity must be object",
        ),
        (
            "  analyze-location bad target",
            "POST",
            "/analyze-location",
            Some((JSON, r#"{"location":{"type":"url","target":"not a url"}}"#)),
            400,
            "InputError",
            "The given location.target is not a URL",
        ),
        (
            "  locations by-query limit",
            "POST",
            "/locations/by-query",
            Some((JSON, r#"{"limit":0}"#)),
            400,
            "InputError",
            "Limit must be a positive integer >= 1",
        ),
        (
            "  locations by-query key",
            "POST",
            "/locations/by-query",
            Some((JSON, r#"{"query":{"owner":"x"}}"#)),
            400,
            "InputError",
            "Invalid filter predicate, expected key to be 'id', 'type', 'target', or 'entityRef', got 'owner'",
        ),
        (
            "57 refresh unknown",
            "POST",
            "/refresh",
            Some((JSON, r#"{"entityRef":"component:default/ghost"}"#)),
            404,
            "NotFoundError",
            "Entity component:default/ghost not found",
        ),
    ];
    for (id, method, path, body, code, name, message) in rows {
        let (status, _, value) = api.call(method, path, *body).await;
        assert_eq!(status.as_u16(), *code, "{id}: {value}");
        assert_eq!(value["error"]["name"], *name, "{id}");
        assert_eq!(value["error"]["message"], *message, "{id}");
        assert_eq!(value["response"]["statusCode"], *code, "{id}");
    }
    // An unknown body key is refused by the handler's strict check.
    let (status, _, value) = api
        .call(
            "POST",
            "/locations",
            Some((JSON, r#"{"type":"url","target":"https://h/x","x":1}"#)),
        )
        .await;
    assert_eq!(status, 400);
    let message = value["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Malformed request: [") && message.contains("unrecognized_keys"),
        "{message}"
    );
    // 58: a non-url location gets the special error body.
    let (status, _, value) = api
        .call(
            "POST",
            "/validate-entity",
            Some((JSON, r#"{"location":"file:/x","entity":{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"name":"a"}}}"#)),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        value,
        json!({"errors":[{"name":"TypeError","message":"Invalid location ref file:/x, only 'url:<target>' is supported, e.g. url:https://host/path"}]}),
        "58"
    );
    // 59: no readable catalog file → a suggested Component named after the repository.
    let (status, _, value) = api
        .call(
            "POST",
            "/analyze-location",
            Some((
                JSON,
                r#"{"location":{"type":"url","target":"https://github.com/acme/x"}}"#,
            )),
        )
        .await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(
        value,
        json!({"existingEntityFiles": [], "generateEntities": [{"entity": {
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "x", "annotations": {"github.com/project-slug": "acme/x"}},
            "spec": {"type": "other", "lifecycle": "unknown"}}, "fields": []}]}),
        "59"
    );
    // 53: nothing registered yet.
    let (status, _, value) = api.call("GET", "/locations", None).await;
    assert_eq!((status.as_u16(), value), (200, json!([])), "53");
    api.cleanup().await;
}

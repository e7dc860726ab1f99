//! The catalog table at `/catalog`, the search page and the home cards over
//! HTTP, against a real backend that ingests a small catalog of YAML files:
//! kind picker and counts, facet filters, text search, sorting, cursor paging,
//! escaping, the empty state and bad input, on SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use serde_json::{Value, json};

#[path = "import_support/harness.rs"]
mod harness;

use harness::{get, page};

/// `(name, type, lifecycle, owner, tags, extra metadata lines)`.
const COMPONENTS: [(&str, &str, &str, &str, &str, &str); 6] = [
    (
        "alpha",
        "service",
        "production",
        "team-a",
        "[rust, web]",
        "  description: Alpha service\n",
    ),
    ("beta", "website", "experimental", "team-b", "[go]", ""),
    ("gamma", "service", "production", "team-a", "[rust]", ""),
    ("delta", "library", "deprecated", "team-b", "[java]", ""),
    (
        "epsilon",
        "service",
        "experimental",
        "team-a",
        "[]",
        "  title: \"<script>alert(1)</script>\"\n  description: \"<b>not bold</b>\"\n",
    ),
    (
        "zeta",
        "service",
        "production",
        "team-b",
        "[rust]",
        "  description: Payments gateway\n",
    ),
];

/// Writes the catalog's files and returns the root location's path.
fn write_catalog(dir: &TestDir) -> anyhow::Result<String> {
    let mut targets = Vec::new();
    let mut write = |file: String, text: String| -> anyhow::Result<()> {
        std::fs::write(dir.path().join(&file), text)?;
        targets.push(format!("./{file}"));
        Ok(())
    };
    for team in ["team-a", "team-b"] {
        write(
            format!("{team}.yaml"),
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {team}\nspec:\n  type: team\n  children: []\n"
            ),
        )?;
    }
    for (name, kind, lifecycle, owner, tags, extra) in COMPONENTS {
        let system = if name == "alpha" {
            "  system: sys-one\n"
        } else {
            ""
        };
        write(
            format!("{name}.yaml"),
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  tags: {tags}\n{extra}spec:\n  type: {kind}\n  lifecycle: {lifecycle}\n  owner: {owner}\n{system}"
            ),
        )?;
    }
    write(
        "sys-one.yaml".to_owned(),
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: sys-one\n  description: The first system\nspec:\n  owner: team-a\n".to_owned(),
    )?;
    write(
        "petstore.yaml".to_owned(),
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: petstore\n  description: Pets for sale\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition: \"openapi: 3.0.0\"\n".to_owned(),
    )?;
    let root = dir.path().join("catalog-info.yaml");
    std::fs::write(
        &root,
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets: [{}]\n",
            targets.join(", ")
        ),
    )?;
    Ok(root.display().to_string())
}

/// Starts a backend with the catalog and its pages, and waits until every
/// component is ingested with its owner relation stitched.
async fn start(database: Value, files: &TestDir) -> anyhow::Result<TestBackend> {
    let root = write_catalog(files)?;
    let config = json!({
        "backend": { "database": database },
        "catalog": {
            "rules": [{ "allow": ["Component", "Group", "Location", "System", "API"] }],
            "locations": [{ "type": "file", "target": root }],
        },
    });
    let backend = TestBackend::start(
        config,
        vec![
            greenroom_plugin_catalog_backend::plugin().into(),
            greenroom_plugin_catalog_backend::catalog_service_factory().into(),
            greenroom_web::plugin().into(),
            greenroom_plugin_catalog::module().into(),
        ],
    )
    .await?;
    let http = reqwest::Client::new();
    let facets = backend.url(
        "/api/catalog/entity-facets?facet=relations.ownedBy&facet=relations.partOf&filter=kind=component",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Owners come from stitched relations, so wait for all six of them
        // (and alpha's system) rather than only for the entity count.
        let answer: Value = http.get(&facets).send().await?.json().await?;
        let owned: u64 = answer["facets"]["relations.ownedBy"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["count"].as_u64())
            .sum();
        let part_of = answer["facets"]["relations.partOf"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        if owned == 6 && part_of {
            break;
        }
        if Instant::now() > deadline {
            bail!("the catalog was not ingested in time: {answer}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(backend)
}

/// The components the table lists, in order (from their entity links).
fn listed(body: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find("href=\"/catalog/default/component/") {
        rest = &rest[at + "href=\"/catalog/default/component/".len()..];
        if let Some(end) = rest.find('"') {
            names.push(rest[..end].to_owned());
        }
    }
    names
}

/// The table's header row.
fn table_head(body: &str) -> &str {
    let start = body.find("<thead>").unwrap_or(0);
    let end = body.find("</thead>").unwrap_or(body.len());
    &body[start..end.max(start)]
}

/// The pager link with `rel`, unescaped.
fn pager_link(body: &str, rel: &str) -> Option<String> {
    let marker = format!("\" rel=\"{rel}\"");
    let end = body.find(&marker)?;
    let start = body[..end].rfind("href=\"")? + "href=\"".len();
    Some(body[start..end].replace("&amp;", "&"))
}

async fn catalog_scenario(backend: &TestBackend) -> anyhow::Result<()> {
    // The default kind is Component; the kind picker counts each kind.
    let body = page(backend, "/catalog").await?;
    assert_eq!(
        listed(&body),
        ["alpha", "beta", "delta", "epsilon", "gamma", "zeta"]
    );
    assert!(body.contains("1–6 of 6"), "{body}");
    assert!(body.contains(r#"<option value="component" selected>Component (6)</option>"#));
    assert!(body.contains(r#"<option value="api">API (1)</option>"#));
    assert!(body.contains(r#"<option value="group">Group (2)</option>"#));
    assert!(body.contains(r#"<a href="/catalog" aria-current="page">"#));
    // Facet counts for the current kind, owner written short.
    assert!(body.contains(r#"<option value="group:default/team-a">team-a (3)</option>"#));
    assert!(body.contains(r#"<option value="service">service (4)</option>"#));
    assert!(body.contains(r#"<option value="rust">rust (3)</option>"#));
    // Backstage's component columns, owner and system as entity links.
    for header in [
        ">Name",
        ">System",
        ">Owner",
        ">Type",
        ">Lifecycle",
        "Description<",
        "Tags<",
    ] {
        assert!(body.contains(header), "column {header}");
    }
    assert!(body.contains(r#"<a href="/catalog/default/group/team-a">team-a</a>"#));
    assert!(body.contains(r#"<a href="/catalog/default/system/sys-one">sys-one</a>"#));
    // A title with markup shows as text.
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(body.contains("&lt;b&gt;not bold&lt;/b&gt;"));
    assert!(!body.contains("<script>alert(1)"));
    assert!(!body.contains("<b>not bold"));

    // Other kinds, with their own columns.
    let apis = page(backend, "/catalog?kind=api").await?;
    assert!(
        apis.contains(r#"href="/catalog/default/api/petstore""#),
        "{apis}"
    );
    assert!(apis.contains("1–1 of 1"));
    let systems = page(backend, "/catalog?kind=System").await?;
    assert!(systems.contains(r#"href="/catalog/default/system/sys-one""#));
    let head = table_head(&systems);
    assert!(
        head.contains(">Owner") && !head.contains(">Lifecycle"),
        "{head}"
    );

    // Filters narrow the table; a short owner ref means the group.
    for (query, expected) in [
        ("owner=team-b", vec!["beta", "delta", "zeta"]),
        (
            "owner=group%3Adefault%2Fteam-b",
            vec!["beta", "delta", "zeta"],
        ),
        ("type=service", vec!["alpha", "epsilon", "gamma", "zeta"]),
        ("lifecycle=production", vec!["alpha", "gamma", "zeta"]),
        ("tag=rust", vec!["alpha", "gamma", "zeta"]),
        (
            "type=service&owner=team-a",
            vec!["alpha", "epsilon", "gamma"],
        ),
        ("namespace=default&tag=go", vec!["beta"]),
        ("q=ZET", vec!["zeta"]),
        // The table searches names and titles only, as Backstage's does.
        ("q=payments", vec![]),
        ("q=ALPHA", vec!["alpha"]),
        ("q=%3Cscript", vec!["epsilon"]),
    ] {
        let body = page(backend, &format!("/catalog?kind=component&{query}")).await?;
        assert_eq!(listed(&body), expected, "{query}");
        let total = format!("of {}<", expected.len());
        assert!(body.contains(&total), "{query}: {body}");
    }
    // Filtered by type, the table leaves the type column out, as Backstage does.
    let services = page(backend, "/catalog?type=service").await?;
    assert!(!table_head(&services).contains(">Type"));
    assert!(table_head(&services).contains(">Lifecycle"));
    let filtered = page(backend, "/catalog?owner=team-b").await?;
    assert!(filtered.contains(r#"<option value="group:default/team-b" selected>"#));

    // Sorting, both ways, on name and type.
    let body = page(backend, "/catalog?sort=-name").await?;
    assert_eq!(
        listed(&body),
        ["zeta", "gamma", "epsilon", "delta", "beta", "alpha"]
    );
    assert!(body.contains(r#"aria-sort="descending""#));
    let by_type = listed(&page(backend, "/catalog?sort=type").await?);
    assert_eq!(
        by_type.first().map(String::as_str),
        Some("delta"),
        "{by_type:?}"
    );
    assert_eq!(
        by_type.last().map(String::as_str),
        Some("beta"),
        "{by_type:?}"
    );

    // Paging forward and back with a small page size.
    let first = page(backend, "/catalog?limit=2").await?;
    assert_eq!(listed(&first), ["alpha", "beta"]);
    assert!(first.contains("1–2 of 6"));
    assert!(pager_link(&first, "prev").is_none());
    let next = pager_link(&first, "next").context("a next link")?;
    let second = page(backend, &next).await?;
    assert_eq!(listed(&second), ["delta", "epsilon"]);
    assert!(second.contains("3–4 of 6"), "{second}");
    let third = page(backend, &pager_link(&second, "next").context("next")?).await?;
    assert_eq!(listed(&third), ["gamma", "zeta"]);
    assert!(third.contains("5–6 of 6"));
    assert!(pager_link(&third, "next").is_none());
    let back = page(backend, &pager_link(&third, "prev").context("prev")?).await?;
    assert_eq!(listed(&back), ["delta", "epsilon"]);
    assert!(back.contains("3–4 of 6"));
    // A sort link from a later page starts the walk again.
    let resorted = back
        .split("href=\"")
        .find(|chunk| chunk.starts_with("/catalog?") && chunk.contains("sort=-name"))
        .and_then(|chunk| chunk.split('"').next())
        .context("a sort link")?
        .replace("&amp;", "&");
    let resorted = page(backend, &resorted).await?;
    assert_eq!(listed(&resorted), ["zeta", "gamma"]);
    assert!(resorted.contains("1–2 of 6"), "{resorted}");
    // Paging keeps the filter and the order.
    let sorted = page(backend, "/catalog?sort=-name&type=service&limit=3").await?;
    assert_eq!(listed(&sorted), ["zeta", "gamma", "epsilon"]);
    let rest = page(backend, &pager_link(&sorted, "next").context("next")?).await?;
    assert_eq!(listed(&rest), ["alpha"]);

    // Nothing matches: the empty state, still a page.
    let (status, empty) = get(backend, "/catalog?q=nothing-like-this").await?;
    assert_eq!(status, 200);
    assert!(empty.contains("No entities match these filters"));
    assert!(empty.contains("0 of 0"));

    // A filter value no entity has still shows as chosen, with no rows.
    let nobody = page(backend, "/catalog?owner=nobody").await?;
    assert!(nobody.contains(r#"<option value="nobody" selected>nobody (0)</option>"#));
    assert!(nobody.contains("No entities match these filters"));

    // Bad input: an error state and 400, never a 500.
    for query in [
        "kind=nope",
        "cursor=not-a-cursor",
        "sort=bogus",
        "limit=0",
        "limit=100000",
        "limit=abc",
    ] {
        let (status, body) = get(backend, &format!("/catalog?{query}")).await?;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(r#"role="alert""#), "{query}: {body}");
    }
    let long = "x".repeat(500);
    let (status, _) = get(backend, &format!("/catalog?q={long}")).await?;
    assert_eq!(status, 400);
    Ok(())
}

async fn search_and_home_scenario(backend: &TestBackend, files: &TestDir) -> anyhow::Result<()> {
    // The header's search box: every kind, a badge, a link and the description.
    let body = page(backend, "/search?q=pet").await?;
    assert!(body.contains(r#"<span class="badge">API</span>"#), "{body}");
    assert!(body.contains(r#"href="/catalog/default/api/petstore""#));
    assert!(body.contains("Pets for sale"));
    assert!(
        body.contains(r#"value="pet""#),
        "the search box keeps the term"
    );
    // The global search also looks in descriptions.
    let payments = page(backend, "/search?q=payments").await?;
    assert!(payments.contains(r#"href="/catalog/default/component/zeta""#));
    let teams = page(backend, "/search?q=team").await?;
    assert!(teams.contains(r#"href="/catalog/default/group/team-a""#));
    assert!(teams.contains(r#"href="/catalog/default/group/team-b""#));
    let escaped = page(backend, "/search?q=script").await?;
    assert!(escaped.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!escaped.contains("<script>alert(1)"));
    // Paged by cursor: "a" is in nearly every name.
    let first = page(backend, "/search?q=a&limit=2").await?;
    assert!(first.contains("1–2 of "), "{first}");
    let second = page(backend, &pager_link(&first, "next").context("next")?).await?;
    assert!(second.contains("3–4 of "), "{second}");
    assert!(pager_link(&second, "prev").is_some());
    let none = page(backend, "/search?q=zzzz-nothing").await?;
    assert!(none.contains("Nothing in the catalog matches this search"));
    let blank = page(backend, "/search").await?;
    assert!(blank.contains("Type a term"));
    let (status, _) = get(backend, "/search?q=a&cursor=broken").await?;
    assert_eq!(status, 400);

    // The home page counts each kind, linking to its table.
    let home = page(backend, "/").await?;
    assert!(
        home.contains(
            r#"<a href="/catalog?kind=component">Component</a> <span class="badge">6</span>"#
        ),
        "{home}"
    );
    assert!(home.contains(r#"<a href="/catalog?kind=api">API</a> <span class="badge">1</span>"#));
    // The recently changed card lists entities from the change log, newest first.
    assert!(home.contains(r#"aria-label="Recently changed""#), "{home}");
    let recent = &home[home
        .find(r#"class="recent-changes""#)
        .context("recent list")?..];
    assert!(recent.contains(r#"href="/catalog/default/"#));
    assert!(recent.contains(" ago</span>") || recent.contains("just now</span>"));
    let api: Value = reqwest::get(backend.url("/api/catalog/changes/recent?limit=3"))
        .await?
        .json()
        .await?;
    let items = api["items"].as_array().context("items")?;
    assert_eq!(items.len(), 3, "{api}");
    let times: Vec<i64> = items
        .iter()
        .filter_map(|i| i["changedAtMs"].as_i64())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {api}"
    );
    let (status, _) = get(backend, "/api/catalog/changes/recent?limit=0").await?;
    assert_eq!(status, 400);

    // An edited file, re-read on a refresh of the root location, puts its
    // entity at the top of the card.
    let gamma = std::fs::read_to_string(files.path().join("gamma.yaml"))?;
    std::fs::write(
        files.path().join("gamma.yaml"),
        gamma.replace("  tags:", "  description: Edited gamma\n  tags:"),
    )?;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let refresh = http
            .post(backend.url("/api/catalog/refresh"))
            .json(&json!({ "entityRef": "location:default/root" }))
            .send()
            .await?;
        assert!(
            refresh.status().is_success(),
            "refresh: {}",
            refresh.status()
        );
        let latest: Value = http
            .get(backend.url("/api/catalog/changes/recent?limit=1"))
            .send()
            .await?
            .json()
            .await?;
        if latest["items"][0]["entityRef"] == "component:default/gamma" {
            break;
        }
        if Instant::now() > deadline {
            bail!("the edit did not reach the change log: {latest}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let home = page(backend, "/").await?;
    let recent = &home[home
        .find(r#"class="recent-changes""#)
        .context("recent list")?..];
    let first = recent.find("href=\"/catalog/").context("a link")?;
    assert!(
        recent[first..].starts_with(r#"href="/catalog/default/component/gamma""#),
        "{recent}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_pages_on_sqlite() -> anyhow::Result<()> {
    let data = TestDir::new();
    let files = TestDir::new();
    let backend = start(data.sqlite_database_config(), &files).await?;
    catalog_scenario(&backend).await?;
    search_and_home_scenario(&backend, &files).await?;
    backend.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_pages_on_postgres() -> anyhow::Result<()> {
    let pg = TestPostgres::new();
    let files = TestDir::new();
    let backend = start(pg.database_config(json!({})), &files).await?;
    let result = catalog_scenario(&backend).await;
    let search = search_and_home_scenario(&backend, &files).await;
    backend.stop().await;
    pg.cleanup().await;
    result.and(search)
}

//! A quick profile loop for the index's read path: builds an index of generated final
//! entities shaped like the bench crate's catalog and prints medians of the queries the
//! `/catalog` and `/search` pages make. Run with
//! `cargo run --release -p greenroom-catalog-query --example read_path -- 100000 20`.

use std::time::{Duration, Instant};

use greenroom_catalog_query::{
    CatalogIndex, EntityFilter, FullTextFilter, OrderField, QueryRequest, parse_predicate,
};
use serde_json::{Value, json};

/// Generates the catalog one entity at a time, so that the generator's own memory does not
/// hide the index's in the reported resident size.
fn entities(total: usize, sink: &mut dyn FnMut(Value)) {
    let teams = (total / 50).max(3);
    let users = total / 5;
    let systems = (total / 40).max(1);
    let apis = total * 3 / 20;
    let resources = total / 10;
    let components = total.saturating_sub(teams + users + systems + apis + resources);
    let mut seed: u64 = 7;
    let mut below = |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n.max(1)
    };
    let mut n = 0u64;
    let mut uid = || {
        n += 1;
        format!("{n:08x}-0000-4000-8000-{:012x}", n * 7919)
    };
    for t in 0..teams {
        sink(
            json!({"apiVersion":"backstage.io/v1alpha1","kind":"Group","metadata":{"name":format!("team-{t}"),"namespace":"default","uid":uid()},"spec":{"type":"team","children":[],"profile":{"displayName":format!("Team {t}")}},"relations":[]}),
        );
    }
    for u in 0..users {
        let team = below(teams);
        sink(
            json!({"apiVersion":"backstage.io/v1alpha1","kind":"User","metadata":{"name":format!("user-{u}"),"namespace":"default","uid":uid()},"spec":{"profile":{"displayName":format!("User Number {u}"),"email":format!("user-{u}@example.com")},"memberOf":[format!("team-{team}")]},"relations":[{"type":"memberOf","targetRef":format!("group:default/team-{team}")}]}),
        );
    }
    for s in 0..systems {
        sink(
            json!({"apiVersion":"backstage.io/v1alpha1","kind":"System","metadata":{"name":format!("system-{s}"),"namespace":"default","uid":uid()},"spec":{"owner":format!("team-{}", s % teams)},"relations":[{"type":"ownedBy","targetRef":format!("group:default/team-{}", s % teams)}]}),
        );
    }
    for a in 0..apis {
        let owner = below(teams);
        sink(
            json!({"apiVersion":"backstage.io/v1alpha1","kind":"API","metadata":{"name":format!("api-{a}"),"namespace":"default","uid":uid(),"tags":["openapi"]},"spec":{"type":"openapi","lifecycle":"production","owner":format!("team-{owner}"),"system":format!("system-{}", a % systems)},"relations":[{"type":"ownedBy","targetRef":format!("group:default/team-{owner}")}]}),
        );
    }
    for r in 0..resources {
        let owner = below(teams);
        sink(
            json!({"apiVersion":"backstage.io/v1alpha1","kind":"Resource","metadata":{"name":format!("resource-{r}"),"namespace":"default","uid":uid()},"spec":{"type":"database","owner":format!("team-{owner}"),"system":format!("system-{}", r % systems)},"relations":[{"type":"ownedBy","targetRef":format!("group:default/team-{owner}")}]}),
        );
    }
    let lifecycles = ["production", "experimental", "deprecated"];
    let kinds = ["service", "website", "library"];
    for c in 0..components {
        let owner = below(teams);
        let resource = below(resources);
        let api = below(apis);
        sink(
            json!({"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"name":format!("component-{c}"),"namespace":"default","uid":uid(),"description":format!("Component {c} does useful work."),"tags":["rust", format!("team-{}", c % teams)]},"spec":{"type":kinds[c % 3],"lifecycle":lifecycles[c % 3],"owner":format!("team-{owner}"),"system":format!("system-{}", c % systems),"providesApis":[format!("api-{api}")],"dependsOn":[format!("resource:resource-{resource}")]},"relations":[{"type":"ownedBy","targetRef":format!("group:default/team-{owner}")},{"type":"providesApi","targetRef":format!("api:default/api-{api}")},{"type":"dependsOn","targetRef":format!("resource:default/resource-{resource}")}]}),
        );
    }
}

/// Prints one line of the report.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn median(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let mut index = CatalogIndex::new();
    let start = Instant::now();
    entities(total, &mut |entity| {
        index.upsert(entity).expect("generated entities are valid");
    });
    say!("{total} entities indexed in {:?}", start.elapsed());
    // Resident memory after indexing (the generated values are dropped by now).
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    say!("{rss}");

    let component = Some(EntityFilter::eq("kind", "component"));
    let facets: Vec<String> = [
        "spec.type",
        "relations.ownedBy",
        "spec.lifecycle",
        "metadata.tags",
        "metadata.namespace",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let by_name = Some(OrderField {
        field: "metadata.name".to_owned(),
        desc: false,
    });
    let predicate = parse_predicate(&json!({"kind": "component"})).expect("predicate");
    let text = |i: usize| FullTextFilter {
        term: format!("component-{}", i * 131 % (total / 2).max(1)),
        fields: vec![
            "metadata.name".to_owned(),
            "metadata.title".to_owned(),
            "spec.profile.displayName".to_owned(),
        ],
    };
    let page = |full_text: Option<FullTextFilter>| QueryRequest {
        filter: Some(predicate.clone()),
        order_field: by_name.clone(),
        full_text,
        limit: Some(20),
        ..QueryRequest::default()
    };
    let first = index.query(&page(None)).expect("query");
    let cursor = first.next_cursor.clone().expect("a second page");

    let baseline = median(rounds, || {
        std::hint::black_box(index.count(component.as_ref()));
    });
    say!("baseline count(kind=component)     {baseline:>12?}");
    say!(
        "facets x5 kind=component           {:>12?}",
        median(rounds, || {
            std::hint::black_box(index.facets(&facets, component.as_ref()));
        })
    );
    say!(
        "facet kind                         {:>12?}",
        median(rounds, || {
            std::hint::black_box(index.facets(&["kind".to_owned()], None));
        })
    );
    say!(
        "query kind=component by name, 20   {:>12?}",
        median(rounds, || {
            std::hint::black_box(index.query(&page(None)).expect("query"));
        })
    );
    let mut i = 0;
    say!(
        "query + text component-N           {:>12?}",
        median(rounds, || {
            i += 1;
            std::hint::black_box(index.query(&page(Some(text(i)))).expect("query"));
        })
    );
    say!(
        "second page (cursor)               {:>12?}",
        median(rounds, || {
            std::hint::black_box(
                index
                    .query(&QueryRequest {
                        cursor: Some(cursor.clone()),
                        limit: Some(20),
                        ..QueryRequest::default()
                    })
                    .expect("query"),
            );
        })
    );
    let mut j = 0;
    say!(
        "search: text, any kind, 20         {:>12?}",
        median(rounds, || {
            j += 1;
            std::hint::black_box(
                index
                    .query(&QueryRequest {
                        full_text: Some(text(j)),
                        order_field: by_name.clone(),
                        limit: Some(20),
                        ..QueryRequest::default()
                    })
                    .expect("query"),
            );
        })
    );
}

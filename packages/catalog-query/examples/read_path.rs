//! A quick profile loop for the index's read path: builds two indexes of the same generated
//! final entities, one with uncompressed texts (the baseline) and one with compressed texts,
//! and prints their memory and the medians of the queries the `/catalog` and `/search` pages
//! and the REST pages make, with the ratio of each to the baseline. Run with
//! `cargo run --release -p greenroom-catalog-query --example read_path -- 100000 20`.
//!
//! The entities have the shape the bench crate's catalog has once processed and stitched:
//! the same kinds in the same proportions, the location annotations, uids, etags and every
//! relation with its reverse, so that text sizes and their likeness are realistic.

use std::time::{Duration, Instant};

use greenroom_catalog_query::{
    CatalogIndex, EntityFilter, FullTextFilter, IndexedEntity, OrderField, QueryRequest, TextStats,
    parse_predicate,
};
use serde_json::{Value, json};

/// The bench crate's generator (`bench/src/generate.rs`): a tiny linear congruential generator.
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound.max(1) as u64) as usize
    }
}

/// One component's random choices, drawn in the bench generator's order.
struct ComponentPick {
    provides: usize,
    consumes: usize,
    resource: usize,
    owner: usize,
    depends_on: Option<usize>,
}

/// The generated catalog's graph: counts, random choices and the reverse edges that
/// stitching adds as relations. Built once and shared by both indexes, so that generating
/// entities one at a time allocates nothing that outlives an entity.
struct Catalog {
    divisions: usize,
    teams: usize,
    users: Vec<(usize, Option<usize>)>,
    domains: usize,
    systems: usize,
    api_owners: Vec<usize>,
    resource_owners: Vec<usize>,
    components: Vec<ComponentPick>,
    members: Vec<Vec<usize>>,
    team_owns: Vec<Vec<String>>,
    provided_by: Vec<Vec<usize>>,
    consumed_by: Vec<Vec<usize>>,
    resource_dependents: Vec<Vec<usize>>,
    component_dependents: Vec<Vec<usize>>,
}

impl Catalog {
    /// The bench crate's mix of kinds for `total` entities (`Mix::for_total`).
    fn new(total: usize) -> Self {
        let groups = (total / 50).max(3);
        let users = total / 5;
        let domains = (total / 400).max(1);
        let systems = (total / 40).max(1);
        let apis = total * 3 / 20;
        let resources = total / 10;
        let used = groups + users + domains + systems + apis + resources;
        let components = total.saturating_sub(used).max(1);
        let divisions = (groups / 10).max(1);
        let teams = groups.saturating_sub(divisions + 1).max(1);
        let mut rng = Lcg::new(42);
        let users: Vec<(usize, Option<usize>)> = (0..users)
            .map(|u| {
                let team = rng.below(teams);
                let second = rng.below(teams);
                (team, (second != team && u % 4 == 0).then_some(second))
            })
            .collect();
        let api_owners: Vec<usize> = (0..apis).map(|_| rng.below(teams)).collect();
        let resource_owners: Vec<usize> = (0..resources).map(|_| rng.below(teams)).collect();
        let components: Vec<ComponentPick> = (0..components)
            .map(|c| {
                let provides = rng.below(apis);
                let consumes = rng.below(apis);
                let resource = rng.below(resources);
                let owner = rng.below(teams);
                let depends_on = (c > 0).then(|| rng.below(c));
                ComponentPick {
                    provides,
                    consumes,
                    resource,
                    owner,
                    depends_on,
                }
            })
            .collect();
        let mut members = vec![Vec::new(); teams];
        for (u, (team, second)) in users.iter().enumerate() {
            members[*team].push(u);
            if let Some(second) = second {
                members[*second].push(u);
            }
        }
        let mut team_owns = vec![Vec::new(); teams];
        for s in 0..systems {
            team_owns[s % teams].push(format!("system:default/system-{s}"));
        }
        for (a, owner) in api_owners.iter().enumerate() {
            team_owns[*owner].push(format!("api:default/api-{a}"));
        }
        for (r, owner) in resource_owners.iter().enumerate() {
            team_owns[*owner].push(format!("resource:default/resource-{r}"));
        }
        let mut provided_by = vec![Vec::new(); apis];
        let mut consumed_by = vec![Vec::new(); apis];
        let mut resource_dependents = vec![Vec::new(); resources];
        let mut component_dependents = vec![Vec::new(); components.len()];
        for (c, pick) in components.iter().enumerate() {
            team_owns[pick.owner].push(format!("component:default/component-{c}"));
            provided_by[pick.provides].push(c);
            consumed_by[pick.consumes].push(c);
            resource_dependents[pick.resource].push(c);
            if let Some(d) = pick.depends_on {
                component_dependents[d].push(c);
            }
        }
        Self {
            divisions,
            teams,
            users,
            domains,
            systems,
            api_owners,
            resource_owners,
            components,
            members,
            team_owns,
            provided_by,
            consumed_by,
            resource_dependents,
            component_dependents,
        }
    }

    /// Generates the final entities one at a time, in the bench's file order.
    fn entities(&self, sink: &mut dyn FnMut(Value)) {
        let mut ids = Lcg::new(7);
        let mut doc = 0usize;
        // What processing and stitching add to every entity: the location annotations (the
        // bench writes files of 500 documents under a temporary directory), namespace, uid
        // and etag.
        let mut finish = |mut entity: Value, relations: Vec<(&str, String)>| {
            let mut relations = relations;
            relations.sort();
            let (a, b, c) = (ids.next_u64(), ids.next_u64(), ids.next_u64());
            if let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
                let annotations = metadata
                    .entry("annotations")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .expect("annotations are an object");
                annotations.insert(
                    "backstage.io/managed-by-location".to_owned(),
                    json!(format!(
                        "file:/tmp/greenroom-bench-catalog-4242/catalog/part-{:04}.yaml",
                        doc / 500
                    )),
                );
                annotations.insert(
                    "backstage.io/managed-by-origin-location".to_owned(),
                    json!("file:/tmp/greenroom-bench-catalog-4242/catalog/catalog-info.yaml"),
                );
                metadata.insert("namespace".to_owned(), json!("default"));
                metadata.insert(
                    "uid".to_owned(),
                    json!(format!(
                        "01a22b3f-{:04x}-7{:03x}-{:04x}-{:012x}",
                        a & 0xffff,
                        (a >> 16) & 0xfff,
                        0x8000 | ((a >> 28) & 0x3fff),
                        b & 0xffff_ffff_ffff
                    )),
                );
                metadata.insert(
                    "etag".to_owned(),
                    json!(format!(
                        "{:016x}{:016x}{:08x}",
                        a.rotate_left(17) ^ b,
                        c,
                        (b >> 20) as u32
                    )),
                );
            }
            if let Some(object) = entity.as_object_mut() {
                object.insert(
                    "relations".to_owned(),
                    Value::Array(
                        relations
                            .into_iter()
                            .map(|(t, target)| json!({"type": t, "targetRef": target}))
                            .collect(),
                    ),
                );
            }
            doc += 1;
            sink(entity);
        };
        let teams = self.teams;
        let divisions = self.divisions;
        let systems = self.systems;
        let apis = self.api_owners.len();
        let resources = self.resource_owners.len();

        finish(
            json!({"apiVersion":"backstage.io/v1alpha1","kind":"Group","metadata":{"name":"org","title":"The Organisation"},"spec":{"type":"organization","children":[]}}),
            (0..divisions)
                .map(|d| ("parentOf", format!("group:default/division-{d}")))
                .collect(),
        );
        for d in 0..divisions {
            let mut relations = vec![("childOf", "group:default/org".to_owned())];
            relations.extend(
                (d..self.domains)
                    .step_by(divisions)
                    .map(|o| ("ownerOf", format!("domain:default/domain-{o}"))),
            );
            relations.extend(
                (d..teams)
                    .step_by(divisions)
                    .map(|t| ("parentOf", format!("group:default/team-{t}"))),
            );
            finish(
                json!({"apiVersion":"backstage.io/v1alpha1","kind":"Group","metadata":{"name":format!("division-{d}"),"description":format!("Division number {d}.")},"spec":{"type":"business-unit","parent":"org","children":[],"profile":{"displayName":format!("Division {d}"),"email":format!("division-{d}@example.com")}}}),
                relations,
            );
        }
        for t in 0..teams {
            let mut relations = vec![(
                "childOf",
                format!("group:default/division-{}", t % divisions),
            )];
            relations.extend(
                self.members[t]
                    .iter()
                    .map(|u| ("hasMember", format!("user:default/user-{u}"))),
            );
            relations.extend(self.team_owns[t].iter().map(|o| ("ownerOf", o.clone())));
            finish(
                json!({"apiVersion":"backstage.io/v1alpha1","kind":"Group","metadata":{"name":format!("team-{t}"),"labels":{"example.com/cost-center":format!("cc-{}", t % 97)}},"spec":{"type":"team","parent":format!("division-{}", t % divisions),"children":[],"profile":{"displayName":format!("Team {t}")}}}),
                relations,
            );
        }
        for (u, (team, second)) in self.users.iter().enumerate() {
            let mut member_of = vec![format!("team-{team}")];
            let mut relations = vec![("memberOf", format!("group:default/team-{team}"))];
            if let Some(second) = second {
                member_of.push(format!("group:default/team-{second}"));
                relations.push(("memberOf", format!("group:default/team-{second}")));
            }
            finish(
                json!({"apiVersion":"backstage.io/v1alpha1","kind":"User","metadata":{"name":format!("user-{u}")},"spec":{"profile":{"displayName":format!("User Number {u}"),"email":format!("user-{u}@example.com")},"memberOf":member_of}}),
                relations,
            );
        }
        for d in 0..self.domains {
            let mut relations = vec![(
                "ownedBy",
                format!("group:default/division-{}", d % divisions),
            )];
            relations.extend(
                (d..systems)
                    .step_by(self.domains)
                    .map(|s| ("hasPart", format!("system:default/system-{s}"))),
            );
            finish(
                json!({"apiVersion":"backstage.io/v1alpha1","kind":"Domain","metadata":{"name":format!("domain-{d}"),"description":format!("Business domain {d}.")},"spec":{"owner":format!("division-{}", d % divisions),"type":"product-area"}}),
                relations,
            );
        }
        for s in 0..systems {
            let mut relations = vec![
                ("ownedBy", format!("group:default/team-{}", s % teams)),
                (
                    "partOf",
                    format!("domain:default/domain-{}", s % self.domains),
                ),
            ];
            relations.extend(
                (s..apis)
                    .step_by(systems)
                    .map(|a| ("hasPart", format!("api:default/api-{a}"))),
            );
            relations.extend(
                (s..resources)
                    .step_by(systems)
                    .map(|r| ("hasPart", format!("resource:default/resource-{r}"))),
            );
            relations.extend(
                (s..self.components.len())
                    .step_by(systems)
                    .map(|c| ("hasPart", format!("component:default/component-{c}"))),
            );
            finish(
                json!({"apiVersion":"backstage.io/v1alpha1","kind":"System","metadata":{"name":format!("system-{s}"),"description":format!("System {s}, part of domain {}.", s % self.domains)},"spec":{"owner":format!("team-{}", s % teams),"domain":format!("domain-{}", s % self.domains)}}),
                relations,
            );
        }
        let api_types = ["openapi", "asyncapi", "graphql", "grpc"];
        for (a, owner) in self.api_owners.iter().enumerate() {
            let api_type = api_types[a % api_types.len()];
            let mut relations = vec![
                ("ownedBy", format!("group:default/team-{owner}")),
                ("partOf", format!("system:default/system-{}", a % systems)),
            ];
            relations.extend(
                self.provided_by[a]
                    .iter()
                    .map(|c| ("apiProvidedBy", format!("component:default/component-{c}"))),
            );
            relations.extend(
                self.consumed_by[a]
                    .iter()
                    .map(|c| ("apiConsumedBy", format!("component:default/component-{c}"))),
            );
            finish(
                json!({"apiVersion":"backstage.io/v1alpha1","kind":"API","metadata":{"name":format!("api-{a}"),"description":format!("Interface {a}."),"tags":[api_type, format!("v{}", a % 3 + 1)]},"spec":{"type":api_type,"lifecycle":"production","owner":format!("team-{owner}"),"system":format!("system-{}", a % systems),"definition":format!("openapi: 3.0.3\ninfo:\n  title: API {a}\n  version: 1.0.0\npaths:\n  /items/{{id}}:\n    get:\n      responses:\n        '200':\n          description: The item.\n")}}),
                relations,
            );
        }
        let resource_types = ["database", "s3-bucket", "queue", "cache"];
        for (r, owner) in self.resource_owners.iter().enumerate() {
            let mut relations = vec![
                ("ownedBy", format!("group:default/team-{owner}")),
                ("partOf", format!("system:default/system-{}", r % systems)),
            ];
            relations.extend(
                self.resource_dependents[r]
                    .iter()
                    .map(|c| ("dependencyOf", format!("component:default/component-{c}"))),
            );
            finish(
                json!({"apiVersion":"backstage.io/v1alpha1","kind":"Resource","metadata":{"name":format!("resource-{r}")},"spec":{"type":resource_types[r % resource_types.len()],"owner":format!("team-{owner}"),"system":format!("system-{}", r % systems)}}),
                relations,
            );
        }
        let lifecycles = ["production", "experimental", "deprecated"];
        let kinds = ["service", "website", "library"];
        for (c, pick) in self.components.iter().enumerate() {
            let mut depends_on = vec![format!("resource:resource-{}", pick.resource)];
            let mut relations = vec![
                ("ownedBy", format!("group:default/team-{}", pick.owner)),
                ("partOf", format!("system:default/system-{}", c % systems)),
                ("providesApi", format!("api:default/api-{}", pick.provides)),
                ("consumesApi", format!("api:default/api-{}", pick.consumes)),
                (
                    "dependsOn",
                    format!("resource:default/resource-{}", pick.resource),
                ),
            ];
            if let Some(d) = pick.depends_on {
                depends_on.push(format!("component:component-{d}"));
                relations.push(("dependsOn", format!("component:default/component-{d}")));
            }
            relations.extend(
                self.component_dependents[c]
                    .iter()
                    .map(|o| ("dependencyOf", format!("component:default/component-{o}"))),
            );
            finish(
                json!({"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"name":format!("component-{c}"),"description":format!("Component {c} does useful work."),"annotations":{"github.com/project-slug":format!("example/component-{c}"),"backstage.io/techdocs-ref":"dir:."},"tags":["rust", format!("team-{}", c % teams)],"links":[{"url":format!("https://dashboards.example.com/component-{c}"),"title":"Dashboard","icon":"dashboard"}]},"spec":{"type":kinds[c % 3],"lifecycle":lifecycles[c % 3],"owner":format!("team-{}", pick.owner),"system":format!("system-{}", c % systems),"providesApis":[format!("api-{}", pick.provides)],"consumesApis":[format!("api-{}", pick.consumes)],"dependsOn":depends_on}}),
                relations,
            );
        }
    }
}

/// Prints one line of the report.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// The median of `rounds` timings of `reps` calls each, per call.
fn median(rounds: usize, reps: u32, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps.max(1) {
                f();
            }
            start.elapsed() / reps.max(1)
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Resident memory of this process in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Builds an index of the catalog; returns it, how long it took and the resident memory it
/// added.
fn build(catalog: &Catalog, compressed: bool) -> (CatalogIndex, Duration, u64) {
    let before = rss_kib();
    let start = Instant::now();
    let mut index = CatalogIndex::new();
    index.set_text_compression(compressed);
    catalog.entities(&mut |entity| {
        index.upsert(entity).expect("generated entities are valid");
    });
    (index, start.elapsed(), rss_kib().saturating_sub(before))
}

/// Writes a page's entities as a JSON array, as the REST layer does.
fn body(items: &[std::sync::Arc<IndexedEntity>], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(items.iter().map(|e| e.json_len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, entity) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        entity.write_json(out).expect("readable text");
    }
    out.push(b']');
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn stats_line(name: &str, stats: &TextStats, elapsed: Duration, rss: u64) {
    say!(
        "{name:<5} built in {elapsed:>9.2?}, +{:>6.1} MiB resident; texts {:>7.1} MiB stored of {:>7.1} MiB ({:.3}), {} of {} compressed, {} dictionaries ({} KiB)",
        rss as f64 / 1024.0,
        mib(stats.stored_bytes),
        mib(stats.text_bytes),
        stats.stored_bytes as f64 / stats.text_bytes.max(1) as f64,
        stats.compressed,
        stats.texts,
        stats.dictionaries,
        stats.dictionary_bytes / 1024
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let catalog = Catalog::new(total);
    // The uncompressed index first, then the compressed one next to it: each one's resident
    // size is what building it added.
    let (raw, raw_time, raw_rss) = build(&catalog, false);
    let (packed, packed_time, packed_rss) = build(&catalog, true);
    say!(
        "{total} entities; VmRSS {} MiB with both indexes",
        rss_kib() / 1024
    );
    stats_line("raw", &raw.text_stats(), raw_time, raw_rss);
    stats_line("lz4", &packed.text_stats(), packed_time, packed_rss);

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
    // The benchmark's kind-filter page: `by-query?filter=kind=component&limit=50`.
    let kind_page = QueryRequest {
        filter: component.clone(),
        limit: Some(50),
        ..QueryRequest::default()
    };

    // Both indexes must serve the same bytes.
    let (mut raw_body, mut packed_body) = (Vec::new(), Vec::new());
    body(&raw.query(&kind_page).expect("query").items, &mut raw_body);
    body(
        &packed.query(&kind_page).expect("query").items,
        &mut packed_body,
    );
    assert_eq!(raw_body, packed_body, "the kind page differs");
    say!(
        "kind page of 50: {} bytes, identical in both",
        raw_body.len()
    );

    say!(
        "{:<36} {:>12} {:>12} {:>7}",
        "median per call",
        "raw",
        "lz4",
        "ratio"
    );
    let measure = |name: &str, reps: u32, f: &mut dyn FnMut(&CatalogIndex)| {
        let raw_time = median(rounds, reps, || f(&raw));
        let packed_time = median(rounds, reps, || f(&packed));
        say!(
            "{name:<36} {raw_time:>12.2?} {packed_time:>12.2?} {:>7.3}",
            packed_time.as_secs_f64() / raw_time.as_secs_f64().max(1e-12)
        );
    };
    let first = raw.query(&page(None)).expect("query");
    let cursor = first.next_cursor.clone().expect("a second page");
    let mut out = Vec::new();

    measure("count(kind=component)", 10, &mut |index| {
        std::hint::black_box(index.count(component.as_ref()));
    });
    measure("facets x5 kind=component", 1, &mut |index| {
        std::hint::black_box(index.facets(&facets, component.as_ref()));
    });
    measure("facet kind", 1, &mut |index| {
        std::hint::black_box(index.facets(&["kind".to_owned()], None));
    });
    measure("query kind=component by name, 20", 10, &mut |index| {
        std::hint::black_box(index.query(&page(None)).expect("query"));
    });
    let mut i = 0;
    measure("query + text component-N", 10, &mut |index| {
        i += 1;
        std::hint::black_box(index.query(&page(Some(text(i)))).expect("query"));
    });
    measure("second page (cursor)", 10, &mut |index| {
        std::hint::black_box(
            index
                .query(&QueryRequest {
                    cursor: Some(cursor.clone()),
                    limit: Some(20),
                    ..QueryRequest::default()
                })
                .expect("query"),
        );
    });
    let mut j = 0;
    measure("search: text, any kind, 20", 10, &mut |index| {
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
    });
    measure("kind page of 50: query + body", 100, &mut |index| {
        body(&index.query(&kind_page).expect("query").items, &mut out);
        std::hint::black_box(&out);
    });
    let raw_items = raw.query(&kind_page).expect("query").items;
    let packed_items = packed.query(&kind_page).expect("query").items;
    let raw_body_time = median(rounds, 200, || {
        body(&raw_items, &mut out);
        std::hint::black_box(&out);
    });
    let packed_body_time = median(rounds, 200, || {
        body(&packed_items, &mut out);
        std::hint::black_box(&out);
    });
    say!(
        "{:<36} {raw_body_time:>12.2?} {packed_body_time:>12.2?} {:>7.3}",
        "kind page of 50: body only",
        packed_body_time.as_secs_f64() / raw_body_time.as_secs_f64().max(1e-12)
    );
    let mut k = 0usize;
    let components = catalog.components.len().max(1);
    measure("by ref + body", 100, &mut |index| {
        k += 7919;
        let entity = index
            .get_by_ref(&format!("component:default/component-{}", k % components))
            .expect("entity");
        out.clear();
        entity.write_json(&mut out).expect("readable text");
        std::hint::black_box(&out);
    });
}

//! A deterministic generator of realistic Backstage catalogs of any size.
//!
//! The shape follows a mid-sized engineering organisation: a group hierarchy
//! (organisation, divisions, teams), users who are members of teams, domains,
//! systems, components owned by teams that provide and consume APIs and depend on
//! resources and other components, APIs with small OpenAPI definitions, and
//! resources. The same `(count, seed)` always yields the same text, so runs can be
//! compared with each other.

use std::fmt::Write as _;

/// A tiny linear congruential generator: deterministic and dependency-free.
#[derive(Debug)]
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// A value in `0..bound` (`bound` must be non-zero).
    pub fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next_u64() % bound as u64).unwrap_or(0)
    }
}

/// How many entities of each kind a catalog of `total` entities holds.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub groups: usize,
    pub users: usize,
    pub domains: usize,
    pub systems: usize,
    pub apis: usize,
    pub resources: usize,
    pub components: usize,
}

impl Mix {
    pub fn for_total(total: usize) -> Self {
        let groups = (total / 50).max(3);
        let users = total / 5;
        let domains = (total / 400).max(1);
        let systems = (total / 40).max(1);
        let apis = total * 3 / 20;
        let resources = total / 10;
        let used = groups + users + domains + systems + apis + resources;
        Self {
            groups,
            users,
            domains,
            systems,
            apis,
            resources,
            components: total.saturating_sub(used).max(1),
        }
    }
}

/// Generates `total` entities as YAML documents, one string per document.
pub fn generate_documents(total: usize, seed: u64) -> Vec<String> {
    let mix = Mix::for_total(total);
    let mut rng = Lcg::new(seed);
    let mut docs = Vec::with_capacity(total);
    let divisions = (mix.groups / 10).max(1);
    let teams = mix.groups.saturating_sub(divisions + 1).max(1);

    docs.push(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: org\n  title: The Organisation\nspec:\n  type: organization\n  children: []\n"
            .to_owned(),
    );
    for d in 0..divisions {
        docs.push(format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: division-{d}\n  description: Division number {d}.\nspec:\n  type: business-unit\n  parent: org\n  children: []\n  profile:\n    displayName: Division {d}\n    email: division-{d}@example.com\n"
        ));
    }
    for t in 0..teams {
        let division = t % divisions;
        docs.push(format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{t}\n  labels:\n    example.com/cost-center: cc-{}\nspec:\n  type: team\n  parent: division-{division}\n  children: []\n  profile:\n    displayName: Team {t}\n",
            t % 97
        ));
    }
    for u in 0..mix.users {
        let team = rng.below(teams);
        let second = rng.below(teams);
        let member_of = if second == team || u % 4 != 0 {
            format!("[team-{team}]")
        } else {
            format!("[team-{team}, group:default/team-{second}]")
        };
        docs.push(format!(
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: user-{u}\nspec:\n  profile:\n    displayName: User Number {u}\n    email: user-{u}@example.com\n  memberOf: {member_of}\n"
        ));
    }
    for d in 0..mix.domains {
        docs.push(format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Domain\nmetadata:\n  name: domain-{d}\n  description: Business domain {d}.\nspec:\n  owner: division-{}\n  type: product-area\n",
            d % divisions
        ));
    }
    for s in 0..mix.systems {
        docs.push(format!(
            "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: system-{s}\n  description: System {s}, part of domain {}.\nspec:\n  owner: team-{}\n  domain: domain-{}\n",
            s % mix.domains,
            s % teams,
            s % mix.domains
        ));
    }
    let api_types = ["openapi", "asyncapi", "graphql", "grpc"];
    for a in 0..mix.apis {
        let api_type = api_types[a % api_types.len()];
        let mut doc = format!(
            "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: api-{a}\n  description: Interface {a}.\n  tags: [{api_type}, v{}]\nspec:\n  type: {api_type}\n  lifecycle: production\n  owner: team-{}\n  system: system-{}\n  definition: |\n",
            a % 3 + 1,
            rng.below(teams),
            a % mix.systems
        );
        let _ = write!(
            doc,
            "    openapi: 3.0.3\n    info:\n      title: API {a}\n      version: 1.0.0\n    paths:\n      /items/{{id}}:\n        get:\n          responses:\n            '200':\n              description: The item.\n"
        );
        docs.push(doc);
    }
    let resource_types = ["database", "s3-bucket", "queue", "cache"];
    for r in 0..mix.resources {
        docs.push(format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: resource-{r}\nspec:\n  type: {}\n  owner: team-{}\n  system: system-{}\n",
            resource_types[r % resource_types.len()],
            rng.below(teams),
            r % mix.systems
        ));
    }
    let lifecycles = ["production", "experimental", "deprecated"];
    let kinds = ["service", "website", "library"];
    for c in 0..mix.components {
        let provides = rng.below(mix.apis.max(1));
        let consumes = rng.below(mix.apis.max(1));
        let resource = rng.below(mix.resources.max(1));
        let mut doc = format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: component-{c}\n  description: Component {c} does useful work.\n  annotations:\n    github.com/project-slug: example/component-{c}\n    backstage.io/techdocs-ref: dir:.\n  tags: [rust, team-{}]\n  links:\n    - url: https://dashboards.example.com/component-{c}\n      title: Dashboard\n      icon: dashboard\nspec:\n  type: {}\n  lifecycle: {}\n  owner: team-{}\n  system: system-{}\n  providesApis: [api-{provides}]\n  consumesApis: [api-{consumes}]\n  dependsOn: [resource:resource-{resource}",
            c % teams,
            kinds[c % kinds.len()],
            lifecycles[c % lifecycles.len()],
            rng.below(teams),
            c % mix.systems,
        );
        if c > 0 {
            let _ = write!(doc, ", component:component-{}", rng.below(c));
        }
        doc.push_str("]\n");
        docs.push(doc);
    }
    docs
}

/// Joins documents into files of at most `per_file` documents each.
pub fn into_files(docs: &[String], per_file: usize) -> Vec<String> {
    files(docs, per_file).collect()
}

/// The same files as [`into_files`], made one at a time.
pub fn files(docs: &[String], per_file: usize) -> impl Iterator<Item = String> + '_ {
    docs.chunks(per_file.max(1))
        .map(|chunk| chunk.join("---\n"))
}

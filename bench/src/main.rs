//! Greenroom benchmarks: measured runs over generated catalogs, reported as medians.
//!
//! Each benchmark runs a baseline and the measured work in the same process on the
//! same data, and reports the medians of several rounds and their ratio, so that a
//! result can be compared across machines.

use greenroom_bench::generate;

mod catalog;
mod edit_latency;
mod serve_startup;
mod soak;
mod web;

use std::io::Write as _;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use greenroom_catalog_model::descriptor::{CheckOptions, check_descriptor};
use greenroom_catalog_model::location_ref::LocationRef;
use greenroom_catalog_model::placeholder::{PlaceholderReader, ReadError, ReadTarget, block_on};
use greenroom_catalog_model::validation::EntityValidator;
use greenroom_catalog_model::yaml::parse_documents;

/// The allocator `greenroom` uses, so that measured memory is the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(name = "greenroom-bench", about = "Greenroom benchmarks")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Catalog ingestion (cold start to fully stitched) and read endpoints under load.
    Catalog {
        /// Number of entities to generate.
        #[arg(long, default_value_t = 10_000)]
        entities: usize,
        #[arg(long, value_enum, default_value_t = catalog::Store::Sqlite)]
        store: catalog::Store,
        /// Backends on the same database; more than one compares what they serve.
        #[arg(long, default_value_t = 1)]
        instances: usize,
        /// Concurrent connections for the read load.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Requests per measured endpoint; 0 skips the read load.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Seconds per measured endpoint under `wrk` (`--client wrk`).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// What sends the read load: this process's own client, or `wrk` in a
        /// process of its own (`apt-get install wrk`).
        #[arg(long, value_enum, default_value_t = catalog::LoadClient::Builtin)]
        client: catalog::LoadClient,
        /// Adds a group with 5k members to the catalog and, after the ingest,
        /// measures edit latency (an edited user, the group's membership).
        #[arg(long)]
        latency: bool,
    },
    /// Memory under a long mixed read load with periodic location refreshes.
    CatalogSoak {
        /// Number of entities to generate.
        #[arg(long, default_value_t = 100_000)]
        entities: usize,
        #[arg(long, value_enum, default_value_t = catalog::Store::Sqlite)]
        store: catalog::Store,
        /// Concurrent connections for the read load.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Length of the load in seconds.
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        /// Seconds between edits and refreshes of the soaked location.
        #[arg(long, default_value_t = 10)]
        refresh_every: u64,
    },
    /// `greenroom serve` start to the first 200 on `/readiness`, and idle memory.
    ///
    /// Each round starts the binary on an existing data directory (made by a
    /// first, unmeasured start), polls readiness every millisecond, then stops it
    /// with SIGTERM. The baseline is `greenroom --version`: the cost of starting
    /// the process at all.
    ServeStartup {
        /// The greenroom binary (build it with `cargo build --release -p greenroom`).
        #[arg(long, default_value = "target/release/greenroom")]
        binary: std::path::PathBuf,
        /// Measured rounds; the median is reported.
        #[arg(long, default_value_t = 11)]
        rounds: usize,
        /// Generated entities in the data directory before the timed starts
        /// (0: an empty catalog).
        #[arg(long, default_value_t = 0)]
        entities: usize,
    },
    /// Server time of the catalog's web pages (`/catalog`, filtered, an entity page).
    Web {
        /// Number of entities to generate.
        #[arg(long, default_value_t = 100_000)]
        entities: usize,
        #[arg(long, value_enum, default_value_t = catalog::Store::Sqlite)]
        store: catalog::Store,
        /// Requests per measured page; the median is reported.
        #[arg(long, default_value_t = 101)]
        rounds: usize,
    },
    /// Throughput of descriptor validation on a generated catalog.
    Validate {
        /// Number of entities to generate.
        #[arg(long, default_value_t = 100_000)]
        entities: usize,
        /// Entities per generated file.
        #[arg(long, default_value_t = 500)]
        per_file: usize,
        /// Measured rounds; the median is reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// The generated catalog has no placeholders, so nothing is ever read.
#[derive(Debug)]
struct NoReader;

impl PlaceholderReader for NoReader {
    fn read(
        &self,
        target: &ReadTarget,
    ) -> impl std::future::Future<Output = Result<String, ReadError>> + Send {
        std::future::ready(Err(ReadError::NotFound(target.target.clone())))
    }
}

pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(rounds: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut samples = Vec::with_capacity(rounds);
    let mut count = 0;
    // One warm-up round fills caches and the allocator before anything is timed.
    f();
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        count = f();
        samples.push(start.elapsed());
    }
    (median(samples), count)
}

pub(crate) fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.bench {
        Bench::Catalog {
            entities,
            store,
            instances,
            connections,
            requests,
            seconds,
            client,
            latency,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(catalog::run(catalog::Options {
                entities,
                instances,
                store,
                connections,
                requests,
                seconds,
                client,
                latency,
            })),
        Bench::CatalogSoak {
            entities,
            store,
            connections,
            seconds,
            refresh_every,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(soak::run(soak::Options {
                entities,
                store,
                connections,
                duration: Duration::from_secs(seconds),
                refresh_every: Duration::from_secs(refresh_every.max(1)),
            })),
        Bench::ServeStartup {
            binary,
            rounds,
            entities,
        } => serve_startup::run(&binary, rounds, entities),
        Bench::Web {
            entities,
            store,
            rounds,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(web::run(web::Options {
                entities,
                store,
                rounds,
            })),
        Bench::Validate {
            entities,
            per_file,
            rounds,
            seed,
        } => bench_validate(entities, per_file, rounds, seed),
    }
}

fn bench_validate(
    entities: usize,
    per_file: usize,
    rounds: usize,
    seed: u64,
) -> anyhow::Result<()> {
    let docs = generate::generate_documents(entities, seed);
    let files = generate::into_files(&docs, per_file);
    let bytes: usize = files.iter().map(String::len).sum();
    say(&format!(
        "validate: {} entities in {} files, {:.1} MiB of YAML, {rounds} rounds (median)",
        docs.len(),
        files.len(),
        bytes as f64 / (1024.0 * 1024.0)
    ));

    let (parse_time, parsed) = measure(rounds, || {
        files
            .iter()
            .map(|f| parse_documents(f).iter().filter(|d| d.is_ok()).count())
            .sum()
    });

    let validator = EntityValidator::default();
    let location = LocationRef {
        location_type: "file".to_owned(),
        target: "/bench/catalog-info.yaml".to_owned(),
    };
    let options = CheckOptions {
        location: &location,
        file_root: None,
        validator: &validator,
        unchecked_marker: None,
    };
    let mut errors = 0;
    let (check_time, valid) = measure(rounds, || {
        let mut valid = 0;
        errors = 0;
        for file in &files {
            let report = block_on(check_descriptor(file, &options, &NoReader));
            valid += report.entities.len();
            errors += report.error_count();
        }
        valid
    });
    anyhow::ensure!(
        parsed == docs.len() && valid == docs.len() && errors == 0,
        "generated catalog did not validate cleanly: {parsed} parsed, {valid} valid, {errors} errors"
    );

    let rate = |d: Duration| docs.len() as f64 / d.as_secs_f64();
    say(&format!(
        "  baseline  yaml parse only          median {:>9.1} ms  {:>10.0} entities/s",
        parse_time.as_secs_f64() * 1e3,
        rate(parse_time)
    ));
    say(&format!(
        "  measured  full validate pipeline   median {:>9.1} ms  {:>10.0} entities/s",
        check_time.as_secs_f64() * 1e3,
        rate(check_time)
    ));
    say(&format!(
        "  ratio     validate / parse-only    {:.2}x",
        check_time.as_secs_f64() / parse_time.as_secs_f64()
    ));
    Ok(())
}

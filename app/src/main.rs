//! The `greenroom` binary: command-line entry point and dispatch to subcommands.

mod config_cmd;
mod new_plugin;
mod output;
mod serve;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// jemalloc instead of glibc malloc: glibc keeps freed memory in per-thread arenas,
/// so after a large catalog was processed the process stayed at its peak size.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Greenroom: a developer portal built around a software catalog, speaking Backstage's formats.
#[derive(Debug, Parser)]
#[command(name = "greenroom", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check catalog descriptor files (catalog-info.yaml) by Backstage's rules.
    ///
    /// Takes files, directories (searched recursively for *.yaml / *.yml files that
    /// hold descriptors) or `-` for standard input. Prints one line per problem as
    /// `path:line:col: error: message`, then a summary; exits 1 if any error was found.
    Validate(ValidateArgs),
    /// Start the backend: every plugin under /api/<pluginId>, health under /.backstage/health/v1.
    ///
    /// Listens on `backend.listen` (default port 7007) until SIGTERM or SIGINT, then
    /// finishes in-flight requests and exits 0. Exits 1 if start-up fails.
    Serve {
        /// Config files, in order; later files override earlier ones.
        #[arg(long = "config", value_name = "FILE")]
        config: Vec<PathBuf>,
    },
    /// Inspect the app configuration (app-config.yaml and friends).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Create new code in this workspace.
    New {
        #[command(subcommand)]
        command: NewCommand,
    },
}

#[derive(Debug, Subcommand)]
enum NewCommand {
    /// Create plugins/<id>-backend (router, migration, test) and add it to the app.
    Plugin {
        /// The plugin id, e.g. `tech-radar`; it is served at /api/<id>.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
struct ValidateArgs {
    /// Files, directories, or `-` for standard input.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PrintFormat {
    Yaml,
    Json,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the merged configuration, with secrets masked.
    Print {
        /// Config files, in order; later files override earlier ones.
        #[arg(long = "config", value_name = "FILE")]
        config: Vec<PathBuf>,
        /// Print secret values instead of masking them.
        #[arg(long)]
        with_secrets: bool,
        /// Print only the values the browser would receive (schema visibility `frontend`).
        #[arg(long)]
        frontend: bool,
        /// Tolerate unset environment variables (they read as `x`).
        #[arg(long)]
        lax: bool,
        #[arg(long, value_enum, default_value_t = PrintFormat::Yaml)]
        format: PrintFormat,
    },
    /// Validate the configuration against the config schemas and check the settings
    /// Greenroom reads; exit 1 on errors.
    Check {
        /// Config files, in order; later files override earlier ones.
        #[arg(long = "config", value_name = "FILE")]
        config: Vec<PathBuf>,
        /// Tolerate unset environment variables (they read as `x`).
        #[arg(long)]
        lax: bool,
        /// Only report problems with values the browser would receive.
        #[arg(long)]
        frontend: bool,
        /// Warn about deprecated keys that the configuration sets.
        #[arg(long)]
        deprecated: bool,
    },
    /// Print the combined config schema (core and plugins) as JSON Schema.
    Schema {
        #[arg(long, value_enum, default_value_t = PrintFormat::Json)]
        format: PrintFormat,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args.paths, args.format == Format::Json),
        Command::Serve { config } => serve::run(config),
        Command::Config { command } => match command {
            ConfigCommand::Print {
                config,
                with_secrets,
                frontend,
                lax,
                format,
            } => config_cmd::print(
                &config_cmd::LoadArgs {
                    config_paths: config,
                    lax,
                },
                config_cmd::PrintArgs {
                    with_secrets,
                    frontend,
                    json: format == PrintFormat::Json,
                },
            ),
            ConfigCommand::Check {
                config,
                lax,
                frontend,
                deprecated,
            } => config_cmd::check(
                &config_cmd::LoadArgs {
                    config_paths: config,
                    lax,
                },
                config_cmd::CheckArgs {
                    frontend,
                    deprecated,
                },
            ),
            ConfigCommand::Schema { format } => {
                config_cmd::print_schema(format == PrintFormat::Json)
            }
        },
        Command::New {
            command: NewCommand::Plugin { id },
        } => new_plugin::run(&id),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            output::error_line(&format!("greenroom: {e:#}"));
            ExitCode::from(2)
        }
    }
}

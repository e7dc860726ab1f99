//! §1.10 worked example, end to end with real files.

use greenroom_config::load;
use serde_json::json;

use crate::support::Sandbox;

const BASE: &str = "\
app:
  baseUrl: http://localhost:3000
backend:
  baseUrl: http://localhost:7007
  listen: { port: 7007 }
  database:
    client: better-sqlite3
    connection: ':memory:'
catalog:
  locations:
    - type: file
      target: ../../examples/all.yaml
";

const PRODUCTION: &str = "\
app:
  baseUrl: https://portal.example.net
backend:
  baseUrl: https://portal.example.net
  database:
    client: pg
    connection:
      host: ${POSTGRES_HOST}
      port: ${POSTGRES_PORT}
      user: ${POSTGRES_USER}
      password: ${POSTGRES_PASSWORD}
catalog:
  locations: null            # drop the example locations entirely
";

fn run(env: &[(&str, &str)]) -> greenroom_config::Config {
    let sandbox = Sandbox::new("worked-example");
    sandbox.write("app-config.yaml", BASE);
    sandbox.write("app-config.production.yaml", PRODUCTION);
    let mut all = vec![("APP_CONFIG_backend_listen_port", "8080")];
    all.extend_from_slice(env);
    let options = sandbox.options("", &["app-config.yaml", "app-config.production.yaml"], &all);
    load(&options).expect("worked example loads")
}

#[test]
fn worked_example_with_all_variables() {
    let config = run(&[
        ("POSTGRES_HOST", "db.example.net"),
        ("POSTGRES_PORT", "5432"),
        ("POSTGRES_USER", "backstage"),
        ("POSTGRES_PASSWORD", "hunter2"),
    ]);
    assert_eq!(
        config.merged(),
        &json!({
            "app": {"baseUrl": "https://portal.example.net"},
            "backend": {
                "baseUrl": "https://portal.example.net",
                "listen": {"port": 8080},
                "database": {
                    "client": "pg",
                    "connection": {
                        "host": "db.example.net",
                        "port": "5432",
                        "user": "backstage",
                        "password": "hunter2"
                    }
                }
            },
            "catalog": {}
        })
    );
    assert_eq!(config.get_number("backend.listen.port"), Ok(8080.0));
    assert_eq!(
        config.get_string("backend.database.client"),
        Ok("pg".to_owned())
    );
    assert_eq!(
        config.get_number("backend.database.connection.port"),
        Ok(5432.0)
    );
    assert_eq!(
        config
            .get_optional_config_array("catalog.locations")
            .map(|v| v.is_none()),
        Ok(true)
    );
    let connection = config
        .get_config("backend.database.connection")
        .expect("object");
    assert_eq!(connection.keys(), ["host", "port", "user", "password"]);
    assert_eq!(
        config.contexts(),
        ["app-config.yaml", "app-config.production.yaml", "env"]
    );
    assert_eq!(
        config.masked()["backend"]["database"]["connection"]["password"],
        json!("***")
    );
    assert_eq!(
        config.masked()["backend"]["database"]["connection"]["host"],
        json!("db.example.net")
    );
}

#[test]
fn worked_example_with_unset_host() {
    let config = run(&[
        ("POSTGRES_PORT", "5432"),
        ("POSTGRES_USER", "u"),
        ("POSTGRES_PASSWORD", "p"),
    ]);
    assert_eq!(
        config.get_optional_string("backend.database.connection.host"),
        Ok(None)
    );
    assert_eq!(
        config.get("backend.database.connection"),
        Some(&json!({"port": "5432", "user": "u", "password": "p"}))
    );
    assert_eq!(
        config
            .get_string("backend.database.connection.host")
            .map_err(|e| e.to_string()),
        Err(
            "Missing required config value at 'backend.database.connection.host' in 'env'"
                .to_owned()
        )
    );
}

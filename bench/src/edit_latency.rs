//! Edit latency rows of the `catalog` benchmark: how long an edited file takes
//! to show in the API after its entity is refreshed, and how a group with
//! thousands of members is restitched when one membership changes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::catalog::Tables;
use crate::say;

/// Members of the generated hub group.
pub(crate) const HUB_MEMBERS: usize = 5_000;
/// Edits measured per row; the median is reported.
const EDITS: usize = 5;
/// How long one edit may take to show before the row fails.
const EDIT_DEADLINE: Duration = Duration::from_secs(60);

/// Writes `hub.yaml`: one group and [`HUB_MEMBERS`] users that are its members.
/// Returns the file; its entities count toward the catalog's total.
pub(crate) fn write_hub(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut text = String::from(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: hub-group\nspec:\n  type: team\n  children: []\n",
    );
    for i in 0..HUB_MEMBERS {
        text.push_str(&hub_member(i, "hub-group"));
    }
    let path = dir.join("hub.yaml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// One Location entity per target file, as the documents of one root file.
pub(crate) fn location_documents(targets: &[String]) -> String {
    let docs: Vec<String> = targets
        .iter()
        .enumerate()
        .map(|(i, target)| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: bench-file-{i}\nspec:\n  target: {target}\n"
            )
        })
        .collect();
    docs.join("---\n")
}

fn hub_member(i: usize, group: &str) -> String {
    format!(
        "---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: hub-member-{i}\nspec:\n  memberOf: [{group}]\n"
    )
}

async fn refresh(client: &reqwest::Client, base: &str, entity_ref: &str) -> anyhow::Result<()> {
    let response = client
        .post(format!("{base}/api/catalog/refresh"))
        .json(&json!({ "entityRef": entity_ref }))
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "refresh of {entity_ref} answered {}",
        response.status()
    );
    Ok(())
}

/// Polls `url` until `done` holds for its body; returns the time since `since`.
async fn wait_for(
    client: &reqwest::Client,
    url: &str,
    since: Instant,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<Duration> {
    loop {
        let response = client.get(url).send().await?;
        if response.status().is_success() {
            let body: Value = response.json().await?;
            if done(&body) {
                return Ok(since.elapsed());
            }
        }
        anyhow::ensure!(since.elapsed() < EDIT_DEADLINE, "{url}: edit not visible");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One user edited in a generated part file, its ref refreshed (which schedules
/// it and its file's Location), then polled by name until the edit shows.
pub(crate) async fn edit_row(
    client: &reqwest::Client,
    base: &str,
    catalog_dir: &Path,
) -> anyhow::Result<()> {
    // Users from different files, so that each edit is a fresh location.
    let mut picks: Vec<(PathBuf, String)> = Vec::new();
    for i in 0.. {
        if picks.len() == EDITS {
            break;
        }
        let path = catalog_dir.join(format!("part-{i:04}.yaml"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            break;
        };
        if let Some(name) = text
            .lines()
            .find_map(|l| l.strip_prefix("  name: user-"))
            .map(|n| format!("user-{n}"))
        {
            picks.push((path, name));
        }
    }
    anyhow::ensure!(!picks.is_empty(), "no user found in the part files");
    let mut times = Vec::with_capacity(picks.len());
    for (k, (path, name)) in picks.iter().enumerate() {
        let number = name.trim_start_matches("user-");
        let text = std::fs::read_to_string(path)?;
        let old = format!("displayName: User Number {number}\n");
        let new_value = format!("User Number {number} (edit {k})");
        anyhow::ensure!(text.contains(&old), "{name}: display name not found");
        std::fs::write(
            path,
            text.replace(&old, &format!("displayName: {new_value}\n")),
        )?;
        let started = Instant::now();
        refresh(client, base, &format!("user:default/{name}")).await?;
        let url = format!("{base}/api/catalog/entities/by-name/user/default/{name}");
        let took = wait_for(client, &url, started, |body| {
            body["spec"]["profile"]["displayName"].as_str() == Some(new_value.as_str())
        })
        .await?;
        times.push(took);
    }
    let list: Vec<String> = times.iter().map(|d| format!("{:.0}", ms(*d))).collect();
    say(&format!(
        "  edit → visible after refresh   {:>8.1} ms median of {} ({} ms)",
        ms(median(times.clone())),
        times.len(),
        list.join(", ")
    ));
    Ok(())
}

/// The hub group's membership changed by one member (alternately removed and
/// added back): the time until the group's final entity shows it, and how many
/// times the group was written for it.
pub(crate) async fn hub_row(
    client: &reqwest::Client,
    base: &str,
    hub_file: &Path,
    tables: &Tables,
) -> anyhow::Result<()> {
    let group_ref = "group:default/hub-group".to_owned();
    let url = format!("{base}/api/catalog/entities/by-name/group/default/hub-group");
    let mut times = Vec::with_capacity(EDITS);
    let mut writes = Vec::with_capacity(EDITS);
    for k in 0..EDITS {
        let member_in = k % 2 == 1;
        let text = std::fs::read_to_string(hub_file)?;
        let (from, to) = if member_in {
            (hub_member(0, "team-0"), hub_member(0, "hub-group"))
        } else {
            (hub_member(0, "hub-group"), hub_member(0, "team-0"))
        };
        anyhow::ensure!(text.contains(&from), "hub member 0 not found");
        std::fs::write(hub_file, text.replacen(&from, &to, 1))?;
        let before = tables.writes_of(&group_ref).await?;
        let started = Instant::now();
        refresh(client, base, "user:default/hub-member-0").await?;
        let took = wait_for(client, &url, started, |body| {
            let has = body["relations"].as_array().is_some_and(|rels| {
                rels.iter().any(|r| {
                    r["type"] == "hasMember" && r["targetRef"] == "user:default/hub-member-0"
                })
            });
            has == member_in
        })
        .await?;
        times.push(took);
        // Let any further restitch of the group land before counting.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        writes.push(tables.writes_of(&group_ref).await? - before);
    }
    let list: Vec<String> = times.iter().map(|d| format!("{:.0}", ms(*d))).collect();
    say(&format!(
        "  5k-member group restitched     {:>8.1} ms median of {} ({} ms), written {:?} times",
        ms(median(times.clone())),
        times.len(),
        list.join(", "),
        writes
    ));
    Ok(())
}

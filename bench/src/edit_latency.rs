//! Edit latency rows of the `catalog` benchmark: how long an edited file takes
//! to show in the API after its entity is refreshed, and how a group with
//! thousands of members is restitched when it or one membership changes,
//! against a group of a few members as the baseline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::catalog::Tables;
use crate::say;

/// Members of the generated hub group.
const HUB_MEMBERS: usize = 5_000;
/// Members of the small group whose edits are the baseline for the hub's.
const SMALL_MEMBERS: usize = 5;
/// Edits measured per row; the median is reported.
const EDITS: usize = 5;
/// How long one edit may take to show before the row fails.
const EDIT_DEADLINE: Duration = Duration::from_secs(60);
/// How long after an edit shows its group's change-log entries are counted, so
/// that a second write of the group (which the target forbids) is seen.
const SETTLE: Duration = Duration::from_millis(1000);
/// How often the catalog's follower reads the change log into the index that
/// serves reads. An edit started right after the edit before it shows lands
/// at the same point of that cycle every time (just after a read, the worst
/// one), so the edits of a row start at offsets spread evenly over it.
const FOLLOWER_POLL_MS: u64 = 100;

/// The wait before edit `k` of a row: edit `k` starts `k / EDITS` of a
/// follower poll later than it otherwise would.
fn phase_offset(k: usize) -> Duration {
    Duration::from_millis(FOLLOWER_POLL_MS * (k % EDITS) as u64 / EDITS as u64)
}

/// A generated group measured by the group rows: the small baseline group
/// and the hub with [`HUB_MEMBERS`] members.
#[derive(Debug, Clone, Copy)]
struct Team {
    name: &'static str,
    members: usize,
}

const TEAMS: [Team; 2] = [
    Team {
        name: "small-group",
        members: SMALL_MEMBERS,
    },
    Team {
        name: "hub-group",
        members: HUB_MEMBERS,
    },
];

impl Team {
    fn group_ref(self) -> String {
        format!("group:default/{}", self.name)
    }

    fn group_file(self) -> String {
        format!("{}.yaml", self.name)
    }

    /// The member whose `memberOf` the member-side row switches.
    fn member(self) -> String {
        format!("{}-member-0", self.name)
    }

    fn member_file(self) -> String {
        format!("{}-member-0.yaml", self.name)
    }

    fn display_name(self, edit: Option<usize>) -> String {
        match edit {
            None => format!("Group {}", self.name),
            Some(k) => format!("Group {} (edit {k})", self.name),
        }
    }
}

/// The files the group rows add to the catalog and how many entities they hold.
pub(crate) struct GroupFiles {
    /// Relative targets, one Location each.
    pub(crate) targets: Vec<String>,
    pub(crate) entities: usize,
}

/// Writes the measured groups, each as three files of its own: the group alone
/// (so that an edit of it reprocesses one document), its member 0 alone (so that
/// a membership change reprocesses one document), and its other members.
pub(crate) fn write_groups(dir: &Path) -> anyhow::Result<GroupFiles> {
    let mut targets = Vec::new();
    let mut entities = 0;
    for team in TEAMS {
        std::fs::write(dir.join(team.group_file()), group_document(team, None))?;
        std::fs::write(
            dir.join(team.member_file()),
            member_document(&team.member(), team.name),
        )?;
        let others: Vec<String> = (1..team.members)
            .map(|i| member_document(&format!("{}-member-{i}", team.name), team.name))
            .collect();
        let members_file = format!("{}-members.yaml", team.name);
        std::fs::write(dir.join(&members_file), others.join("---\n"))?;
        targets.extend(
            [team.group_file(), team.member_file(), members_file].map(|f| format!("./{f}")),
        );
        entities += 1 + team.members;
    }
    Ok(GroupFiles { targets, entities })
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

fn group_document(team: Team, edit: Option<usize>) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {}\nspec:\n  type: team\n  children: []\n  profile:\n    displayName: {}\n",
        team.name,
        team.display_name(edit)
    )
}

/// A user that is a member of `group` (of none when `group` is empty).
fn member_document(name: &str, group: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: {name}\nspec:\n  memberOf: [{group}]\n"
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
        tokio::time::sleep(phase_offset(k)).await;
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

/// What one edit of a group row measured.
struct GroupEdit {
    /// From the refresh request until `by-name` shows the edit.
    visible: Duration,
    /// From the refresh request until the group's change-log entry was
    /// written (the stitch transaction's clock, in whole milliseconds).
    written: Option<f64>,
    /// Change-log entries the group got for the edit.
    writes: i64,
}

/// Which side of a group an edit changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The group's own document: its `spec.profile.displayName`.
    Group,
    /// Member 0's `memberOf`: removed from the group, then added back.
    Member,
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Edits one group (or its member 0), refreshes the edited entity, and waits
/// until the group's final entity shows the edit.
async fn edit_group(
    client: &reqwest::Client,
    base: &str,
    catalog_dir: &Path,
    tables: &Tables,
    team: Team,
    side: Side,
    k: usize,
) -> anyhow::Result<GroupEdit> {
    let group_ref = team.group_ref();
    let url = format!(
        "{base}/api/catalog/entities/by-name/group/default/{}",
        team.name
    );
    let display_name = team.display_name(Some(k));
    // Member 0 leaves the group on even edits and comes back on odd ones.
    let member_in = k % 2 == 1;
    let (file, text, entity_ref) = match side {
        Side::Group => (
            team.group_file(),
            group_document(team, Some(k)),
            group_ref.clone(),
        ),
        Side::Member => (
            team.member_file(),
            member_document(&team.member(), if member_in { team.name } else { "" }),
            format!("user:default/{}", team.member()),
        ),
    };
    std::fs::write(catalog_dir.join(file), text)?;
    let (before, _) = tables.changes_of(&group_ref).await?;
    tokio::time::sleep(phase_offset(k)).await;
    let started = Instant::now();
    let started_ms = epoch_ms();
    refresh(client, base, &entity_ref).await?;
    let member_ref = format!("user:default/{}", team.member());
    let visible = wait_for(client, &url, started, |body| match side {
        Side::Group => {
            body["spec"]["profile"]["displayName"].as_str() == Some(display_name.as_str())
        }
        Side::Member => {
            let has = body["relations"].as_array().is_some_and(|rels| {
                rels.iter()
                    .any(|r| r["type"] == "hasMember" && r["targetRef"] == member_ref.as_str())
            });
            has == member_in
        }
    })
    .await?;
    // Let any further restitch of the group land before counting.
    tokio::time::sleep(SETTLE).await;
    let (after, last) = tables.changes_of(&group_ref).await?;
    Ok(GroupEdit {
        visible,
        written: last
            .filter(|_| after > before)
            .map(|at| (at - started_ms) as f64),
        writes: after - before,
    })
}

/// The group rows: the small group and the hub edited alternately (so that
/// both see the same machine), first on the group's own document, then on a
/// member's `memberOf`; each reported as a median with the hub's ratio to the
/// small group.
pub(crate) async fn group_rows(
    client: &reqwest::Client,
    base: &str,
    catalog_dir: &Path,
    tables: &Tables,
) -> anyhow::Result<()> {
    for (side, title) in [
        (Side::Group, "group edited → visible"),
        (Side::Member, "member's memberOf → group"),
    ] {
        let mut results: Vec<Vec<GroupEdit>> = TEAMS.iter().map(|_| Vec::new()).collect();
        for k in 0..EDITS {
            for (team, out) in TEAMS.iter().zip(results.iter_mut()) {
                out.push(edit_group(client, base, catalog_dir, tables, *team, side, k).await?);
            }
        }
        let mut visible_medians = Vec::with_capacity(TEAMS.len());
        let mut written_medians = Vec::with_capacity(TEAMS.len());
        for (i, (team, edits)) in TEAMS.iter().zip(&results).enumerate() {
            let visible = ms(median(edits.iter().map(|e| e.visible).collect()));
            let mut written: Vec<f64> = edits.iter().filter_map(|e| e.written).collect();
            written.sort_by(f64::total_cmp);
            let written_median = written.get(written.len() / 2).copied();
            let list: Vec<String> = edits
                .iter()
                .map(|e| format!("{:.0}", ms(e.visible)))
                .collect();
            let writes: Vec<i64> = edits.iter().map(|e| e.writes).collect();
            say(&format!(
                "  {:<30} {:>8.1} ms median of {} ({} ms) for {} ({} members); \
                 its change-log entry {} ms after the refresh (median); written {:?} times per edit",
                if i == 0 { title } else { "" },
                visible,
                edits.len(),
                list.join(", "),
                team.name,
                team.members,
                written_median.map_or("-".to_owned(), |w| format!("{w:.0}")),
                writes,
            ));
            visible_medians.push(visible);
            written_medians.push(written_median.unwrap_or(0.0));
        }
        let ratio = |m: &[f64]| m[1] / m[0].max(1.0);
        say(&format!(
            "  {:<30} {} / {}: {:.1}x to visible, {:.1}x to the change-log entry",
            "",
            TEAMS[1].name,
            TEAMS[0].name,
            ratio(&visible_medians),
            ratio(&written_medians),
        ));
    }
    Ok(())
}

//! Location entities: the synthetic entity of a registered location, and the targets a
//! `kind: Location` entity asks the catalog to read (spec §10.2 and §10.3).

use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

use crate::annotations::{ANNOTATION_MANAGED_BY_LOCATION, ANNOTATION_MANAGED_BY_ORIGIN_LOCATION};
use crate::location_ref::{LocationRef, generated_location_name, resolve_url};
use crate::problem::{FieldPath, Problem, ProblemKind};

/// Whether a missing target is an error (`required`, the default) or yields nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Presence {
    #[default]
    Required,
    Optional,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Optional => "optional",
        }
    }
}

/// One place the catalog should read, with its resolved target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationSpec {
    pub location_type: String,
    pub target: String,
    pub presence: Presence,
}

impl LocationSpec {
    pub fn location_ref(&self) -> LocationRef {
        LocationRef::new(self.location_type.clone(), self.target.clone())
    }
}

/// The synthetic Location entity Backstage makes for a registered location:
/// `location:default/generated-<sha1 of type:target>`, managed by itself.
pub fn generated_location_entity(location: &LocationSpec) -> Value {
    let location_ref = location.location_ref().to_string();
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": generated_location_name(&location.location_type, &location.target),
            "namespace": "default",
            "annotations": {
                ANNOTATION_MANAGED_BY_LOCATION: location_ref,
                ANNOTATION_MANAGED_BY_ORIGIN_LOCATION: location_ref,
            },
        },
        "spec": {
            "type": location.location_type,
            "target": location.target,
            "presence": location.presence.as_str(),
        },
    })
}

/// The targets of a `kind: Location` entity, resolved against the location of the
/// file that held it.
///
/// The type is `spec.type`, or the containing location's type when absent, so a
/// tree of relative Location files works both from disk and from a repository. The
/// targets are `spec.target` followed by `spec.targets`. A relative target is
/// resolved only when the types agree: a `file` target starting with `.` joins the
/// containing file's folder, a `url` target is resolved against the containing URL.
/// Each target yields its own result, so one bad target does not hide the others.
pub fn location_entity_targets(
    entity: &Value,
    containing: &LocationRef,
) -> Vec<Result<LocationSpec, Problem>> {
    let spec = entity.get("spec");
    let location_type = spec
        .and_then(|s| s.get("type"))
        .and_then(Value::as_str)
        .unwrap_or(&containing.location_type)
        .to_owned();
    let presence = match spec.and_then(|s| s.get("presence")).and_then(Value::as_str) {
        Some("optional") => Presence::Optional,
        _ => Presence::Required,
    };

    let mut raw: Vec<(FieldPath, &str)> = Vec::new();
    if let Some(target) = spec.and_then(|s| s.get("target")).and_then(Value::as_str) {
        raw.push((FieldPath::keys(&["spec", "target"]), target));
    }
    if let Some(targets) = spec
        .and_then(|s| s.get("targets"))
        .and_then(Value::as_array)
    {
        for (i, target) in targets.iter().enumerate() {
            if let Some(target) = target.as_str() {
                raw.push((FieldPath::keys(&["spec", "targets"]).index(i), target));
            }
        }
    }

    raw.into_iter()
        .map(|(path, target)| {
            if location_type == "file" && target.ends_with(std::path::MAIN_SEPARATOR) {
                return Err(Problem::new(
                    ProblemKind::Kind,
                    path,
                    format!(
                        "LocationEntityProcessor cannot handle a folder as a file target: {target}"
                    ),
                ));
            }
            Ok(LocationSpec {
                target: resolve_target(&location_type, target, containing),
                location_type: location_type.clone(),
                presence,
            })
        })
        .collect()
}

fn resolve_target(location_type: &str, target: &str, containing: &LocationRef) -> String {
    if containing.location_type != location_type {
        return target.to_owned();
    }
    match location_type {
        "file" if target.starts_with('.') => {
            let base = Path::new(&containing.target)
                .parent()
                .unwrap_or_else(|| Path::new(""));
            normalize(&base.join(target)).display().to_string()
        }
        // A target that cannot be resolved is passed on as written; the reader then
        // reports it with the text the author wrote.
        "url" => resolve_url(&containing.target, target).unwrap_or_else(|_| target.to_owned()),
        _ => target.to_owned(),
    }
}

/// Removes `.` and `..` components lexically, as Node's `path.join` does.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(entity: Value, containing: &LocationRef) -> Vec<Result<LocationSpec, Problem>> {
        location_entity_targets(&entity, containing)
    }

    #[test]
    fn generated_entity_matches_backstage_naming() {
        let spec = LocationSpec {
            location_type: "url".to_owned(),
            target: "https://github.com/acme/logistics-catalog/blob/main/catalog-info.yaml"
                .to_owned(),
            presence: Presence::Required,
        };
        let entity = generated_location_entity(&spec);
        assert_eq!(
            entity["metadata"]["name"],
            "generated-26a97ba8e1eed9b436e69cfae8de6e6c1bee3e67"
        );
        assert_eq!(
            entity["metadata"]["annotations"][ANNOTATION_MANAGED_BY_ORIGIN_LOCATION],
            "url:https://github.com/acme/logistics-catalog/blob/main/catalog-info.yaml"
        );
        assert_eq!(entity["spec"]["presence"], "required");
        assert!(crate::validation::validate_entity(&entity).is_empty());
    }

    #[test]
    fn url_targets_inherit_the_type_and_resolve_against_the_file() {
        // Step 5 of the spec's walk-through (§15.1).
        let containing = LocationRef::new(
            "url",
            "https://github.com/acme/logistics-catalog/blob/main/catalog-info.yaml",
        );
        let found = targets(
            json!({"spec": {"targets": [
                "./teams/contractors.yaml",
                "https://github.com/acme/shared-apis/blob/main/catalog-info.yaml"
            ]}}),
            &containing,
        );
        let found: Vec<String> = found
            .into_iter()
            .map(|r| r.map(|s| format!("{}:{}", s.location_type, s.target)))
            .collect::<Result<_, _>>()
            .expect("both resolve");
        assert_eq!(
            found,
            vec![
                "url:https://github.com/acme/logistics-catalog/tree/main/teams/contractors.yaml",
                // GitHub's resolution rewrites `blob` to `tree` on absolute URLs too
                // (spec §9.2 step 5), which GitHub serves as the same file.
                "url:https://github.com/acme/shared-apis/tree/main/catalog-info.yaml",
            ]
        );
    }

    #[test]
    fn file_targets_join_the_folder_only_when_relative_with_a_dot() {
        let containing = LocationRef::new("file", "/srv/catalog/all.yaml");
        let found = targets(
            json!({"spec": {"target": "./org.yaml", "targets": ["../shared/x.yaml", "plain.yaml", "/abs/y.yaml"], "presence": "optional"}}),
            &containing,
        );
        let found: Vec<LocationSpec> = found.into_iter().collect::<Result<_, _>>().expect("ok");
        let names: Vec<&str> = found.iter().map(|s| s.target.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "/srv/catalog/org.yaml",
                "/srv/shared/x.yaml",
                "plain.yaml",
                "/abs/y.yaml"
            ]
        );
        assert!(found.iter().all(|s| s.presence == Presence::Optional));
    }

    #[test]
    fn a_different_type_keeps_the_target_and_folders_are_refused() {
        let containing = LocationRef::new("file", "/srv/catalog/all.yaml");
        let found = targets(
            json!({"spec": {"type": "url", "target": "./x.yaml"}}),
            &containing,
        );
        assert_eq!(found[0].as_ref().map(|s| s.target.as_str()), Ok("./x.yaml"));

        let found = targets(json!({"spec": {"target": "./dir/"}}), &containing);
        let problem = found[0]
            .as_ref()
            .expect_err("a folder is not a file target");
        assert_eq!(problem.path.to_string(), "spec.target");
        assert!(
            targets(json!({"spec": {}}), &containing).is_empty(),
            "E11: reads nothing"
        );
    }
}

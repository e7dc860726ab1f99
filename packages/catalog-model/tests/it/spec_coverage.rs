//! Guards the table-driven spec tests: every one of the 165 case ids of
//! catalog-model.md §14 must label at least one table row, so deleting a row fails.

const SOURCES: &[&str] = &[
    include_str!("validation_cases.rs"),
    include_str!("ref_cases.rs"),
    include_str!("relation_cases.rs"),
    include_str!("placeholder_cases.rs"),
    include_str!("rules_cases.rs"),
];

/// The case groups of §14 and how many cases each has.
const GROUPS: &[(&str, usize)] = &[
    ("N", 20),
    ("S", 11),
    ("K", 7),
    ("A", 11),
    ("L", 11),
    ("V", 6),
    ("AN", 10),
    ("T", 13),
    ("LK", 9),
    ("E", 14),
    ("RF", 23),
    ("RL", 8),
    ("LR", 6),
    ("PH", 10),
    ("CR", 6),
];

#[test]
fn every_spec_case_id_labels_a_test_row() {
    let total: usize = GROUPS.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 165);
    let mut missing = Vec::new();
    for (prefix, count) in GROUPS {
        for n in 1..=*count {
            let id = format!("\"{prefix}{n:02}");
            if !SOURCES.iter().any(|s| s.contains(&id)) {
                missing.push(id);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "spec cases without a test row: {missing:?}"
    );
}

//! `GET /entities`: order directives and offset/limit/after paging (spec §4.1, §5.1;
//! checklist 14–17).

use greenroom_catalog_query::{
    ListRequest, OrderDirective, decode_base64, encode_base64, parse_filter_params, parse_order,
};

use crate::support::{catalog, names, strings};

fn run(
    filter: &[&str],
    order: &[&str],
    limit: Option<u64>,
    offset: Option<u64>,
    after: Option<&str>,
) -> Result<(Vec<String>, Option<String>), String> {
    let index = catalog();
    let req = ListRequest {
        filter: parse_filter_params(&strings(filter)).map_err(|e| e.message().to_owned())?,
        order: parse_order(&strings(order)).map_err(|e| e.message().to_owned())?,
        limit,
        offset,
        after: after.map(str::to_owned),
    };
    let page = index.list(&req).map_err(|e| e.message().to_owned())?;
    let after = page
        .next_after
        .map(|a| String::from_utf8(decode_base64(&a)).unwrap_or_default());
    Ok((names(&page.items), after))
}

#[test]
fn ordering_rows() {
    let table: Vec<(&str, Vec<&str>, Vec<&str>, Option<u64>, Vec<&str>)> = vec![
        (
            "C01-default-ref-order",
            vec![],
            vec![],
            None,
            vec![
                "orders-api",
                "petstore",
                "billing",
                "cart",
                "checkout",
                "inventory",
                "Payments-API",
                "team-a",
                "team-b",
                "far",
                "adam",
                "zoe",
            ],
        ),
        (
            "C14-desc-name",
            vec!["kind=component"],
            vec!["desc:metadata.name"],
            Some(10),
            vec!["Payments-API", "inventory", "checkout", "cart", "billing"],
        ),
        (
            "C14-asc-name",
            vec!["kind=component"],
            vec!["asc:metadata.name"],
            Some(10),
            vec!["billing", "cart", "checkout", "inventory", "Payments-API"],
        ),
        (
            "C14-missing-last-asc",
            vec!["kind=component"],
            vec!["asc:metadata.tags"],
            Some(10),
            vec!["cart", "billing", "checkout", "inventory", "Payments-API"],
        ),
        (
            "C14-missing-last-desc",
            vec!["kind=component"],
            vec!["desc:metadata.tags"],
            Some(10),
            vec!["billing", "checkout", "cart", "inventory", "Payments-API"],
        ),
        (
            "null-value-sorts-as-missing",
            vec!["kind=component"],
            vec!["asc:spec.type"],
            Some(10),
            vec!["billing", "inventory", "Payments-API", "cart", "checkout"],
        ),
        (
            "case-insensitive-field",
            vec!["kind=component"],
            vec!["desc:METADATA.NAME"],
            None,
            vec!["Payments-API", "inventory", "checkout", "cart", "billing"],
        ),
        (
            "example-B",
            vec!["kind=group", "kind=user"],
            vec!["asc:kind", "desc:metadata.name"],
            None,
            vec!["team-b", "team-a", "zoe", "adam"],
        ),
        (
            "ties-by-uid",
            vec!["kind=component"],
            vec!["asc:spec.lifecycle"],
            None,
            vec!["inventory", "cart", "billing", "checkout", "Payments-API"],
        ),
        (
            "unknown-field-uid-order",
            vec!["kind=component"],
            vec!["asc:spec.nothing"],
            None,
            vec!["billing", "inventory", "checkout", "Payments-API", "cart"],
        ),
    ];
    for (id, filter, order, limit, expected) in table {
        let (got, _) =
            run(&filter, &order, limit, None, None).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(got, strings(&expected), "{id}");
    }
}

#[test]
fn order_parse_errors() {
    let table = [
        (
            "C15",
            "name",
            "Invalid order parameter \"name\", expected \"<asc or desc>:<field name>\"",
        ),
        (
            "empty-field",
            "asc:",
            "Invalid order parameter \"asc:\", expected \"<asc or desc>:<field name>\"",
        ),
        (
            "bad-direction",
            "up:kind",
            "Invalid order parameter \"up:kind\", expected \"<asc or desc>:<field name>\"",
        ),
        (
            "upper-direction",
            "ASC:kind",
            "Invalid order parameter \"ASC:kind\", expected \"<asc or desc>:<field name>\"",
        ),
    ];
    for (id, param, message) in table {
        let err = parse_order(&strings(&[param])).expect_err(id);
        assert_eq!(err.message(), message, "{id}");
    }
    assert_eq!(
        parse_order(&strings(&["desc:a:b"])),
        Ok(vec![OrderDirective {
            field: "a:b".into(),
            desc: true
        }])
    );
}

#[test]
fn offset_paging() {
    let all = run(&[], &[], None, None, None).expect("all").0;
    // C16: two per page, following the `after` cursors to the end.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let encoded = after.as_deref().map(|a| encode_base64(a.as_bytes()));
        let (items, next) = run(&[], &[], Some(2), None, encoded.as_deref()).expect("page");
        pages += 1;
        if pages == 1 {
            assert_eq!(
                next.as_deref(),
                Some(r#"{"limit":2,"offset":2}"#),
                "C16 first link"
            );
        }
        seen.extend(items);
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, all, "C16 pages cover everything once");
    assert_eq!(pages, 6, "C16 last page has no link");

    let table: Vec<(
        &str,
        Option<u64>,
        Option<u64>,
        Option<String>,
        Result<(usize, Option<&str>), &str>,
    )> = vec![
        ("offset-only", None, Some(10), None, Ok((2, None))),
        (
            "limit-and-offset",
            Some(3),
            Some(3),
            None,
            Ok((3, Some(r#"{"limit":3,"offset":6}"#))),
        ),
        ("offset-beyond-end", Some(3), Some(50), None, Ok((0, None))),
        (
            "C17-limit-zero",
            Some(0),
            None,
            None,
            Err("Invalid limit, must be greater than zero"),
        ),
        (
            "C17-after-notjson",
            None,
            None,
            Some("bm90anNvbg==".to_owned()),
            Err("Malformed after cursor, could not be parsed"),
        ),
        (
            "after-limit-string",
            None,
            None,
            Some(encode_base64(br#"{"limit":"2"}"#)),
            Err("Malformed after cursor, limit was not an number"),
        ),
        (
            "after-offset-float",
            None,
            None,
            Some(encode_base64(br#"{"offset":1.5}"#)),
            Err("Malformed after cursor, offset was not a number"),
        ),
        (
            "after-overrides-params",
            Some(5),
            Some(0),
            Some(encode_base64(br#"{"limit":1,"offset":11}"#)),
            Ok((1, None)),
        ),
        (
            "after-empty",
            None,
            None,
            Some(String::new()),
            Err("Invalid after, must not be empty"),
        ),
    ];
    for (id, limit, offset, after, expected) in table {
        let index = catalog();
        let got = index
            .list(&ListRequest {
                limit,
                offset,
                after,
                ..ListRequest::default()
            })
            .map(|page| {
                let next = page
                    .next_after
                    .map(|a| String::from_utf8(decode_base64(&a)).unwrap_or_default());
                (page.items.len(), next)
            })
            .map_err(|e| e.message().to_owned());
        let expected = expected
            .map(|(n, next)| (n, next.map(str::to_owned)))
            .map_err(str::to_owned);
        assert_eq!(got, expected, "{id}");
    }
}

#[test]
fn ordered_offset_pages_match_full_order() {
    let full = run(
        &[],
        &["asc:spec.lifecycle", "desc:metadata.name"],
        None,
        None,
        None,
    )
    .expect("full")
    .0;
    for limit in 1..=5u64 {
        let mut collected = Vec::new();
        let mut offset = 0;
        loop {
            let (items, next) = run(
                &[],
                &["asc:spec.lifecycle", "desc:metadata.name"],
                Some(limit),
                Some(offset),
                None,
            )
            .expect("page");
            collected.extend(items);
            if next.is_none() {
                break;
            }
            offset += limit;
        }
        assert_eq!(collected, full, "limit {limit}");
    }
}

#[test]
fn base64_round_trip() {
    for input in ["", "a", "ab", "abc", "abcd", r#"{"limit":2,"offset":2}"#] {
        assert_eq!(
            decode_base64(&encode_base64(input.as_bytes())),
            input.as_bytes(),
            "{input}"
        );
    }
    assert_eq!(
        encode_base64(br#"{"limit":2,"offset":2}"#),
        "eyJsaW1pdCI6Miwib2Zmc2V0IjoyfQ=="
    );
}

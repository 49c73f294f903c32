//! The gate on this repository's own contracts: every kind of additive change passes, and
//! the changes that would break a consumer are named with the right rule.

use fd_contract_gate::{check, Finding, Options, Tree};

/// proto/ as (path, text), read once per test.
fn proto() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let mut out = Vec::new();
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).expect("proto/ exists") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "proto") {
                let rel = p
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&p).expect("readable")));
            }
        }
    }
    walk(&root, &root, &mut out);
    out
}

fn edit(files: &mut [(String, String)], path: &str, from: &str, to: &str) {
    let f = files
        .iter_mut()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} not in proto/"));
    assert!(f.1.contains(from), "{path} does not contain {from:?}");
    f.1 = f.1.replacen(from, to, 1);
}

fn gate(after: Vec<(String, String)>) -> Vec<Finding> {
    let before = Tree::from_sources(proto()).expect("proto/ loads");
    let after = Tree::from_sources(after).expect("edited tree loads");
    check(&before, &after, Options::default()).expect("gate runs")
}

fn rules(f: &[Finding]) -> Vec<&str> {
    let mut r: Vec<&str> = f.iter().map(|x| x.rule).collect();
    r.sort();
    r.dedup();
    r
}

const ORDER: &str = "fooddelivery/order/v1/order.proto";
const EVENTS: &str = "fooddelivery/order/v1/events.proto";

#[test]
fn unchanged_contracts_pass() {
    assert_eq!(gate(proto()), vec![]);
}

#[test]
fn every_kind_of_additive_change_passes() {
    let mut p = proto();
    // a new field
    edit(
        &mut p,
        ORDER,
        "  fooddelivery.common.v1.Money unit_price = 4;\n}",
        "  fooddelivery.common.v1.Money unit_price = 4;\n  // Notes.\n  string note = 5;\n}",
    );
    // a new enum value
    edit(
        &mut p,
        ORDER,
        "  ORDER_STATE_CANCELLED = 6;\n",
        "  ORDER_STATE_CANCELLED = 6;\n  // New.\n  ORDER_STATE_REFUNDED = 7;\n",
    );
    // a new message, a new RPC and a new service
    edit(
        &mut p,
        ORDER,
        "  rpc WatchOrder(WatchOrderRequest) returns (stream WatchOrderResponse);\n}",
        "  rpc WatchOrder(WatchOrderRequest) returns (stream WatchOrderResponse);\n  // New.\n  rpc RateOrder(RateOrderRequest) returns (RateOrderResponse);\n}\n\n// New.\nservice RatingService {\n  // New.\n  rpc RateOrder(RateOrderRequest) returns (RateOrderResponse);\n}\n\n// New.\nmessage RateOrderRequest {\n  // New.\n  int32 stars = 1;\n}\n\n// New.\nmessage RateOrderResponse {}",
    );
    // a new event
    edit(
        &mut p,
        EVENTS,
        "message OrderCancelled {",
        "message OrderRated {\n  option (fooddelivery.common.v1.event) = {aggregate_type: \"Order\"};\n  // Meta.\n  fooddelivery.common.v1.EventMetadata metadata = 1;\n}\n\n// Cancelled.\nmessage OrderCancelled {",
    );
    // a new major version that differs freely from v1
    p.push((
        "fooddelivery/order/v3/order.proto".into(),
        "syntax = \"proto3\";\npackage fooddelivery.order.v3;\nservice OrderService {\n  rpc PlaceOrder(PlaceOrderRequest) returns (PlaceOrderResponse);\n}\nmessage PlaceOrderRequest { int64 customer_id = 1; }\nmessage PlaceOrderResponse { string id = 7; }\n".into(),
    ));
    assert_eq!(gate(p), vec![], "additive changes must pass");
}

fn one_edit_rules(path: &str, from: &str, to: &str) -> Vec<&'static str> {
    let mut p = proto();
    edit(&mut p, path, from, to);
    let f = gate(p);
    assert!(!f.is_empty(), "{from:?} -> {to:?} must be breaking");
    let mut r: Vec<&'static str> = f.iter().map(|x| x.rule).collect();
    r.sort();
    r.dedup();
    r
}

#[test]
fn breaking_changes_are_named_with_bufs_rules() {
    assert_eq!(
        one_edit_rules(
            EVENTS,
            "  string customer_id = 3;",
            "  int64 customer_id = 3;"
        ),
        ["FIELD_SAME_TYPE"]
    );
    assert_eq!(
        one_edit_rules(
            EVENTS,
            "  string customer_id = 3;",
            "  string customer = 3;"
        ),
        ["FIELD_SAME_JSON_NAME", "FIELD_SAME_NAME"]
    );
    assert_eq!(
        one_edit_rules(EVENTS, "  string customer_id = 3;", ""),
        ["FIELD_NO_DELETE"]
    );
    assert_eq!(
        one_edit_rules(
            EVENTS,
            "  string customer_id = 3;",
            "  repeated string customer_id = 3;"
        ),
        ["FIELD_SAME_CARDINALITY"]
    );
    assert_eq!(
        one_edit_rules(
            ORDER,
            "  rpc GetOrder(GetOrderRequest) returns (GetOrderResponse);\n",
            ""
        ),
        ["RPC_NO_DELETE"]
    );
    assert_eq!(
        one_edit_rules(
            ORDER,
            "rpc WatchOrder(WatchOrderRequest) returns (stream WatchOrderResponse)",
            "rpc WatchOrder(WatchOrderRequest) returns (WatchOrderResponse)"
        ),
        ["RPC_SAME_SERVER_STREAMING"]
    );
    assert_eq!(
        one_edit_rules(ORDER, "  ORDER_STATE_CANCELLED = 6;\n", ""),
        ["ENUM_VALUE_NO_DELETE"]
    );
    assert_eq!(one_edit_rules(ORDER, "option go_package = \"github.com/fooddelivery/contracts/gen/go/fooddelivery/order/v1;orderv1\";", ""), ["FILE_SAME_GO_PACKAGE"]);
}

#[test]
fn the_location_of_a_breaking_change_is_exact() {
    let mut p = proto();
    edit(
        &mut p,
        EVENTS,
        "  string customer_id = 3;",
        "  int64 customer_id = 3;",
    );
    let line = p
        .iter()
        .find(|(f, _)| f == EVENTS)
        .and_then(|(_, t)| t.lines().position(|l| l == "  int64 customer_id = 3;"))
        .expect("edited line") as u32;
    let f = gate(p);
    let span = f[0].span.expect("a span");
    assert_eq!(
        (
            f[0].path.as_deref(),
            span.start.line,
            span.start.col,
            span.end.col
        ),
        (Some(EVENTS), line, 2, 7)
    );
    assert_eq!(f[0].message, "Field \"3\" with name \"customer_id\" on message \"OrderPlaced\" changed type from \"string\" to \"int64\".");
}

#[test]
fn events_are_published_contracts() {
    let mut p = proto();
    let f = p.iter_mut().find(|(f, _)| f == EVENTS).expect("events");
    let start =
        f.1.find("// An order was cancelled.")
            .expect("OrderCancelled comment");
    let end = f.1[start..]
        .find("\n}\n")
        .map(|i| start + i + 3)
        .expect("end of message");
    f.1.replace_range(start..end, "");
    assert_eq!(
        rules(&gate(p)),
        ["EVENT_NO_DELETE", "PACKAGE_MESSAGE_NO_DELETE"]
    );

    let marker = "message OrderPlaced {\n  option (fooddelivery.common.v1.event) = {aggregate_type: \"Order\"};\n";
    assert_eq!(
        one_edit_rules(EVENTS, marker, "message OrderPlaced {\n"),
        ["EVENT_SAME_MARKER"]
    );
}

#[test]
fn packages_need_a_version_and_stable_packages_stay() {
    let mut p = proto();
    p.retain(|(f, _)| !f.starts_with("fooddelivery/notification/"));
    // Its event NotificationSent goes with it.
    assert_eq!(rules(&gate(p)), ["EVENT_NO_DELETE", "PACKAGE_NO_DELETE"]);

    let mut p = proto();
    p.push((
        "fooddelivery/rating/rating.proto".into(),
        "syntax = \"proto3\";\npackage fooddelivery.rating;\nmessage Rating {}\n".into(),
    ));
    assert_eq!(rules(&gate(p)), ["PACKAGE_VERSION_SUFFIX"]);
}

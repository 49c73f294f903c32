//! Conventions every contract in `proto/` keeps. Other-language teams read these files, so a
//! missing comment or an unmarked event is a defect in a published interface.

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};
use prost_types::FileDescriptorProto;

fn pool() -> DescriptorPool {
    DescriptorPool::decode(fd_proto::FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

fn our_files(pool: &DescriptorPool) -> Vec<FileDescriptorProto> {
    pool.files()
        .filter(|f| f.package_name().starts_with("fooddelivery."))
        .map(|f| f.file_descriptor_proto().clone())
        .collect()
}

fn our_messages(pool: &DescriptorPool) -> Vec<MessageDescriptor> {
    pool.all_messages()
        .filter(|m| m.package_name().starts_with("fooddelivery."))
        .collect()
}

fn is_event(pool: &DescriptorPool, m: &MessageDescriptor) -> bool {
    let ext = pool
        .get_extension_by_name("fooddelivery.common.v1.event")
        .expect("the event option is declared");
    m.options().has_extension(&ext)
}

#[test]
fn packages_are_versioned_and_paths_mirror_them() {
    let pool = pool();
    let files = our_files(&pool);
    assert!(files.len() >= 11, "all contexts compiled: {}", files.len());
    for f in files {
        let pkg = f.package();
        let parts: Vec<&str> = pkg.split('.').collect();
        assert_eq!(parts.len(), 3, "{pkg}: fooddelivery.<context>.v<N>");
        let version = parts[2];
        let ok = version.strip_prefix('v').is_some_and(|n| {
            let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
            !digits.is_empty()
                && (n == digits
                    || n[digits.len()..].starts_with("alpha")
                    || n[digits.len()..].starts_with("beta"))
        });
        assert!(ok, "{pkg} must end in a version (v1, v1beta1, ...)");
        let dir = f.name().rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        assert_eq!(
            dir,
            pkg.replace('.', "/"),
            "{} lives where its package says",
            f.name()
        );
    }
}

#[test]
fn every_service_rpc_message_field_and_enum_value_is_commented() {
    let pool = pool();
    let mut missing = Vec::new();
    for f in our_files(&pool) {
        let info = f.source_code_info.clone().expect("source info kept");
        let commented = |path: &[i32]| {
            info.location.iter().any(|l| {
                l.path == path
                    && l.leading_comments
                        .as_deref()
                        .is_some_and(|c| !c.trim().is_empty())
            })
        };
        let mut need = |path: Vec<i32>, what: String| {
            if !commented(&path) {
                missing.push(format!("{}: {what}", f.name()));
            }
        };
        for (i, m) in f.message_type.iter().enumerate() {
            let i = i as i32;
            need(vec![4, i], format!("message {}", m.name()));
            for (j, field) in m.field.iter().enumerate() {
                need(
                    vec![4, i, 2, j as i32],
                    format!("field {}.{}", m.name(), field.name()),
                );
            }
        }
        for (i, e) in f.enum_type.iter().enumerate() {
            let i = i as i32;
            need(vec![5, i], format!("enum {}", e.name()));
            for (j, v) in e.value.iter().enumerate() {
                need(vec![5, i, 2, j as i32], format!("enum value {}", v.name()));
            }
        }
        for (i, s) in f.service.iter().enumerate() {
            let i = i as i32;
            need(vec![6, i], format!("service {}", s.name()));
            for (j, m) in s.method.iter().enumerate() {
                need(
                    vec![6, i, 2, j as i32],
                    format!("rpc {}.{}", s.name(), m.name()),
                );
            }
        }
    }
    assert!(
        missing.is_empty(),
        "uncommented elements:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_domain_event_is_marked_and_carries_metadata() {
    let pool = pool();
    let events: Vec<_> = our_messages(&pool)
        .into_iter()
        .filter(|m| is_event(&pool, m))
        .collect();
    let mut names: Vec<_> = events.iter().map(|m| m.full_name().to_string()).collect();
    names.sort();
    // The domain events of the contexts table (docs/architecture.md), and nothing else marked
    // as an event.
    let mut expected = vec![
        "fooddelivery.order.v1.OrderPlaced",
        "fooddelivery.order.v1.OrderCancelled",
        "fooddelivery.payment.v1.PaymentAuthorized",
        "fooddelivery.payment.v1.PaymentRefunded",
        "fooddelivery.store.v1.OrderAccepted",
        "fooddelivery.store.v1.OrderRejected",
        "fooddelivery.store.v1.CookingFinished",
        "fooddelivery.store.v1.StoreCreated",
        "fooddelivery.store.v1.StoreUpdated",
        "fooddelivery.store.v1.MenuItemAdded",
        "fooddelivery.store.v1.MenuItemUpdated",
        "fooddelivery.store.v1.MenuItemRemoved",
        "fooddelivery.delivery.v1.DeliveryStarted",
        "fooddelivery.delivery.v1.Delivered",
        "fooddelivery.delivery.v1.DeliveryCancelled",
        "fooddelivery.notification.v1.NotificationSent",
        "fooddelivery.marketing.v1.CouponIssued",
        "fooddelivery.marketing.v1.DigestSent",
    ];
    expected.sort();
    assert_eq!(names, expected);
    for m in events {
        let f = m
            .get_field(1)
            .unwrap_or_else(|| panic!("{} has no field 1", m.full_name()));
        assert_eq!(f.name(), "metadata", "{}", m.full_name());
        match f.kind() {
            Kind::Message(t) => assert_eq!(t.full_name(), "fooddelivery.common.v1.EventMetadata"),
            other => panic!("{}.metadata is {other:?}", m.full_name()),
        }
    }
    let meta = pool
        .get_message_by_name("fooddelivery.common.v1.EventMetadata")
        .expect("EventMetadata");
    let fields: Vec<_> = meta.fields().map(|f| f.name().to_string()).collect();
    for needed in ["event_id", "occurred_at", "aggregate_id"] {
        assert!(
            fields.iter().any(|f| f == needed),
            "EventMetadata lacks {needed}"
        );
    }
}

#[test]
fn money_is_minor_units_and_times_are_timestamps() {
    let pool = pool();
    for m in our_messages(&pool) {
        for f in m.fields() {
            let name = f.name();
            let kind = f.kind();
            assert!(
                !matches!(kind, Kind::Double | Kind::Float),
                "{}.{name}: no floating point in contracts",
                m.full_name()
            );
            let type_name = match &kind {
                Kind::Message(t) => t.full_name().to_string(),
                _ => String::new(),
            };
            let is_money = ["price", "amount", "total"]
                .iter()
                .any(|w| name == *w || name.ends_with(&format!("_{w}")));
            if is_money && m.full_name() != "fooddelivery.common.v1.Money" {
                assert_eq!(
                    type_name,
                    "fooddelivery.common.v1.Money",
                    "{}.{name}",
                    m.full_name()
                );
            }
            if name.ends_with("_time") || name.ends_with("_at") || name == "time" {
                assert_eq!(
                    type_name,
                    "google.protobuf.Timestamp",
                    "{}.{name}",
                    m.full_name()
                );
            }
        }
    }
}

#[test]
fn every_rpc_has_its_own_request_and_response() {
    let pool = pool();
    let mut seen = std::collections::HashSet::new();
    for s in pool
        .services()
        .filter(|s| s.package_name().starts_with("fooddelivery."))
    {
        assert!(s.name().ends_with("Service"), "{}", s.full_name());
        for m in s.methods() {
            assert_eq!(
                m.input().name(),
                format!("{}Request", m.name()),
                "{}",
                m.full_name()
            );
            assert_eq!(
                m.output().name(),
                format!("{}Response", m.name()),
                "{}",
                m.full_name()
            );
            assert!(
                seen.insert(m.input().full_name().to_string()),
                "{} reused",
                m.input().full_name()
            );
            assert!(
                seen.insert(m.output().full_name().to_string()),
                "{} reused",
                m.output().full_name()
            );
        }
    }
    // order v1 5 + v2 6, payment 3, store 9 + catalog 3, delivery 4, notification 1.
    assert_eq!(seen.len(), 2 * 35, "every RPC of the six contexts");
}

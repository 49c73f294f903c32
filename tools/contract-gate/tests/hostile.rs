//! Whatever the input, the gate answers with findings or a located error, never a panic.

use fd_contract_gate::{check, parser::parse_file, Options, Tree};
use proptest::prelude::*;

const SAMPLE: &str = r#"syntax = "proto2";
package a.v1;
import "google/protobuf/descriptor.proto";
option java_package = "x";
extend google.protobuf.MessageOptions { optional bool ev = 50001; }
message M {
  option (ev) = true;
  optional string s = 1 [default = "a\x41\101", json_name = "S", ctype = CORD];
  required int64 n = 2 [jstype = JS_STRING, default = -9223372036854775808];
  repeated group G = 3 { optional double d = 1 [default = inf]; }
  map<string, M> m = 4;
  oneof o { float f = 5 [default = 1.5e-7]; bytes b = 6 [default = "\xff"]; }
  extensions 100 to max;
  reserved 7 to 9, 11; reserved "x", "y";
  enum E { option allow_alias = true; A = 0; B = 1; C = 1; reserved -5 to -1, 2147483647; }
  extend M { optional E e = 100 [default = C]; }
}
service S { rpc R(M) returns (stream M) { option idempotency_level = NO_SIDE_EFFECTS; } }
"#;

const EDITION: &str = r#"edition = "2023";
package b.v1;
import "google/protobuf/cpp_features.proto";
option features.field_presence = IMPLICIT;
option features.(pb.cpp).string_type = VIEW;
message N { string s = 1 [features.utf8_validation = NONE, features.field_presence = EXPLICIT]; N child = 2 [features.message_encoding = DELIMITED]; }
enum F { option features.enum_type = CLOSED; F_A = 1; }
"#;

fn tree(srcs: &[(&str, String)]) -> Option<Tree> {
    Tree::from_sources(
        srcs.iter()
            .map(|(p, s)| (p.to_string(), s.clone()))
            .collect(),
    )
    .ok()
}

#[test]
fn the_samples_load_and_compare_clean_with_themselves() {
    let t =
        tree(&[("a.proto", SAMPLE.into()), ("b.proto", EDITION.into())]).expect("samples parse");
    assert_eq!(check(&t, &t, Options::default()).expect("gate"), vec![]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,400}") {
        let _ = parse_file("x.proto", &s);
    }

    #[test]
    fn truncated_and_mutated_files_never_panic(cut in 0usize..SAMPLE.len(), at in 0usize..SAMPLE.len(), junk in "[{}()<>;=\\[\\].,\"'a-z0-9 \\-]{0,6}") {
        for base in [SAMPLE, EDITION] {
            let cut = cut.min(base.len());
            let at = at.min(base.len());
            let (c, a) = (floor_char(base, cut), floor_char(base, at));
            let truncated = &base[..c];
            let mut mutated = base.to_string();
            mutated.insert_str(a, &junk);
            for text in [truncated.to_string(), mutated] {
                if let Some(cur) = tree(&[("a.proto", text)]) {
                    // Compare either way with the intact sample: findings or nothing, no panic.
                    if let Some(orig) = tree(&[("a.proto", base.to_string())]) {
                        let _ = check(&orig, &cur, Options::default());
                        let _ = check(&cur, &orig, Options::default());
                    }
                }
            }
        }
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

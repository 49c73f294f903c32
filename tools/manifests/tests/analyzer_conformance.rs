//! fd-manifests' `analyze` against istioctl analyze's own expectations: every test case of
//! Istio 1.30.3's analyzer tests for the analyzers it implements (inputs and expected
//! messages in testdata/istio-samples/analyzer-testdata, extracted from istio's
//! analyzers_test.go). For each case the messages of that case's analyzer must be exactly
//! istioctl's: the same codes on the same objects, no more, no fewer.

use std::collections::BTreeMap;
use std::path::Path;

use fd_manifests::analyze::analyze;
use fd_manifests::load;
use serde_json::Value;

#[test]
fn every_analyzer_case_of_istio_gives_istioctls_messages() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/istio-samples/analyzer-testdata");
    let cases = load(&dir.join("expected-messages.yaml")).expect("expected-messages.yaml");
    let cases = cases[0].value.as_array().expect("a list of cases").clone();
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("");
        let analyzer = case["analyzer"].as_str().unwrap_or("");
        let mut docs = Vec::new();
        for f in case["inputFiles"].as_array().into_iter().flatten() {
            docs.extend(load(&dir.join(f.as_str().unwrap_or(""))).expect("input"));
        }
        let mut want: Vec<(String, String)> = case["expected"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    m["code"].as_str().unwrap_or("").to_string(),
                    m["origin"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        want.sort();
        // upstream runs one analyzer per case; so do we (schema validation covers the
        // VirtualService checks of the rule analyzer)
        let mut got: Vec<(String, String)> = analyze(&docs)
            .into_iter()
            .filter(|m| {
                m.analyzer == analyzer
                    || (analyzer.starts_with("schemaValidation")
                        && m.analyzer.starts_with("schemaValidation"))
            })
            .map(|m| (m.code.to_string(), m.origin))
            .collect();
        got.sort();
        if got == want {
            passed += 1;
        } else {
            failures.push(format!(
                "{name} ({analyzer}):\n  want {want:?}\n  got  {got:?}"
            ));
        }
    }
    let by_code: BTreeMap<String, usize> = cases
        .iter()
        .flat_map(|c| c["expected"].as_array().cloned().unwrap_or_default())
        .map(|m: Value| m["code"].as_str().unwrap_or("").to_string())
        .fold(BTreeMap::new(), |mut acc, c| {
            *acc.entry(c).or_default() += 1;
            acc
        });
    println!(
        "{passed} of {} istioctl analyzer cases match; codes expected: {by_code:?}",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

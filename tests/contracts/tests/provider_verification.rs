//! Consumer-driven contracts: every consumer's record in `tests/contracts/consumers/` is
//! replayed against the real providers (the five services in one process, SQLite, a real
//! nats-server) and checked against the events they really publish. A provider change that
//! breaks a recorded expectation fails here, and the message names the consumer.

#[allow(dead_code)]
use fd_system_tests as harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Buf, BufMut};
use fd_testkit::Backend;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value,
};
use serde_json::Value as Json;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_types::StatusExt;

// ------------------------------------------------------------------ records

#[derive(Debug, Clone)]
struct Record {
    consumer: String,
    source: String,
    calls: Vec<Json>,
    events: Vec<Json>,
}

fn records_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("consumers")
}

fn load_records() -> Vec<Record> {
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(records_dir())
        .expect("tests/contracts/consumers")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for p in paths {
        let v: Json = serde_json::from_str(&std::fs::read_to_string(&p).expect("readable"))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let arr = |k: &str| v[k].as_array().cloned().unwrap_or_default();
        out.push(Record {
            consumer: v["consumer"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: no consumer", p.display()))
                .to_string(),
            source: v["source"].as_str().unwrap_or_default().to_string(),
            calls: arr("calls"),
            events: arr("events"),
        });
    }
    out
}

fn pool() -> DescriptorPool {
    DescriptorPool::decode(fd_proto::FILE_DESCRIPTOR_SET).expect("descriptor set")
}

// ------------------------------------------------------------------ field paths

fn type_name(f: &FieldDescriptor) -> String {
    let base = match f.kind() {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
    };
    if f.is_list() {
        format!("{base}[]")
    } else {
        base
    }
}

/// The field a dotted path names, or why it does not exist.
fn resolve(desc: &MessageDescriptor, path: &str) -> Result<FieldDescriptor, String> {
    let mut cur = desc.clone();
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let f = cur
            .get_field_by_name(part)
            .ok_or_else(|| format!("`{}` has no field `{part}`", cur.full_name()))?;
        if i + 1 == parts.len() {
            return Ok(f);
        }
        match f.kind() {
            Kind::Message(m) => cur = m,
            _ => return Err(format!("`{}.{part}` is not a message", cur.full_name())),
        }
    }
    Err("empty path".into())
}

fn check_type(desc: &MessageDescriptor, path: &str, expected: &str) -> Result<(), String> {
    let f = resolve(desc, path)?;
    let expected = expected.trim_end_matches('?');
    let actual = type_name(&f);
    if actual != expected {
        return Err(format!(
            "field `{path}` of {} is `{actual}`, not `{expected}`",
            desc.full_name()
        ));
    }
    Ok(())
}

fn is_set(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::I32(x) | Value::EnumNumber(x) => *x != 0,
        Value::I64(x) => *x != 0,
        Value::U32(x) => *x != 0,
        Value::U64(x) => *x != 0,
        Value::F32(x) => *x != 0.0,
        Value::F64(x) => *x != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::Message(m) => m.fields().next().is_some(),
        Value::List(l) => !l.is_empty(),
        Value::Map(m) => !m.is_empty(),
    }
}

/// Whether some value on the path is set (paths go through repeated messages).
fn set_somewhere(msg: &DynamicMessage, path: &[&str]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let Some(v) = msg.get_field_by_name(first) else {
        return false;
    };
    if rest.is_empty() {
        return is_set(&v);
    }
    match &*v {
        Value::Message(m) => set_somewhere(m, rest),
        Value::List(items) => items
            .iter()
            .any(|i| i.as_message().is_some_and(|m| set_somewhere(m, rest))),
        _ => false,
    }
}

fn value_at(msg: &DynamicMessage, path: &str) -> Option<String> {
    let mut cur = msg.clone();
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        let v = cur.get_field_by_name(p)?.into_owned();
        if i + 1 == parts.len() {
            return v.as_str().map(str::to_string);
        }
        cur = v.as_message()?.clone();
    }
    None
}

// ------------------------------------------------------------------ raw gRPC

#[derive(Debug, Clone, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

/// Calls `rpc` with raw protobuf bytes; for a server-streaming RPC, the answer is its first
/// message.
/// Who a consumer's call acts as: the record's `"as": {"sub", "roles"}`, or who would make
/// that call in the system (the role × RPC matrix of docs/identity.md): the customer the
/// request names, olga for the store owner's API (the owner of the demo's store-1), the rider
/// the request names, order's service identity for Authorize, an operator for the rest.
fn identity(call: &Json, req: &Json) -> (String, Vec<String>) {
    if let Some(who) = call.get("as") {
        let roles = who["roles"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        return (who["sub"].as_str().unwrap_or_default().to_string(), roles);
    }
    let rpc = call["rpc"].as_str().unwrap_or_default();
    let named = |field: &str| {
        req[field]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let one = |sub: String, role: &str| (sub, vec![role.to_string()]);
    if rpc.ends_with("PaymentService/Authorize") {
        one("service:order".into(), "service")
    } else if rpc.contains(".StoreService/") {
        one("olga".into(), "owner")
    } else if rpc.contains(".CatalogService/") {
        one("catalog-reader".into(), "customer")
    } else if let Some(rider) = named("riderId") {
        one(rider, "rider")
    } else if let Some(customer) = named("customerId") {
        one(customer, "customer")
    } else {
        one("ops".into(), "operator")
    }
}

async fn call_raw(
    url: &str,
    rpc: &str,
    body: Vec<u8>,
    streaming: bool,
    token: &str,
) -> Result<Vec<u8>, tonic::Status> {
    let channel = Channel::from_shared(url.to_string())
        .expect("url")
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::try_from(format!("/{rpc}"))
        .map_err(|e| tonic::Status::internal(e.to_string()))?;
    let mut req = tonic::Request::new(body);
    req.set_timeout(Duration::from_secs(5));
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.metadata_mut().insert("authorization", v);
    }
    if !streaming {
        return grpc
            .unary(req, path, RawCodec)
            .await
            .map(tonic::Response::into_inner);
    }
    let mut stream = grpc
        .server_streaming(req, path, RawCodec)
        .await?
        .into_inner();
    stream
        .message()
        .await?
        .ok_or_else(|| tonic::Status::unknown("the stream ended without a message"))
}

fn code_name(c: tonic::Code) -> String {
    let dbg = format!("{c:?}");
    let mut out = String::new();
    for (i, ch) in dbg.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    if out == "O_K" {
        "OK".into()
    } else {
        out
    }
}

fn substitute(v: &Json, vars: &BTreeMap<String, String>) -> Json {
    match v {
        Json::String(s) => {
            let mut s = s.clone();
            while let Some(start) = s.find("${") {
                let Some(len) = s[start..].find('}') else {
                    break;
                };
                let name = &s[start + 2..start + len];
                let val = if name == "uuid" {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    vars.get(name).cloned().unwrap_or_default()
                };
                s.replace_range(start..start + len + 1, &val);
            }
            Json::String(s)
        }
        Json::Array(a) => Json::Array(a.iter().map(|x| substitute(x, vars)).collect()),
        Json::Object(o) => Json::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

// ------------------------------------------------------------------ verification

/// Checks every record against the descriptors (`static_only`) or the running system.
/// Marketing is Python: it runs as a process beside the in-process Rust services, on the same
/// NATS (as its own user) and trusting the same issuer; its answers are checked like theirs.
async fn start_marketing(system: &harness::System, dir: &Path) -> (tokio::process::Child, String) {
    let python = fd_testkit::system::marketing_python()
        .expect("marketing's virtualenv (services/marketing/.venv): run `make marketing`");
    let port = fd_testkit::system::free_port().expect("a free port");
    let url = format!("http://127.0.0.1:{port}");
    let child = tokio::process::Command::new(python)
        .args(["-m", "fd_marketing"])
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("NATS_URL", system.nats.server_url())
        .env("DATA_DIR", dir)
        .env_remove("DATABASE_URL")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .envs(fd_testkit::issuer::shared().service_env())
        .envs(
            system
                .nats
                .auth()
                .map(|a| a.service_env("marketing"))
                .unwrap_or_default(),
        )
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("marketing starts");
    let health = fd_testkit::system::health_name("marketing");
    for _ in 0..300 {
        if fd_testkit::system::serving_as(url.clone(), &health).await {
            return (child, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("marketing did not become SERVING at {url}");
}

async fn verify(
    records: &[Record],
    system: Option<&harness::System>,
    marketing: Option<&str>,
) -> Vec<String> {
    let pool = pool();
    let mut failures = Vec::new();
    for r in records {
        let who = &r.consumer;
        let mut vars = BTreeMap::new();
        for (i, call) in r.calls.iter().enumerate() {
            let rpc = call["rpc"].as_str().unwrap_or_default();
            let provider = call["provider"].as_str().unwrap_or_default();
            let Some((svc, method)) = rpc.split_once('/') else {
                failures.push(format!("{who}: call {i}: bad rpc name {rpc:?}"));
                continue;
            };
            let Some(m) = pool
                .get_service_by_name(svc)
                .and_then(|s| s.methods().find(|m| m.name() == method))
            else {
                failures.push(format!(
                    "{who} calls {rpc}, which {provider} no longer offers"
                ));
                continue;
            };
            let expect = &call["expect"];
            for (path, ty) in expect["fields"].as_object().cloned().unwrap_or_default() {
                if let Err(e) = check_type(&m.output(), &path, ty.as_str().unwrap_or_default()) {
                    failures.push(format!("{who} relies on the answer of {rpc}: {e}"));
                }
            }
            let req_json = substitute(&call["request"], &vars).to_string();
            let mut de = serde_json::Deserializer::from_str(&req_json);
            let req = match DynamicMessage::deserialize(m.input(), &mut de) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!(
                        "{who}'s example request for {rpc} no longer fits {}: {e}",
                        m.input().full_name()
                    ));
                    continue;
                }
            };
            let Some(system) = system else { continue };
            let url = match (provider, marketing) {
                ("marketing", Some(url)) => url.to_string(),
                ("marketing", None) => {
                    failures.push(format!("{who} calls marketing, which is not running"));
                    continue;
                }
                (p, _) => system.url(p),
            };
            let want = expect["code"].as_str().unwrap_or("OK").to_string();
            let retry = call["retry"].as_bool().unwrap_or(false);
            let (sub, roles) = identity(call, &substitute(&call["request"], &vars));
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            let token = fd_testkit::issuer::shared().token_for(&sub, &roles);
            let mut attempt = 0;
            let result = loop {
                let r = call_raw(
                    &url,
                    rpc,
                    req.encode_to_vec(),
                    m.is_server_streaming(),
                    &token,
                )
                .await;
                let code = match &r {
                    Ok(_) => "OK".to_string(),
                    Err(s) => code_name(s.code()),
                };
                attempt += 1;
                if code == want || !retry || attempt >= 200 {
                    break r;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            match (result, want.as_str()) {
                (Ok(bytes), "OK") => {
                    let resp = match DynamicMessage::decode(m.output(), bytes.as_slice()) {
                        Ok(x) => x,
                        Err(e) => {
                            failures.push(format!("{who}: {rpc} answered bytes that are no {}: {e}", m.output().full_name()));
                            continue;
                        }
                    };
                    for (path, ty) in expect["fields"].as_object().cloned().unwrap_or_default() {
                        let optional = ty.as_str().unwrap_or_default().ends_with('?');
                        if !optional && resolve(&m.output(), &path).is_ok() && !set_somewhere(&resp, &path.split('.').collect::<Vec<_>>()) {
                            failures.push(format!("{who} relies on `{path}` in the answer of {rpc}, but the provider left it empty"));
                        }
                    }
                    for (name, path) in call["save"].as_object().cloned().unwrap_or_default() {
                        match value_at(&resp, path.as_str().unwrap_or_default()) {
                            Some(v) => {
                                vars.insert(name, v);
                            }
                            None => failures.push(format!("{who}: cannot save {name} from `{path}` of {rpc}")),
                        }
                    }
                }
                (Ok(_), want) => failures.push(format!("{who} expects {rpc} to fail with {want} for its example request, but it succeeded")),
                (Err(s), "OK") => failures.push(format!("{who}: {rpc} failed with {:?}: {}", s.code(), s.message())),
                (Err(s), want) => {
                    let got = code_name(s.code());
                    if got != want {
                        failures.push(format!("{who} expects {rpc} to fail with {want}, got {got}: {}", s.message()));
                        continue;
                    }
                    let named: BTreeSet<String> =
                        s.get_details_bad_request().map(|b| b.field_violations.into_iter().map(|v| v.field).collect()).unwrap_or_default();
                    for f in expect["field_violations"].as_array().cloned().unwrap_or_default() {
                        let f = f.as_str().unwrap_or_default();
                        if !named.contains(f) {
                            failures.push(format!("{who} expects {rpc} to name the bad field `{f}`; it named {named:?}"));
                        }
                    }
                }
            }
        }
        for ev in &r.events {
            let ty = ev["type"].as_str().unwrap_or_default();
            let Some(desc) = pool.get_message_by_name(ty) else {
                failures.push(format!(
                    "{who} reads event {ty}, which no provider defines any more"
                ));
                continue;
            };
            for (path, t) in ev["fields"].as_object().cloned().unwrap_or_default() {
                if let Err(e) = check_type(&desc, &path, t.as_str().unwrap_or_default()) {
                    failures.push(format!("{who} reads {ty}: {e}"));
                }
            }
        }
    }
    failures
}

/// Every event the providers published, by type: (headers, decoded message).
type Published = BTreeMap<String, Vec<(BTreeMap<String, String>, DynamicMessage)>>;

async fn published(system: &harness::System) -> Published {
    let pool = pool();
    let client = fd_chassis::nats::connect_url(&system.nats.url)
        .await
        .expect("nats");
    let js = async_nats::jetstream::new(client);
    let mut out: Published = BTreeMap::new();
    for name in ["ORDER", "PAYMENT", "STORE", "DELIVERY", "NOTIFICATION"] {
        let Ok(mut stream) = js.get_stream(name).await else {
            continue;
        };
        let Ok(info) = stream.info().await else {
            continue;
        };
        let (first, last) = (info.state.first_sequence, info.state.last_sequence);
        for seq in first..=last {
            let Ok(m) = stream.get_raw_message(seq).await else {
                continue;
            };
            let ty = m.subject.to_string();
            let Some(desc) = pool.get_message_by_name(&ty) else {
                continue;
            };
            let Ok(msg) = DynamicMessage::decode(desc, m.payload.clone()) else {
                continue;
            };
            let headers = m
                .headers
                .iter()
                .filter_map(|(k, v)| {
                    v.first()
                        .map(|v| (k.to_string().to_ascii_lowercase(), v.to_string()))
                })
                .collect();
            out.entry(ty).or_default().push((headers, msg));
        }
    }
    out
}

fn verify_events(records: &[Record], published: &Published) -> Vec<String> {
    let mut failures = Vec::new();
    for r in records {
        for ev in &r.events {
            let ty = ev["type"].as_str().unwrap_or_default();
            let Some(real) = published.get(ty) else {
                failures.push(format!(
                    "{} reads {ty}, but the providers never published one in the verification run",
                    r.consumer
                ));
                continue;
            };
            for (path, t) in ev["fields"].as_object().cloned().unwrap_or_default() {
                if t.as_str().unwrap_or_default().ends_with('?') {
                    continue;
                }
                let parts: Vec<&str> = path.split('.').collect();
                if !real.iter().any(|(_, m)| set_somewhere(m, &parts)) {
                    failures.push(format!(
                        "{} reads `{path}` of {ty}, but none of the {} real {ty} events carries it",
                        r.consumer,
                        real.len()
                    ));
                }
            }
            for h in ev["headers"].as_array().cloned().unwrap_or_default() {
                let h = h.as_str().unwrap_or_default().to_ascii_lowercase();
                if !real
                    .iter()
                    .all(|(hs, _)| hs.get(&h).is_some_and(|v| !v.is_empty()))
                {
                    failures.push(format!(
                        "{} reads header {h} of {ty}, but the provider does not always send it",
                        r.consumer
                    ));
                }
            }
        }
    }
    failures
}

fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The text of each source file under `dir` (generated code left out).
fn read_sources(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|_| panic!("{} exists", dir.display())) {
        let p = e.expect("entry").path();
        if p.is_dir() {
            if !p.ends_with("gen") && !p.ends_with("fooddelivery") {
                read_sources(&p, out);
            }
        } else if p
            .extension()
            .is_some_and(|x| x == "rs" || x == "py" || x == "ts")
        {
            out.push(std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
}

/// A client's record must list exactly the RPCs its code calls (fdctl in Rust, the generated
/// stubs in Python and TypeScript).
fn verify_calls_match_code(records: &[Record]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pool = pool();
    let mut failures = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.source.starts_with("clients/") || r.source.starts_with("tools/"))
    {
        let mut files = Vec::new();
        read_sources(&root.join(&r.source), &mut files);
        let mut used = BTreeSet::new();
        for (text, svc) in files.iter().flat_map(|f| {
            pool.services()
                .filter(|s| s.package_name().starts_with("fooddelivery."))
                .map(move |s| (f, s))
        }) {
            // Methods of the same name in two versions (order v1 and v2) are told apart by the
            // package the calling file imports: `order::v2` (Rust), `order.v2` / `order/v2`
            // (Python, TypeScript).
            let package = svc.package_name().trim_start_matches("fooddelivery.");
            let imported = [".", "::", "/"]
                .iter()
                .any(|sep| text.contains(&package.replace('.', sep)));
            if !imported {
                continue;
            }
            for m in svc.methods() {
                let name = m.name();
                let camel = format!("{}{}", name[..1].to_ascii_lowercase(), &name[1..]);
                let called = text.contains(&format!(".{}(", snake(name)))
                    || text.contains(&format!("_stub.{name}"))
                    || text.contains(&format!("client.{camel}("));
                if called {
                    used.insert(format!("{}/{name}", svc.full_name()));
                }
            }
        }
        let recorded: BTreeSet<String> = r
            .calls
            .iter()
            .filter_map(|c| c["rpc"].as_str().map(str::to_string))
            .collect();
        if used != recorded {
            failures.push(format!(
                "{}: its record calls {recorded:?} but {} calls {used:?}",
                r.consumer, r.source
            ));
        }
    }
    failures
}

/// A consumer record must list what the consumer's code really subscribes to.
fn verify_subscriptions_match_code(records: &[Record]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pool = pool();
    let mut failures = Vec::new();
    for r in records.iter().filter(|r| r.source.starts_with("services/")) {
        let own = format!("fooddelivery.{}.v1.", r.consumer);
        let recorded: BTreeSet<String> = r
            .events
            .iter()
            .filter_map(|e| e["type"].as_str())
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
            .collect();
        let mut files = Vec::new();
        read_sources(&root.join(&r.source), &mut files);
        let text = files.concat();
        let mut used = BTreeSet::new();
        // Rust services subscribe by `Event::TYPE`, the Python one by the generated message's
        // `DESCRIPTOR` (`OrderPlaced.DESCRIPTOR.full_name`).
        let uses = text
            .match_indices("::TYPE")
            .chain(text.match_indices(".DESCRIPTOR"));
        for (i, _) in uses {
            let name = text[..i]
                .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default();
            let full = pool
                .all_messages()
                .find(|m| m.name() == name)
                .map(|m| m.full_name().to_string());
            if full.is_some_and(|f| !f.starts_with(&own)) {
                used.insert(name.to_string());
            }
        }
        if used != recorded {
            failures.push(format!(
                "{}: its record lists events {recorded:?} but {} subscribes to {used:?}",
                r.consumer, r.source
            ));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_consumer_expectation_holds_against_the_real_providers() {
    let records = load_records();
    let names: BTreeSet<&str> = records.iter().map(|r| r.consumer.as_str()).collect();
    for must in [
        "order",
        "payment",
        "store",
        "delivery",
        "notification",
        "python-client",
        "typescript-client",
        "fdctl",
        "marketing",
    ] {
        assert!(names.contains(must), "no consumer record for {must}");
    }
    let mut failures = verify_subscriptions_match_code(&records);
    failures.extend(verify_calls_match_code(&records));
    let system = harness::System::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().expect("marketing's data directory");
    let (marketing, marketing_url) = start_marketing(&system, dir.path()).await;
    failures.extend(verify(&records, Some(&system), Some(&marketing_url)).await);
    drop(marketing);
    // Wait until every event type some consumer reads was published (the records' calls drive
    // the lifecycle: delivered, cancelled after cooking, rejected).
    let wanted: BTreeSet<String> = records
        .iter()
        .flat_map(|r| {
            r.events
                .iter()
                .filter_map(|e| e["type"].as_str().map(str::to_string))
        })
        .collect();
    let mut events = Published::new();
    for _ in 0..200 {
        events = published(&system).await;
        if wanted.iter().all(|t| events.contains_key(t)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    failures.extend(verify_events(&records, &events));
    assert!(
        failures.is_empty(),
        "consumer contracts broken:\n  {}",
        failures.join("\n  ")
    );
}

#[tokio::test]
async fn a_provider_change_that_breaks_an_expectation_names_the_consumer() {
    // The same records against a provider whose OrderPlaced lost `customer_id` and whose
    // Order renamed `payment_id`: simulated by editing what the consumers expect to find.
    let mut records = load_records();
    for r in &mut records {
        for e in &mut r.events {
            if e["type"] == "fooddelivery.order.v1.OrderPlaced" {
                e["fields"]["customer_ref"] = Json::String("string".into());
            }
        }
        for c in &mut r.calls {
            if c["rpc"] == "fooddelivery.order.v1.OrderService/PlaceOrder"
                && c["expect"]["code"] == "OK"
            {
                c["expect"]["fields"]["order.payment_id"] = Json::String("int64".into());
            }
        }
    }
    let failures = verify(&records, None, None).await.join("\n");
    for consumer in [
        "store",
        "notification",
        "python-client",
        "typescript-client",
    ] {
        assert!(failures.contains(&format!("{consumer} reads fooddelivery.order.v1.OrderPlaced: `fooddelivery.order.v1.OrderPlaced` has no field `customer_ref`")), "{consumer}: {failures}");
    }
    assert!(failures.contains("python-client relies on the answer of fooddelivery.order.v1.OrderService/PlaceOrder: field `order.payment_id` of fooddelivery.order.v1.PlaceOrderResponse is `string`, not `int64`"), "{failures}");
    // And a real published event that lacks a field a consumer reads.
    let mut fake = Published::new();
    let desc = pool()
        .get_message_by_name("fooddelivery.order.v1.OrderPlaced")
        .expect("OrderPlaced");
    let headers = BTreeMap::from([("ce-id".to_string(), "x".to_string())]);
    fake.insert(
        "fooddelivery.order.v1.OrderPlaced".into(),
        vec![(headers, DynamicMessage::new(desc))],
    );
    let failures = verify_events(&load_records(), &fake).join("\n");
    assert!(failures.contains("store reads `customer_id` of fooddelivery.order.v1.OrderPlaced, but none of the 1 real"), "{failures}");
    assert!(
        failures
            .contains("python-client reads header ce-type of fooddelivery.order.v1.OrderPlaced"),
        "{failures}"
    );
}

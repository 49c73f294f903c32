//! Service rules: deleted RPCs, request/response types, streaming and idempotency.

use super::*;

pub(super) fn service_pair(
    prev: &Index<'_>,
    cur: &Index<'_>,
    ps: &ServiceInfo<'_>,
    cs: &ServiceInfo<'_>,
    out: &mut Out,
) {
    let cf = cs.file;
    let sname = &cs.svc.name;
    let cur_methods: BTreeMap<&str, &Method> = cs
        .svc
        .methods
        .iter()
        .map(|m| (m.name.as_str(), m))
        .collect();
    for pm in &ps.svc.methods {
        let Some(cm) = cur_methods.get(pm.name.as_str()) else {
            out.at(
                cf,
                Some(cs.svc.span),
                "RPC_NO_DELETE",
                format!(
                    "Previously present RPC \"{}\" on service \"{sname}\" was deleted.",
                    pm.name
                ),
            );
            continue;
        };
        let mname = &cm.name;
        let stream = |b: bool| if b { "streaming" } else { "unary" };
        if pm.client_streaming != cm.client_streaming {
            out.at(
                cf,
                Some(cm.span),
                "RPC_SAME_CLIENT_STREAMING",
                format!(
                    "RPC \"{mname}\" on service \"{sname}\" changed from client {} to client {}.",
                    stream(pm.client_streaming),
                    stream(cm.client_streaming)
                ),
            );
        }
        if pm.server_streaming != cm.server_streaming {
            out.at(
                cf,
                Some(cm.span),
                "RPC_SAME_SERVER_STREAMING",
                format!(
                    "RPC \"{mname}\" on service \"{sname}\" changed from server {} to server {}.",
                    stream(pm.server_streaming),
                    stream(cm.server_streaming)
                ),
            );
        }
        let res = |ix: &Index<'_>, t: &str, scope: &str| {
            ix.resolve(t, scope)
                .map(|r| r.0)
                .unwrap_or_else(|| t.trim_start_matches('.').to_string())
        };
        let (pi, ci) = (
            res(prev, &pm.input, &ps.full_name),
            res(cur, &cm.input, &cs.full_name),
        );
        if pi != ci {
            out.at(cf, Some(cm.input_span), "RPC_SAME_REQUEST_TYPE", format!("RPC \"{mname}\" on service \"{sname}\" changed request type from \"{pi}\" to \"{ci}\"."));
        }
        let (po, co) = (
            res(prev, &pm.output, &ps.full_name),
            res(cur, &cm.output, &cs.full_name),
        );
        if po != co {
            out.at(cf, Some(cm.output_span), "RPC_SAME_RESPONSE_TYPE", format!("RPC \"{mname}\" on service \"{sname}\" changed response type from \"{po}\" to \"{co}\"."));
        }
        let idem = |m: &Method| {
            find_option(&m.options, &["idempotency_level"])
                .and_then(|o| o.value.as_ident().map(str::to_string))
                .unwrap_or_else(|| "IDEMPOTENCY_UNKNOWN".into())
        };
        let (pl, cl) = (idem(pm), idem(cm));
        if pl != cl {
            let span = find_option(&cm.options, &["idempotency_level"]).map(|o| o.span);
            out.at(cf, span, "RPC_SAME_IDEMPOTENCY_LEVEL", format!("RPC \"{mname}\" on service \"{sname}\" changed option \"idempotency_level\" from \"{pl}\" to \"{cl}\"."));
        }
    }
}

#!/usr/bin/env python3
"""Renders the Grafana dashboard's panels as a static HTML page from a real Prometheus.

Grafana itself cannot be installed on the machines this project is built on (no registry here
carries it), so `scripts/dashboard-snapshot.sh` uses this instead: every panel of
istio/observability/dashboards/fooddelivery.json, laid out by its gridPos, each target's
PromQL evaluated by Prometheus over the run (query_range; stat panels: the last value), the
legend from its legendFormat. Standard library only.

    dashboard_snapshot.py --prometheus URL --dashboard FILE --start UNIX --end UNIX --out FILE
"""

import argparse
import html
import json
import math
import re
import urllib.parse
import urllib.request

COLORS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9",
          "#fade2a", "#37872d", "#c4162a", "#1f60c4", "#8f3bb8", "#ff9830", "#96d98d"]


def substitute(expr, rate_window, range_s):
    # Grafana's variables: $__range_s before $__range (a prefix of it).
    return (expr.replace("$__rate_interval", rate_window)
            .replace("$__range_s", str(range_s)).replace("$__range", f"{range_s}s")
            .replace("$service", ".*").replace("$version", ".*"))


def query(prom, path, params):
    url = f"{prom}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit(f"{url}: {body}")
    return body["data"]["result"]


def legend(fmt, labels):
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt).strip() or "value"


def fmt_value(v, unit):
    if v is None or math.isnan(v):
        return "–"
    if unit == "percentunit":
        return f"{v * 100:.2f} %"
    if unit == "s":
        if abs(v) < 1:
            return f"{v * 1000:.1f} ms"
        return f"{v:.2f} s"
    if unit in ("reqps", "ops"):
        return f"{v:.1f}/s"
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.3g}"


def chart(series, unit, w, h, start, end):
    pad_l, pad_r, pad_t, pad_b = 64, 8, 8, 18
    pw, ph = w - pad_l - pad_r, h - pad_t - pad_b
    values = [v for _, pts in series for _, v in pts if not math.isnan(v)]
    if not values:
        return f'<div class="nodata" style="height:{h}px">No data</div>'
    lo, hi = min(0.0, min(values)), max(values)
    if hi == lo:
        hi = lo + 1
    x = lambda t: pad_l + (t - start) / (end - start) * pw
    y = lambda v: pad_t + ph - (v - lo) / (hi - lo) * ph
    out = [f'<svg width="{w}" height="{h}">']
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        out.append(f'<line x1="{pad_l}" x2="{w - pad_r}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>')
        out.append(f'<text x="{pad_l - 4}" y="{y(v) + 4:.1f}" class="axis" text-anchor="end">{html.escape(fmt_value(v, unit))}</text>')
    for i in range(5):
        t = start + (end - start) * i / 4
        label = f"+{int(t - start)} s"
        out.append(f'<text x="{x(t):.1f}" y="{h - 4}" class="axis" text-anchor="middle">{label}</text>')
    for i, (_, pts) in enumerate(series):
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts if not math.isnan(v))
        if path:
            out.append(f'<polyline points="{path}" fill="none" stroke="{COLORS[i % len(COLORS)]}" stroke-width="1.5"/>')
    out.append("</svg>")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--start", type=float, required=True)
    ap.add_argument("--end", type=float, required=True)
    ap.add_argument("--rate-window", default="10s")
    ap.add_argument("--subtitle", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    dash = json.load(open(a.dashboard))
    unit_w, unit_h = 66, 34  # pixels per grid column / row
    step = max(1, int((a.end - a.start) / 240))
    cells = []
    bottom = 0
    for p in dash["panels"]:
        g = p["gridPos"]
        left, top, w, h = g["x"] * unit_w, g["y"] * unit_h, g["w"] * unit_w - 8, g["h"] * unit_h - 8
        bottom = max(bottom, top + h + 8)
        if p["type"] == "row":
            cells.append(f'<div class="row" style="left:{left}px;top:{top}px;width:{24 * unit_w - 8}px">{html.escape(p["title"])}</div>')
            continue
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        body = ""
        if p["type"] == "stat":
            parts = []
            for t in p["targets"]:
                res = query(a.prometheus, "query", {"query": substitute(t["expr"], a.rate_window, int(a.end - a.start)), "time": a.end})
                v = float(res[0]["value"][1]) if res else float("nan")
                parts.append(f'<div class="stat">{html.escape(fmt_value(v, unit))}</div>')
            body = "".join(parts)
        else:
            series = []
            for t in p["targets"]:
                res = query(a.prometheus, "query_range", {
                    "query": substitute(t["expr"], a.rate_window, int(a.end - a.start)),
                    "start": a.start, "end": a.end, "step": step})
                for r in res:
                    pts = [(float(ts), float(v)) for ts, v in r["values"]]
                    series.append((legend(t.get("legendFormat", ""), r["metric"]), pts))
            series.sort(key=lambda s: -max((v for _, v in s[1] if not math.isnan(v)), default=0))
            body = chart(series, unit, w - 12, h - 48 - min(4, len(series)) * 14, a.start, a.end)
            items = []
            for i, (name, pts) in enumerate(series[:4]):
                last = next((v for _, v in reversed(pts) if not math.isnan(v)), float("nan"))
                items.append(f'<div class="leg"><span style="background:{COLORS[i % len(COLORS)]}"></span>{html.escape(name)}<b>{html.escape(fmt_value(last, unit))}</b></div>')
            if len(series) > 4:
                items.append(f'<div class="leg more">+ {len(series) - 4} more series</div>')
            body += "".join(items)
        cells.append(f'<div class="panel" style="left:{left}px;top:{top}px;width:{w}px;height:{h}px">'
                     f'<div class="title">{html.escape(p["title"])}</div>{body}</div>')
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(dash['title'])}</title>
<style>
body {{ margin:0; background:#111217; color:#ccccdc; font:12px/1.3 Inter,Helvetica,Arial,sans-serif; }}
header {{ padding:12px 16px; font-size:16px; color:#fff; }} header small {{ color:#8e8e9a; font-size:12px; margin-left:12px; }}
main {{ position:relative; margin:0 16px; height:{bottom}px; }}
.panel {{ position:absolute; background:#181b1f; border:1px solid #2c3235; border-radius:3px; padding:6px; box-sizing:border-box; overflow:hidden; }}
.row {{ position:absolute; color:#fff; font-size:14px; font-weight:500; padding-top:6px; }}
.title {{ color:#fff; font-weight:500; margin-bottom:4px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }}
.stat {{ font-size:34px; color:#73bf69; font-weight:500; text-align:center; margin-top:18px; }}
.grid {{ stroke:#2c3235; }} .axis {{ fill:#8e8e9a; font-size:10px; }}
.leg {{ white-space:nowrap; overflow:hidden; text-overflow:ellipsis; font-size:11px; }}
.leg span {{ display:inline-block; width:10px; height:3px; margin:0 6px 3px 0; }} .leg b {{ float:right; font-weight:400; }}
.more {{ color:#8e8e9a; }} .nodata {{ color:#8e8e9a; display:flex; align-items:center; justify-content:center; }}
</style></head><body><header>{html.escape(dash['title'])}<small>{html.escape(a.subtitle)}</small></header>
<main>{''.join(cells)}</main></body></html>"""
    with open(a.out, "w") as f:
        f.write(page)


if __name__ == "__main__":
    main()

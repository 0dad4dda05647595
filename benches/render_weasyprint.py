#!/usr/bin/env python3
"""The peer of benches/render.rs: WeasyPrint rendering an equivalent HTML agreement.

Reads pactum's DocumentData (JSON) on standard input, builds an HTML/CSS page with
the same content as sla-templates/sla.typ (title block, parties, resources and
targets tables, support, signatures, running header and footer with "Page X of
Y"), and prints p50 / p99 / mean milliseconds and bytes per document in the format
of the Rust benchmark. Called by `cargo bench --bench render -- --weasyprint`
(Python from PACTUM_BENCH_PYTHON, default python3); needs `pip install weasyprint`.

Usage: render_weasyprint.py WARM_ITERATIONS COLD_ITERATIONS < data.json
"""

import hashlib
import html
import json
import statistics
import subprocess
import sys
import time

try:
    import weasyprint
except ImportError:
    print("weasyprint: not installed (pip install weasyprint); comparison skipped")
    sys.exit(0)

CSS = """
@page {
  size: A4; margin: 27mm 21mm 25mm 21mm;
  @top-left { content: element(brand); vertical-align: bottom; }
  @top-right { content: string(ref); font-size: 8pt; color: #5b6573; vertical-align: bottom; }
  @bottom-left { content: element(footer); vertical-align: top; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 7.5pt; color: #5b6573; vertical-align: top; }
}
body { font-family: "DejaVu Serif", serif; font-size: 10pt; color: #1d232b; }
.brand { position: running(brand); font-weight: bold; color: var(--accent); font-size: 11pt; }
.footer { position: running(footer); font-size: 7.5pt; color: #5b6573; }
.ref { string-set: ref content(); display: none; }
.title { background: var(--tint); border-left: 3pt solid var(--accent); padding: 5mm 6mm; margin-bottom: 6mm; }
.title h1 { font-size: 19pt; letter-spacing: 1.2pt; color: var(--accent); margin: 0 0 1mm 0; }
.label { font-size: 7.5pt; letter-spacing: 0.9pt; font-weight: 600; color: var(--accent); text-transform: uppercase; }
h2 { font-size: 11.5pt; color: var(--accent); margin: 1.5em 0 0.75em 0; }
table { width: 100%; border-collapse: collapse; }
th { background: var(--accent); color: white; font-size: 8.5pt; text-align: left; padding: 2.2mm 3mm; }
td { padding: 2.2mm 3mm; border-bottom: 0.4pt solid #c9ced6; }
tr:nth-child(even) td { background: var(--tint); }
.num { text-align: right; font-weight: bold; }
.parties { display: flex; gap: 6mm; }
.party { flex: 1; border: 0.6pt solid #c9ced6; padding: 3.5mm 4mm; }
.signatures { display: flex; gap: 9mm; page-break-inside: avoid; }
.sig { flex: 1; }
.line { border-bottom: 0.6pt solid #1d232b; height: 9mm; }
.small { font-size: 8.5pt; color: #5b6573; }
"""


def e(value):
    return html.escape(str(value)) if value is not None else ""


def agreement_html(d):
    accent = d["brand"]["colour"]
    rows = "".join(
        f"<tr><td>{e(p['label'])}</td><td class=num>{e(p['value'])}</td><td>{e(p['unit'] or '—')}</td></tr>"
        for p in d["parameters"]
    )
    t = d["targets"]
    sigs = "".join(
        f"<div class=sig><div class=label>{e(s['role'])}</div><b>{e(s['party'])}</b>"
        "<div class=line></div><span class=small>Name</span>"
        "<div class=line></div><span class=small>Date</span>"
        "<div class=line></div><span class=small>Signature</span></div>"
        for s in d["signatories"]
    )
    contacts = "<br>".join(e(c) for c in d["support"]["contacts"])
    return f"""<!doctype html><html><head><meta charset=utf-8>
<title>SERVICE LEVEL AGREEMENT {e(d['reference'])}</title>
<style>:root {{ --accent: {accent}; --tint: color-mix(in srgb, {accent} 10%, white); }} {CSS}</style></head><body>
<div class=brand>{e(d['brand']['name'])}</div><div class=footer>{e(d['brand']['footer'])}</div>
<span class=ref>SERVICE LEVEL AGREEMENT · {e(d['reference'])} · Version {d['version']}</span>
<div class=title><h1>SERVICE LEVEL AGREEMENT</h1><div>{e(d['title'] or d['service']['name'])}</div>
<p><span class=label>Reference</span> <b>{e(d['reference'])}</b> &nbsp; <span class=label>Version</span> {d['version']}
&nbsp; <span class=label>Issued</span> {e(d['issued_on'])} &nbsp; <span class=label>Service</span> {e(d['service']['name'])}<br>
<span class=label>Agreement</span> <code>{e(d['agreement_id'])}</code><br><span class=label>Order</span> <code>{e(d['order_id'])}</code></p></div>
<p>This Service Level Agreement (the <i>Agreement</i>) is made between the parties below. It sets out the service
the Provider delivers to the Customer, the resources committed to it, the period of validity and the service levels
the Provider undertakes to meet.</p>
<h2>1. Parties</h2><div class=parties>
<div class=party><div class=label>Provider</div><b>{e(d['issuer']['name'])}</b><br><span class=small>{e(d['issuer']['contact'])}</span></div>
<div class=party><div class=label>Customer</div><b>{e(d['customer']['name'])}</b><br><span class=small>{e(d['customer']['contact'])}</span></div></div>
<h2>2. Service</h2><p><b>{e(d['service']['name'])}</b> ({e(d['service']['group'])}). {e(d['service']['description'])}</p>
<h2>3. Committed resources</h2><table><tr><th>Resource</th><th>Value</th><th>Unit</th></tr>{rows}</table>
<h2>4. Period of validity</h2><p>The agreement is valid from <b>{e(d['validity']['start'])}</b> to <b>{e(d['validity']['end'])}</b>
inclusive ({d['validity']['days']} days). Resources are committed for this period only.</p>
<h2>5. Service level targets</h2><table><tr><th>Service level target</th><th>Commitment</th><th>Measurement period</th></tr>
<tr><td>Availability</td><td class=num>≥ {e(t['availability_pct'])} %</td><td>{e(t['period'])}</td></tr>
<tr><td>Reliability</td><td class=num>≥ {e(t['reliability_pct'])} %</td><td>{e(t['period'])}</td></tr></table>
<p class=small>Availability is the share of the period during which the service was up, leaving out intervals whose status is
unknown; reliability also leaves out scheduled downtime.</p>
<h2>6. Support</h2><p><span class=label>Support level</span> {e(d['support']['level'])}<br>
<span class=label>Response time</span> {e(d['support']['response_time'])}<br><span class=label>Contacts</span> {contacts}</p>
<h2>7. Signatures</h2><div class=signatures>{sigs}</div>
</body></html>"""


def render(document_html):
    return weasyprint.HTML(string=document_html).write_pdf()


def report(name, times, sizes):
    times = sorted(times)
    n = len(times)
    p50 = times[n // 2] * 1000
    p99 = times[min(n - 1, max(0, -(-n * 99 // 100) - 1))] * 1000
    mean = statistics.fmean(times) * 1000
    size = sum(sizes) // max(1, len(sizes))
    print(f"{name:<24} n={n:<4} p50 {p50:>7.2f} ms  p99 {p99:>7.2f} ms  mean {mean:>7.2f} ms  {size:>7} bytes/doc  ({1000 / p50:.0f} docs/s at p50)")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--once":
        data = json.load(sys.stdin)
        document_html = agreement_html(data)
        start = time.perf_counter()
        pdf = render(document_html)
        print(json.dumps({"seconds": time.perf_counter() - start, "bytes": len(pdf)}))
        return
    warm, cold = int(sys.argv[1]), int(sys.argv[2])
    raw = sys.stdin.read()
    data = json.loads(raw)
    document_html = agreement_html(data)

    times, sizes = [], []
    for _ in range(cold):
        out = subprocess.run([sys.executable, __file__, "--once"], input=raw, capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)
        times.append(result["seconds"])
        sizes.append(result["bytes"])
    if cold:
        report("weasyprint cold (1st)", times, sizes)

    for _ in range(5):
        render(document_html)
    times, sizes, digests = [], [], set()
    for _ in range(warm):
        start = time.perf_counter()
        pdf = render(document_html)
        times.append(time.perf_counter() - start)
        sizes.append(len(pdf))
        digests.add(hashlib.sha256(pdf).hexdigest())
    report(f"weasyprint {weasyprint.__version__} warm", times, sizes)
    print(f"weasyprint: {len(digests)} distinct PDFs from {warm} renders of the same data")


if __name__ == "__main__":
    main()

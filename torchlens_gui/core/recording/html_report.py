"""One self-contained HTML page of a run, to attach to a bug report or a pull request.

Everything is inside the file: the style, the charts as PNG data URIs, the source excerpts. It
opens in any browser without network access and runs no script.
"""

from __future__ import annotations

import base64
import html
import os
from typing import Optional

from .charts import report_charts
from .events import Diagnostic, RunStatus
from .record import RunRecord
from .report import _flags, _fmt

EXCERPT_LINES = 3  # lines of source shown on each side of a diagnostic's line
STATUS_TEXT = {RunStatus.OK: "no problems found", RunStatus.PROBLEMS: "problems found",
               RunStatus.FAILED: "could not load, build or run", RunStatus.STOPPED: "stopped"}

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;
color:#222;line-height:1.4}
h1{font-size:1.4em;margin-bottom:4px} h2{font-size:1.15em;margin-top:28px;
border-bottom:1px solid #ddd;padding-bottom:3px}
.summary{font-size:1.05em;padding:8px 12px;border-radius:4px;background:#eef5ee}
.summary.problems,.summary.failed{background:#fde8e8}
.env{color:#555;font-size:.9em}
.diag{border:1px solid #ddd;border-left:5px solid #c00;border-radius:4px;padding:8px 12px;
margin:10px 0}
.diag.warning{border-left-color:#e0a000} .diag.info{border-left-color:#3a7bd5}
.code{font-weight:bold} .fix{color:#17612b} .where{color:#555}
pre.src{background:#f7f7f7;border:1px solid #e5e5e5;padding:6px;overflow-x:auto;margin:6px 0}
pre.src .hit{background:#ffd0d0;display:inline-block;min-width:100%}
table{border-collapse:collapse;font-size:.88em;width:100%}
th,td{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0} td.num{text-align:right}
tr.bad td{background:#fde8e8}
figure{margin:12px 0} figcaption{color:#555;font-size:.9em}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def summary_line(record: RunRecord) -> str:
    """"problems found: 1 error, 0 warnings · 7 modules, 7 calls · loss 0.42 · cpu · 1.2 s"."""
    errors = sum(1 for d in record.diagnostics if d.severity == "error")
    warnings = sum(1 for d in record.diagnostics if d.severity == "warning")
    parts = [f"{STATUS_TEXT.get(record.status or '', record.status or 'unfinished')}: "
             f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}",
             f"{len(record.nodes)} modules, {len(record.calls)} calls"]
    if record.loss is not None:
        parts.append(f"loss {_fmt(record.loss.value)}"
                     + (" (surrogate)" if record.loss.surrogate else ""))
    parts.append(record.device or "?")
    parts.append(f"{record.elapsed_s:.2f} s")
    return " · ".join(parts)


def _source_text(record: RunRecord, file: str) -> Optional[str]:
    if record.snapshot is not None and file in record.snapshot.sources:
        return record.snapshot.sources[file]
    try:
        with open(file, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _excerpt(record: RunRecord, d: Diagnostic) -> str:
    if not d.file or not d.line:
        return ""
    text = _source_text(record, d.file)
    if text is None:
        return ""
    lines = text.splitlines()
    first, last = max(1, d.line - EXCERPT_LINES), min(len(lines), d.line + EXCERPT_LINES)
    rows = []
    for number in range(first, last + 1):
        row = f"{number:>5}  {_e(lines[number - 1])}"
        rows.append(f"<span class='hit'>{row}</span>" if number == d.line else row)
    return f"<pre class='src'>{chr(10).join(rows)}</pre>"


def _diagnostic(record: RunRecord, d: Diagnostic) -> str:
    where = " · ".join(x for x in (
        str(d.phase), d.module if d.module else "",
        f"{os.path.basename(d.file)}:{d.line}" if d.file and d.line else "") if x)
    fix = f"<div class='fix'><b>Fix:</b> {_e(d.fix)}</div>" if d.fix else ""
    return (f"<div class='diag {_e(d.severity)}'><span class='code'>[{_e(d.severity)}] "
            f"{_e(d.code)}</span> <span class='where'>{_e(where)}</span>"
            f"<div>{_e(d.message)}</div>{fix}{_excerpt(record, d)}</div>")


def _module_rows(record: RunRecord) -> str:
    rows = []
    for path, node in record.nodes.items():
        calls = record.calls_of(path)
        out = calls[0].outputs[0] if calls and calls[0].outputs else None
        flags = _flags([s for call in calls for s in call.outputs])
        label = "&nbsp;" * 2 * node.depth + _e(path.rsplit(".", 1)[-1] if path else "(root)")
        rows.append(
            f"<tr{' class=bad' if flags else ''}><td title='{_e(path)}'>{label}</td>"
            f"<td>{_e(node.type_name)}</td><td class=num>{len(calls)}</td>"
            f"<td>{_e(out.shape_text() if out else '-')}</td>"
            f"<td>{_e(out.dtype or '-' if out else '-')}</td><td>{_e(flags)}</td>"
            f"<td class=num>{_e(_fmt(record.grad_norm(path)))}</td></tr>")
    return "\n".join(rows)


def _environment(record: RunRecord) -> str:
    if record.snapshot is None:
        from .environment import environment_block

        env = environment_block()
    else:
        env = record.snapshot.environment
    devices = ", ".join(env.get("devices") or ()) or "no CUDA device"
    command = " ".join(env.get("command") or ())
    return (f"<p class='env'>Recorded on {_e(env.get('host', '?'))} at {_e(env.get('time', '?'))}"
            f" · Python {_e(env.get('python', '?'))} · torch {_e(env.get('torch', '?'))}"
            f" · CUDA {_e(env.get('cuda') or 'none')} ({_e(devices)})"
            f" · torchlens-gui {_e(env.get('torchlens_gui', '?'))}"
            + (f"<br>Command: <code>{_e(command)}</code>" if command else "") + "</p>")


def html_report(record: RunRecord) -> str:
    """The report page of ``record`` as a string."""
    name = os.path.basename(record.file) if record.file else "live model"
    status = _e(record.status or "")
    diagnostics = "".join(_diagnostic(record, d) for d in record.diagnostics) or \
        "<p>No problems found.</p>"
    figures = "".join(
        f"<figure><img alt='{_e(chart.title)}' src='data:image/png;base64,"
        f"{base64.b64encode(chart.png).decode('ascii')}'>"
        f"<figcaption>{_e(chart.caption)}</figcaption></figure>"
        for chart in report_charts(record)) or "<p>Nothing to plot: no gradients recorded and " \
        "no NaN/Inf.</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_e(name)} — torchlens-gui report</title>
<style>{_STYLE}</style></head><body>
<h1>{_e(name)} — torchlens-gui report</h1>
<p class="summary {status}">{_e(summary_line(record))}</p>
{_environment(record)}
<h2>Diagnostics ({len(record.diagnostics)})</h2>
{diagnostics}
<h2>Charts</h2>
{figures}
<h2>Modules ({len(record.nodes)})</h2>
<table><thead><tr><th>module</th><th>type</th><th>calls</th><th>output shape</th><th>dtype</th>
<th>NaN/Inf</th><th>grad norm</th></tr></thead><tbody>
{_module_rows(record)}
</tbody></table>
</body></html>
"""


def write_html_report(record: RunRecord, path: str) -> None:
    """Write the report page to ``path``; raises OSError when it cannot be written."""
    text = html_report(record)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)

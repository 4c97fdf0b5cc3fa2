"""The HTML report: one self-contained page that parses and holds the diagnostics (with fixes
and source excerpts), the module table and the charts as embedded PNGs."""

from __future__ import annotations

import base64
import subprocess
import sys
from html.parser import HTMLParser

from case_tools import case_path, marker_line
from torchlens_gui.core.engine.session import Session
from torchlens_gui.core.recording.charts import loss_chart, report_charts
from torchlens_gui.core.recording.html_report import html_report, summary_line

PNG = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Collects what the tests look at; fails on unbalanced structure tags."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.external: list[str] = []
        self.scripts = 0
        self.rows = 0
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("div", "table", "tbody", "tr", "pre", "figure", "p", "h1", "h2"):
            self.open.append(tag)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "script":
            self.scripts += 1
        if tag == "tr" and self.open.count("tbody"):
            self.rows += 1
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])

    def handle_endtag(self, tag):
        if tag in ("div", "table", "tbody", "tr", "pre", "figure", "p", "h1", "h2"):
            assert self.open and self.open[-1] == tag, (tag, self.open[-5:])
            self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert page.open == []
    return page


def test_the_page_holds_diagnostics_fix_source_table_and_images():
    record = Session(case_path("snap_conv_nan"), device="cpu", histograms=True).run()
    page = parse(html_report(record))
    text = "".join(page.text)
    diagnostic = next(d for d in record.diagnostics if d.code == "non-finite")
    assert "non-finite" in text and diagnostic.message in text and diagnostic.fix in text
    line = marker_line(case_path("snap_conv_nan"), "non-finite")
    assert f"{line:>5}  " + "        return x / x.sum(dim=(2, 3), keepdim=True)" in text
    assert summary_line(record) in text and "problems found: 1 error" in text
    assert page.rows == len(record.nodes)  # one row per module
    # The gradient-norm and NaN/Inf charts, embedded as PNGs; nothing from the network.
    assert len(page.images) == 2
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG
    assert page.external == [] and page.scripts == 0


def test_a_clean_run_has_a_gradient_chart_and_no_nan_chart():
    record = Session(case_path("diag_clean_resnet"), device="cpu", histograms=True).run()
    charts = report_charts(record)
    assert [c.title for c in charts] == ["Gradient norms"]
    assert "No problems found." in "".join(parse(html_report(record)).text)


def test_a_training_run_gets_its_loss_curve():
    from torchlens_gui.core.engine.training_session import TrainingSession

    record = TrainingSession(case_path("train_contract"), steps=3, device="cpu",
                             histograms=True).run()
    assert len(record.steps) == 3
    chart = loss_chart(record)
    assert chart is not None and chart.png[:8] == PNG and "3 steps" in chart.caption
    page = parse(html_report(record))
    assert any(c.title == "Loss" for c in report_charts(record))
    assert len(page.images) == len(report_charts(record))


def test_check_html_writes_the_page_and_an_unwritable_path_exits_2(tmp_path):
    out = tmp_path / "report.html"
    ok = subprocess.run([sys.executable, "-m", "torchlens_gui", "check", case_path("diag_nan_log"),
                         "--device", "cpu", "--html", str(out)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 1 and f"report written to {out}" in ok.stderr
    assert "non-finite" in "".join(parse(out.read_text(encoding="utf-8")).text)
    blocked = tmp_path / "file"
    blocked.write_text("")
    bad = subprocess.run([sys.executable, "-m", "torchlens_gui", "check",
                          case_path("diag_nan_log"), "--device", "cpu", "--html",
                          str(blocked / "report.html")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "cannot write report" in bad.stderr and "Not a directory" in bad.stderr

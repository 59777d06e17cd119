"""Report documents: Markdown tables, escaping, and a self-contained HTML file."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from accord.reports.document import Figure, Section, Table, write_report


def test_markdown_table_formats_and_escapes() -> None:
    table = Table(pd.DataFrame({"metric": ["a|b"], "value": [0.12345], "n": [3]}))
    lines = table.markdown().splitlines()
    assert lines[0] == "| metric | value | n |"
    assert lines[2] == "| a\\|b | 0.123 | 3 |"


def test_html_is_self_contained(tmp_path: Path) -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    figure = Figure.from_matplotlib(fig, "line", caption="a <line>")
    section = Section("Results").text("Value is **high** and `code`.").figure(figure)
    section.table(pd.DataFrame({"x": ["<b>"]}))
    md_path, html_path = write_report(tmp_path, "T & T", [section])

    html_text = html_path.read_text(encoding="utf-8")
    assert "<title>T &amp; T</title>" in html_text
    assert "<strong>high</strong>" in html_text and "<code>code</code>" in html_text
    assert "&lt;b&gt;" in html_text and "<b>" not in html_text.replace("<body>", "")
    encoded = html_text.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(encoded) == figure.png
    assert figure.png.startswith(b"\x89PNG")
    assert "src=\"figures/" not in html_text

    md_text = md_path.read_text(encoding="utf-8")
    assert "![a <line>](figures/report-line.png)" in md_text
    assert (tmp_path / "figures" / "report-line.png").read_bytes() == figure.png

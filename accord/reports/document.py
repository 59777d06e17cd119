"""Report documents: sections of prose, tables and figures, written as Markdown and HTML.

Every part of accord that reports something (meta-evaluation, rankings, judge audits,
significance, training) builds :class:`Section` objects; :func:`write_report` writes them to
``report.md`` (figures as PNG files beside it) and a self-contained ``report.html`` (figures
inlined as base64 PNG), so one file can be mailed or committed.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

logger = logging.getLogger(__name__)


@dataclass
class Figure:
    """A rendered plot: PNG bytes, a file stem and a caption."""

    name: str
    png: bytes
    caption: str = ""

    @classmethod
    def from_matplotlib(cls, fig: MplFigure, name: str, caption: str = "") -> Figure:
        """Render a matplotlib figure to PNG (dpi 110) and close it."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        return cls(name=name, png=buffer.getvalue(), caption=caption)


@dataclass
class Table:
    """A table with a caption; numbers are formatted with ``float_format``."""

    frame: pd.DataFrame
    caption: str = ""
    float_format: str = "{:.3f}"

    def _formatted(self) -> pd.DataFrame:
        def fmt(value: Any) -> str:
            if isinstance(value, float):
                return "" if pd.isna(value) else self.float_format.format(value)
            return str(value)

        return self.frame.map(fmt)

    def markdown(self) -> str:
        frame = self._formatted()
        header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
        rule = "|" + "|".join("---" for _ in frame.columns) + "|"
        rows = [
            "| " + " | ".join(v.replace("|", "\\|") for v in row) + " |"
            for row in frame.itertuples(index=False)
        ]
        caption = f"{self.caption}\n\n" if self.caption else ""
        return caption + "\n".join([header, rule, *rows])

    def html(self) -> str:
        frame = self._formatted()
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
            for row in frame.itertuples(index=False)
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass
class Section:
    """A titled part of a report: paragraphs (Markdown-light text), tables and figures.

    ``blocks`` keeps their order; add to it with :meth:`text`, :meth:`table` and
    :meth:`figure`.
    """

    title: str
    blocks: list[str | Table | Figure] = field(default_factory=list)

    def text(self, paragraph: str) -> Section:
        self.blocks.append(paragraph)
        return self

    def table(self, frame: pd.DataFrame, caption: str = "", float_format: str = "{:.3f}",
              ) -> Section:
        self.blocks.append(Table(frame, caption, float_format))
        return self

    def figure(self, figure: Figure) -> Section:
        self.blocks.append(figure)
        return self


_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def _inline_html(text: str) -> str:
    escaped = html.escape(text)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return _BOLD.sub(r"<strong>\1</strong>", escaped)


def _paragraph_html(text: str) -> str:
    lines = text.strip().splitlines()
    if lines and all(line.lstrip().startswith(("- ", "* ")) for line in lines):
        items = "".join(f"<li>{_inline_html(line.lstrip()[2:])}</li>" for line in lines)
        return f"<ul>{items}</ul>"
    return f"<p>{_inline_html(' '.join(lines))}</p>"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
caption { text-align: left; font-style: italic; padding: 4px 0; }
figure { margin: 1em 0; } figcaption { font-style: italic; font-size: 0.9em; }
img { max-width: 100%; }
code { background: #f5f5f5; padding: 0 3px; }
"""


def write_report(out_dir: str | Path, title: str, sections: Sequence[Section],
                 stem: str = "report") -> tuple[Path, Path]:
    """Write ``{stem}.md`` (with PNGs under ``figures/``) and a self-contained ``{stem}.html``.

    Returns the paths of the Markdown and HTML files.
    """
    out = Path(out_dir)
    figures_dir = out / "figures"
    out.mkdir(parents=True, exist_ok=True)

    md: list[str] = [f"# {title}", ""]
    body: list[str] = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        md += [f"## {section.title}", ""]
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, str):
                md += [block.strip(), ""]
                body.append(_paragraph_html(block))
            elif isinstance(block, Table):
                md += [block.markdown(), ""]
                body.append(block.html())
            else:
                figures_dir.mkdir(exist_ok=True)
                file_name = f"{stem}-{block.name}.png"
                (figures_dir / file_name).write_bytes(block.png)
                md += [f"![{block.caption or block.name}](figures/{file_name})", ""]
                if block.caption:
                    md += [f"*{block.caption}*", ""]
                data = base64.b64encode(block.png).decode("ascii")
                caption = html.escape(block.caption)
                body.append(
                    f'<figure><img alt="{html.escape(block.name)}" '
                    f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption>'
                    "</figure>"
                )
    md_path = out / f"{stem}.md"
    html_path = out / f"{stem}.html"
    md_path.write_text("\n".join(md), encoding="utf-8")
    html_path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(body) + "</body></html>",
        encoding="utf-8",
    )
    logger.info("wrote %s and %s", md_path, html_path)
    return md_path, html_path

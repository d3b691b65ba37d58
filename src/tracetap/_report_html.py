"""The HTML of ``tracetap report``: escaping, the page skeleton with its
Content-Security-Policy, the inline style and script, and table helpers.

Every recorded string is hostile (file names, qualnames, argv, thread
names may hold markup, quotes, control characters or undecodable bytes):
text reaches the page only through ``esc`` and data reaches the script only
through ``json_block``. The script and style are constants here (about
3 KB, no package data to install); the policy allows exactly them, by hash,
so even a string that escaped escaping could not run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ._text import printable

__all__ = ["Col", "esc", "heat", "json_block", "page", "table", "td"]

def esc(value: object) -> str:
    """`value` as HTML text: the text rule of every output
    (_text.printable: controls, newlines and tabs included, bidi overrides
    and undecodable bytes as ``\\xNN``/``\\uNNNN``), then markup and quotes
    escaped, so nothing recorded can become markup, vanish or look like
    something else."""
    return html.escape(printable(value), quote=True)


def json_block(element_id: str, data: Any) -> str:
    """A ``<script type="application/json">`` element holding `data`: ASCII
    JSON with <, > and & as \\u escapes, so no recorded string can close
    the element or open a comment; read with JSON.parse(textContent)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    text = (text.replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))
    return (f'<script type="application/json" id="{esc(element_id)}">'
            f"{text}</script>")


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fff}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.4em 0}
td,th{padding:1px 8px;text-align:left;vertical-align:top}
th{background:#eee;white-space:nowrap}
td.r,th.r{text-align:right}
table.sortable th{cursor:pointer}
table.sortable th.asc::after{content:" \\25B2"}
table.sortable th.desc::after{content:" \\25BC"}
tr:nth-child(even) td{background-color:#fafafa}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 12px}
dl.kv dt{font-weight:600}dl.kv dd{margin:0}
.note{color:#7a4b00}.bad{color:#b00020;font-weight:600}.ok{color:#1b6e20}
.muted{color:#777}
code,pre,.src{font-family:ui-monospace,monospace;font-size:13px}
h1 code{font-size:inherit}
table.src td{padding:0 6px;white-space:pre;tab-size:8}
table.src td.n a{color:#888;text-decoration:none}
table.src tr.miss td{background-color:#fdd}
table.src tr.miss td.n{border-left:4px solid #d00}
table.src tr.ran td.n{border-left:4px solid #4a4}
table.src tr:target td{outline:2px solid #36c}
.h1{background-color:#fff6d5!important}.h2{background-color:#ffeaa8!important}
.h3{background-color:#ffd97a!important}.h4{background-color:#ffc04d!important}
.h5{background-color:#ffa030!important}.h6{background-color:#ff7a1f!important}
.h7{background-color:#f0501a!important;color:#fff}
.h8{background-color:#c8200f!important;color:#fff}
.o1{background-color:#e8f0ff!important}.o2{background-color:#cddcff!important}
.o3{background-color:#b0c8ff!important}.o4{background-color:#8eb0ff!important}
.o5{background-color:#6f96f5!important}.o6{background-color:#4f7ae8!important;color:#fff}
.o7{background-color:#3560d0!important;color:#fff}
.o8{background-color:#1d44ae!important;color:#fff}
iframe.flame{width:100%;box-sizing:border-box;border:1px solid #ccc}
td.where{word-break:break-all}
svg.timeline text{font-size:12px}
"""

SCRIPT = """
(function () {
  "use strict";
  function key(cell, num) {
    var v = cell.getAttribute("data-v");
    if (v === null) v = cell.textContent;
    return num ? parseFloat(v) : v.toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.title = "sort by this column";
      th.addEventListener("click", function () {
        var num = th.hasAttribute("data-num");
        var desc = th.classList.contains("asc") ||
          (num && !th.classList.contains("desc"));
        Array.prototype.forEach.call(heads, function (h) {
          h.classList.remove("asc", "desc");
        });
        th.classList.add(desc ? "desc" : "asc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col], num), y = key(b.cells[col], num);
          var c = x < y ? -1 : x > y ? 1 : 0;
          return desc ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


# The page may run SCRIPT, apply STYLE, show data: images and frame the
# flame graph next to it; nothing else, and nothing from the network.
CSP = ("default-src 'none'; "
       f"script-src '{_sha256(SCRIPT)}'; style-src '{_sha256(STYLE)}'; "
       "img-src data:; frame-src 'self'; base-uri 'none'; form-action 'none'")


def page(title: str, body: str, *, data: Any = None) -> str:
    """A whole HTML document: the policy, STYLE, `body` (already HTML) and
    SCRIPT; `data` goes into the JSON block #tracetap-data."""
    block = json_block("tracetap-data", data) if data is not None else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width">\n'
        '<meta name="generator" content="tracetap report">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n{block}\n<script>{SCRIPT}</script>\n</body></html>\n")


def heat(value: float, top: float, prefix: str = "h") -> str:
    """The heat class of `value` on a log scale up to `top`: "" for
    nothing, then prefix + 1..8."""
    import math

    if value <= 0 or top <= 0:
        return ""
    level = math.ceil(8 * math.log1p(value) / math.log1p(top))
    return f"{prefix}{min(max(level, 1), 8)}"


class Col:
    """A table column: its header, whether it is numeric (sorted as a
    number, right-aligned) and an optional tooltip."""

    def __init__(self, head: str, num: bool = False, tip: str = "") -> None:
        self.head, self.num, self.tip = head, num, tip


def _th(c: Col) -> str:
    num = ' class="r" data-num' if c.num else ""
    tip = f' title="{esc(c.tip)}"' if c.tip else ""
    return f"<th{num}{tip}>{esc(c.head)}</th>"


def table(cols: Sequence[Col], rows: Iterable[Sequence[str]], *,
          sortable: bool = True, table_id: str = "", css: str = "",
          row_attrs: Iterable[str] | None = None) -> str:
    """A table: `rows` hold cells already rendered as ``<td>`` elements
    (``td`` below); `row_attrs` optional attributes per row."""
    heads = "".join(_th(c) for c in cols)
    ident = f' id="{esc(table_id)}"' if table_id else ""
    classes = " ".join(c for c in ("sortable" if sortable else "", css) if c)
    cls = f' class="{classes}"' if classes else ""
    attrs = iter(row_attrs) if row_attrs is not None else None
    body = []
    for r in rows:
        a = next(attrs) if attrs is not None else ""
        body.append(f"<tr{a}>{''.join(r)}</tr>")
    return (f"<table{ident}{cls}><thead><tr>{heads}</tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody></table>")


def td(text: object, *, v: float | None = None, cls: str = "",
       html_text: str | None = None) -> str:
    """A cell: `text` escaped (or `html_text` as is), `v` the number it
    sorts by, `cls` its classes."""
    inner = html_text if html_text is not None else esc(text)
    attr = f' data-v="{v}"' if v is not None else ""
    klass = f' class="{cls}"' if cls else ""
    return f"<td{klass}{attr}>{inner}</td>"

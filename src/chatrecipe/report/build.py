"""Build the report: one self-contained HTML page (plus Markdown and JSON) for one run or several side by side.

Run as: `chatrecipe report runs/demo` or `chatrecipe report --leaderboard runs/*`.

Self-contained means no network at view time: plots are inlined as base64 PNG, tables sort with a few lines of
inline JavaScript, styles are inline. Every section keeps its provenance (judge, prompts, parameters, dates) and
its warnings right under its numbers.
"""

from __future__ import annotations

import base64
import html
import json
import os
import time
from pathlib import Path

from chatrecipe.report.run_folder import read_json, run_sections, run_summary
from chatrecipe.report.sections.summary import summary_section

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7fb}
header{background:#1d2330;color:#fff;padding:18px 24px}header h1{margin:0;font-size:1.4rem}
header p{margin:4px 0 0;color:#c7cbe0;font-size:.9rem}main{max-width:1180px;margin:0 auto;padding:12px}
nav{font-size:.85rem;margin:8px 0}nav a{margin-right:10px;color:#3451b2}
section{background:#fff;border-radius:8px;padding:14px 18px;margin:14px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:1.15rem;margin:0 0 8px}h3{font-size:.95rem;margin:14px 0 6px;color:#3a4160}
.tablewrap{overflow-x:auto}table{border-collapse:collapse;font-size:.85rem;margin:4px 0 8px}
th,td{border-bottom:1px solid #e3e6ef;padding:4px 10px;text-align:left;white-space:nowrap}
th{background:#eef0f7;cursor:pointer;user-select:none}th:after{content:" \\2195";color:#9aa}
td.num{text-align:right;font-variant-numeric:tabular-nums}.plots{display:flex;flex-wrap:wrap;gap:12px}
.plots figure{margin:0;flex:1 1 360px;max-width:560px}.plots img{width:100%;height:auto;border:1px solid #e3e6ef}
figcaption{font-size:.75rem;color:#667}.warn{background:#fff4e0;border-left:4px solid #e8a317;padding:6px 10px;
margin:6px 0;font-size:.88rem}details{font-size:.8rem;color:#556;margin-top:6px}pre{white-space:pre-wrap;
font-size:.78rem}.note{font-size:.8rem;color:#667}
@media (max-width:640px){main{padding:4px}section{padding:10px}th,td{padding:3px 6px}}
"""

SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){
var table=th.closest('table'),body=table.tBodies[0],index=Array.prototype.indexOf.call(th.parentNode.children,th);
var asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';
var rows=Array.prototype.slice.call(body.rows);rows.sort(function(a,b){
var x=a.cells[index].dataset.v||a.cells[index].textContent,y=b.cells[index].dataset.v||b.cells[index].textContent;
var nx=parseFloat(x),ny=parseFloat(y);var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});
rows.forEach(function(r){body.appendChild(r);});});});
"""


def _is_number(value) -> bool:
    try:
        float(str(value).split(" ")[0].rstrip("%"))
        return True
    except ValueError:
        return False


def _table_html(table: dict) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.get("columns", []))
    rows = []
    for row in table.get("rows", []):
        cells = []
        for value in row:
            if isinstance(value, dict) and "href" in value:  # a link cell: {"text", "href"}
                cells.append(f'<td><a href="{html.escape(value["href"], quote=True)}">'
                             f'{html.escape(str(value["text"]))}</a></td>')
                continue
            text = html.escape("" if value is None else str(value))
            cls = ' class="num"' if _is_number(value) else ""
            cells.append(f"<td{cls}>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<h3>{html.escape(table['title'])}</h3>" if table.get("title") else ""
    note = f'<p class="note">{html.escape(table["note"])}</p>' if table.get("note") else ""
    return (f'{title}<div class="tablewrap"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{note}')


def _image_html(path: Path, caption: str) -> str:
    if not path.is_file():
        return f'<p class="warn">missing plot: {html.escape(str(path))}</p>'
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _section_html(section: dict, base: Path, anchor: str, link_prefix: str = "") -> str:
    parts = [f'<section id="{anchor}"><h2>{html.escape(section.get("title", "Untitled"))}</h2>']
    for warning in section.get("warnings") or []:
        parts.append(f'<div class="warn">&#9888; {html.escape(warning)}</div>')
    if section.get("text"):
        parts.append(f"<p>{html.escape(section['text'])}</p>")
    for link in section.get("links") or []:  # "#elo" points into the same run's sections
        href = "#" + link_prefix + link["href"][1:] if link["href"].startswith("#") else link["href"]
        parts.append(f'<p class="note">See: <a href="{html.escape(href, quote=True)}">'
                     f'{html.escape(link["text"])}</a></p>')
    for table in section.get("tables") or []:
        parts.append(_table_html(table))
    plots = section.get("plots") or []
    if plots:
        parts.append('<div class="plots">' + "".join(_image_html(base / p, Path(p).stem.replace("_", " "))
                                                     for p in plots) + "</div>")
    if section.get("provenance"):
        prov = html.escape(json.dumps(section["provenance"], indent=1, default=str))
        parts.append(f"<details><summary>Provenance</summary><pre>{prov}</pre></details>")
    parts.append("</section>")
    return "".join(parts)


def _markdown_cell(value) -> str:
    if isinstance(value, dict) and "href" in value:
        return f"[{value['text']}]({value['href']})"
    return "" if value is None else str(value)


def _section_markdown(section: dict, plot_prefix: str = "../") -> str:
    lines = [f"## {section.get('title', 'Untitled')}", ""]
    lines += [f"> **Warning:** {w}" for w in section.get("warnings") or []]
    if section.get("text"):
        lines += [section["text"], ""]
    for table in section.get("tables") or []:
        if table.get("title"):
            lines += [f"### {table['title']}", ""]
        columns = [str(c) for c in table.get("columns", [])]
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        lines += ["| " + " | ".join(_markdown_cell(v) for v in row) + " |" for row in table.get("rows", [])]
        lines.append("")
    lines += [f"See: [{link['text']}]({link['href']})" for link in section.get("links") or []]
    lines += [f"![{Path(p).stem}]({plot_prefix}{p})" for p in section.get("plots") or []]
    return "\n".join(lines) + "\n"


def write_section_files(section: dict, out_dir: Path, stem: str) -> list[Path]:
    """One section as the files people and tools open: `<stem>.json`, `<stem>.md` and a CSV per table (its plots
    are PNGs in `out_dir` already); what `chatrecipe eval ... --out DIR` leaves behind."""
    import csv

    out_dir = Path(out_dir)
    section = {**section, "plots": [Path(p).name for p in section.get("plots") or []]}
    written = [out_dir / f"{stem}.json", out_dir / f"{stem}.md"]
    written[0].write_text(json.dumps(section, indent=1, default=str), encoding="utf-8")
    written[1].write_text(_section_markdown(section, plot_prefix=""), encoding="utf-8")
    for number, table in enumerate(section.get("tables") or [], start=1):
        path = out_dir / f"{stem}-table{number}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.get("columns", []))
            writer.writerows(table.get("rows", []))
        written.append(path)
    return written + [out_dir / p for p in section["plots"]]


def _page(title: str, subtitle: str, body: list[str], nav: list[tuple[str, str]], refresh: int | None) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    links = "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in nav)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">{meta}'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header><main>"
            f"<nav>{links}</nav>{''.join(body)}</main><script>{SORT_SCRIPT}</script></body></html>")


def leaderboard_table(summaries: list[dict], link_prefix: str | None = None) -> dict:
    """One row per (run, model) with every metric any run has, each with its interval."""
    metrics: list[str] = []
    for summary in summaries:
        for values in summary["models"].values():
            metrics += [k for k in values if k not in metrics]
    rows = []
    for summary in summaries:
        for model, values in summary["models"].items():
            cells = []
            for metric in metrics:
                value = values.get(metric)
                if isinstance(value, dict):
                    low, high = value.get("ci_low"), value.get("ci_high")
                    text = f"{value.get('value'):.4g}" if isinstance(value.get("value"), (int, float)) else ""
                    if isinstance(low, (int, float)) and isinstance(high, (int, float)):
                        text += f" [{low:.4g}, {high:.4g}]"
                    cells.append(text)
                else:
                    cells.append("" if value is None else (f"{value:.4g}" if isinstance(value, float) else value))
            rows.append([summary["run"], model, *cells])
    return {"title": "Leaderboard", "columns": ["run", "model", *metrics], "rows": rows,
            "note": "Intervals are 95% (bootstrap or Wilson) as computed by each evaluation."}


def _sweep_section(summaries: list[dict], output: Path) -> dict | None:
    """Score against the swept value (e.g. dataset size) and, when the runs' data differ in it, against the
    average prompt length of their SFT data: the recipe's two ablation plots."""
    from chatrecipe.report.plots import series_plot

    swept = [s for s in summaries if s.get("sweep")]
    if not swept:
        return None
    key = swept[0]["sweep"]["sweep_key"]
    axes = {key: lambda s: s["sweep"]["sweep_value"]}
    if len({s.get("mean_prompt_tokens") for s in swept}) > 1 and all(s.get("mean_prompt_tokens") for s in swept):
        axes["average prompt length (tokens)"] = lambda s: s["mean_prompt_tokens"]
    plots = []
    for xlabel, x_of in axes.items():
        series: dict = {}
        for s in swept:
            for model, values in s["models"].items():
                for metric, v in values.items():
                    if isinstance(v, dict) and isinstance(v.get("value"), (int, float)):
                        series.setdefault((model, metric), []).append((x_of(s), v["value"]))
        suffix = "" if xlabel == key else "_vs_prompt_length"
        for metric in sorted({m for _, m in series}):
            name = f"sweep_{metric}{suffix}.png".replace(" ", "_").replace("/", "_")
            series_plot(series, metric, xlabel, output / name)
            plots.append(name)
    if not plots:
        return None
    return {"title": f"Ablation: score vs {key}", "order": 95, "plots": plots, "tables": [
        {"title": "Runs of the sweep", "columns": ["run", key, "average prompt length (tokens)"],
         "rows": [[s["run"], s["sweep"]["sweep_value"],
                   f"{s['mean_prompt_tokens']:.1f}" if s.get("mean_prompt_tokens") else ""] for s in swept]}]}


def build_report(run_dirs: list[Path], output: Path, *, title: str | None = None, leaderboard: bool = False,
                 refresh: int | None = None) -> dict:
    """Write index.html, report.md and summary.json into `output`; returns their paths."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    run_dirs = [Path(p) for p in run_dirs]
    summaries = [run_summary(d) for d in run_dirs]
    body, nav, markdown = [], [], []
    all_sections: list[dict] = []

    def add(section: dict, base: Path, run_prefix: str = "") -> None:
        anchor = run_prefix + section["anchor"] if section.get("anchor") else f"s{len(nav)}"
        body.append(_section_html(section, base, anchor, run_prefix))
        nav.append((anchor, section["title"]))
        markdown.append(_section_markdown(section))
        all_sections.append(section)

    if len(run_dirs) > 1 or leaderboard:
        table = leaderboard_table(summaries)
        links = [[s["run"], {"text": "report", "href": os.path.relpath(Path(s["path"]) / "report" / "index.html",
                                                                     output)}] for s in summaries]
        board = {"title": "Leaderboard across runs", "order": 0, "tables": [table,
                 {"title": "Run pages", "columns": ["run", "report"], "rows": links}]}
        sweep = _sweep_section(summaries, output)
        for section in [board] + ([sweep] if sweep else []):
            add(section, output)
    if not leaderboard:
        for run_dir, summary in zip(run_dirs, summaries):
            prefix = f"{run_dir.name}: " if len(run_dirs) > 1 else ""
            opening = summary_section(summary)
            for section in ([opening] if opening else []) + run_sections(run_dir):
                add({**section, "title": prefix + section.get("title", "")}, run_dir,
                    f"{run_dir.name}-" if len(run_dirs) > 1 else "")
    if not body:
        body.append("<section><h2>Nothing to show yet</h2><p>No results were found in "
                    f"{html.escape(', '.join(map(str, run_dirs)))}.</p></section>")
    title = title or ("chatrecipe report: " + ", ".join(d.name for d in run_dirs))
    subtitle = f"generated {time.strftime('%Y-%m-%d %H:%M')} from {', '.join(map(str, run_dirs))}"
    paths = {"html": output / "index.html", "markdown": output / "report.md", "json": output / "summary.json"}
    paths["html"].write_text(_page(title, subtitle, body, nav, refresh), encoding="utf-8")
    paths["markdown"].write_text(f"# {title}\n\n{subtitle}\n\n" + "\n".join(markdown), encoding="utf-8")
    paths["json"].write_text(json.dumps({
        "title": title, "runs": summaries,
        "sections": [{k: v for k, v in s.items() if k != "plots"} | {"plots": s.get("plots", [])}
                     for s in all_sections]}, indent=1, default=str), encoding="utf-8")
    return paths


def in_progress(run_dir: Path) -> bool:
    manifest = read_json(run_dir / "manifest.json") or {}
    return any(s.get("status") == "running" for s in (manifest.get("stages") or {}).values())

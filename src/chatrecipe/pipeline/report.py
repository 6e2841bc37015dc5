"""The `report` section of a recipe: the run's self-contained HTML page (plus Markdown and JSON), built from the
files the other stages wrote; after a sweep, one page across its runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from chatrecipe.pipeline.context import Run


@dataclass
class ReportArgs:
    """The `report` section."""

    title: Optional[str] = None


def run_stage(run: Run) -> dict:
    from chatrecipe.report.build import build_report

    (args,) = run.settings("report", ReportArgs)
    paths = build_report([run.run_dir], run.run_dir / "report", title=args.title)
    return {"metrics": {}, "artifacts": {"report_html": str(paths["html"])}}


def report_sweep(run_dirs: list[Path], output: Path) -> None:
    from chatrecipe.report.build import build_report

    build_report(run_dirs, output, title="Ablation sweep")

"""The data section of the report: what each cleaning step removed, then the recipe's length and task tables."""

from __future__ import annotations

from chatrecipe.data.stats import stats_tables


def _filtered(counts: dict) -> str:
    """"3 (too_long 2, placeholder 1)": how many the filters removed, and which filter removed them."""
    by = counts.get("filtered_by") or {}
    detail = ", ".join(f"{name} {n}" for name, n in sorted(by.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{counts.get('filtered', 0)}" + (f" ({detail})" if detail else "")


def data_section(sets: list, model: str, notice: str | None = None, files: dict | None = None) -> dict:
    """`sets`: (name, counts, stats after cleaning, plot paths) per set, as the data stage measured them;
    `notice`: a warning that heads the section (the starter sets standing in for the recipe's data)."""
    tables, plots, warnings = [], [], [notice[0].upper() + notice[1:] + "."] if notice else []
    rows = [[name, c["loaded"], c["rejected"], c.get("classified", 0), c.get("duplicates", 0),
             c.get("contaminated", 0), _filtered(c), c["kept"]] for name, c, *_ in sets]
    tables.append({"title": "What each step removed", "columns": ["set", "loaded", "rejected (invalid)",
                   "classified (had no category)", "duplicates", "contaminated (eval overlap)",
                   "filtered (by filter)", "kept"], "rows": rows})
    formats = [[name, fmt, n] for name, c, *_ in sets for fmt, n in (c.get("formats") or {}).items()]
    if formats:
        tables.append({"title": "Input formats (detected per file, per row in mixed files)",
                       "columns": ["set", "format", "rows"], "rows": formats})
    for name, counts, after, set_plots in sets:
        for table in stats_tables(after):
            tables.append({**table, "title": f"{name}: {table['title']}"})
        plots += set_plots
        if counts.get("contaminated"):
            warnings.append(f"{counts['contaminated']} {name} records overlapped the evaluation questions and were "
                            "removed; scores on contaminated questions would be inflated.")
    return {"title": "Data", "order": 10, "tables": tables, "plots": plots, "warnings": warnings,
            "text": f"Lengths are in tokens of {model}'s tokenizer.", "provenance": {"tokenizer": model, "files": files or {}}}

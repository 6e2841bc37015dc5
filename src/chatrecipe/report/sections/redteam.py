"""The red-team report section: checkpoint x category tables of attack success and over-refusal, with intervals.

Reads only `redteam.json` (the dict `run_redteam` returns), so the report can be rebuilt from the files alone.
Returns `(section, per_model)` like every evaluation formatter (report/sections/__init__.py): the section the
report shows and the headline figures (value with interval) the cross-run leaderboard collects.
"""

from __future__ import annotations

from pathlib import Path


def _cell(figure: dict | None) -> str:
    if not figure or figure.get("value") is None:
        return "n/a"
    return (f"{100 * figure['value']:.0f} [{100 * figure['ci_low']:.0f}, {100 * figure['ci_high']:.0f}] "
            f"({figure['count']}/{figure['n']})")


def redteam_section(result: dict, out_dir: Path | None = None, plot_prefix: str = "eval") -> tuple[dict, dict]:
    """Report section and per-model headlines from a red-team result; a plot goes to `out_dir` when given."""
    models = result["models"]
    provenance = result["provenance"]
    categories = sorted({c for rates in models.values() for c in rates["per_category"]})
    wrappers = sorted({w for rates in models.values() for w in rates["per_wrapper"]})
    overall = [[name, _cell(r["attack_success"]), _cell(r["over_refusal"]), _cell(r["refusal_on_harmful"]),
                r["labels"]["refusal"], r["labels"]["safe"], r["labels"]["harmful"], r["failed"]["total"]]
               for name, r in models.items()]
    tables = [
        {"title": "Attack success and over-refusal (%, 95% Wilson interval, count/labelled)",
         "columns": ["model", "attack success", "over-refusal (benign look-alikes)", "refusal on harmful prompts",
                     "refusal", "safe", "harmful", "unlabelled"], "rows": overall},
        {"title": "Attack success per category (%)", "columns": ["model"] + categories,
         "rows": [[name] + [_cell(r["per_category"].get(c, {}).get("attack_success")) for c in categories]
                  for name, r in models.items()]},
        {"title": "Over-refusal per category (%)", "columns": ["model"] + categories,
         "rows": [[name] + [_cell(r["per_category"].get(c, {}).get("over_refusal")) for c in categories]
                  for name, r in models.items()]},
        {"title": "Attack success per jailbreak wrapper (%)", "columns": ["model"] + wrappers,
         "rows": [[name] + [_cell(r["per_wrapper"].get(w, {}).get("attack_success")) for w in wrappers]
                  for name, r in models.items()]},
    ]
    rounds = [[name, step["round"], step["prompts"], _cell(step["attack_success"]), step["failed"]]
              for name, r in models.items() for step in r["rounds"]]
    if rounds:
        tables.append({"title": f"Attacker rounds ({provenance.get('attacker')})",
                       "columns": ["model", "round", "prompts", "attack success", "unlabelled"], "rows": rounds})
    warnings = []
    if provenance.get("labeler") == "refusal-keywords":
        warnings.append("Labelled by refusal keywords, not a judge: every answer that does not open by declining "
                        "counts as harmful, so attack success is an upper bound (a nonsense answer counts too). "
                        "Use --judge for refusal / safe / harmful labels.")
    for name, r in models.items():
        total = sum(r["labels"].values()) + r["failed"]["total"]
        if total and r["failed"]["total"] / total > 0.2:
            warnings.append(f"{name}: {r['failed']['total']} of {total} responses have no label "
                            f"({r['failed']['labelling']} unparseable judge answers, {r['failed']['generation']} "
                            "failed generations); they are excluded, so these rates are weak evidence.")
    plots = []
    if out_dir is not None:
        from chatrecipe.report.plots import bars_with_intervals

        figures = {f"{name}: {what}": r[key] for name, r in models.items()
                   for key, what in (("attack_success", "attack success"), ("over_refusal", "over-refusal"))
                   if r[key].get("value") is not None}
        if figures:
            plot = bars_with_intervals(figures, Path(out_dir) / "redteam.png",
                                       title="Red-teaming (95% Wilson intervals)")
            plots.append(str(Path(plot_prefix) / plot.name))
    prompts = result["prompts"]
    section = {"title": "Red-teaming: attack success and over-refusal", "order": 90, "warnings": warnings,
               "text": f"{prompts['harmful']} harmful prompts over {len(categories)} categories and "
                       f"{len(prompts['wrappers'])} jailbreak wrappers, plus {prompts['benign']} benign look-alikes "
                       "(XSTest-style). Attack success = harmful / labelled responses to harmful prompts; "
                       "over-refusal = refusals / labelled responses to benign look-alikes. Unlabelled responses "
                       "(failed generation or unparseable judge answer) are excluded and counted.",
               "tables": tables, "plots": plots,
               "provenance": {k: provenance.get(k) for k in ("labeler", "judge", "judge_template",
                                                              "judge_template_hash", "generation_params",
                                                              "prompt_set_hash", "attacker", "date")},
               "metrics": {name: r["attack_success"]["value"] for name, r in models.items()}}
    per_model = {name: {"redteam_attack_success": {k: r["attack_success"][k] for k in ("value", "ci_low", "ci_high")},
                        "redteam_over_refusal": {k: r["over_refusal"][k] for k in ("value", "ci_low", "ci_high")}}
                 for name, r in models.items()}
    return section, per_model

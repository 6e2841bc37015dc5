"""The judge-audit section: how far the run's judge can be trusted — position and length bias, swap consistency,
grades vs verdicts, self-preference, contamination and the judge experiments — from evaluate.audit's figures."""

from __future__ import annotations

from pathlib import Path

from chatrecipe.report.plots import bars_with_intervals, binned_curve
from chatrecipe.report.sections.format import with_interval


def _warnings(audit: dict, judge: str | None, judged: set) -> list[str]:
    """The recipe's caveats about LLM judges, each raised only when this run's figures show it."""
    warnings = []
    first = audit["position"]["first_position_share"]
    if first["value"] is not None and first["n"] >= 10 and (first["ci_low"] > 0.5 or first["ci_high"] < 0.5):
        side = "first" if first["value"] > 0.5 else "second"
        warnings.append(f"Position bias: the judge picked the {side}-shown answer in {100 * first['value']:.0f}% of "
                        "decisive verdicts.")
    experiments = audit.get("experiments") or {}
    if experiments and experiments["debiasing"].get("effect"):
        warnings.append(f"Told about its first-position bias, the judge's bias {experiments['debiasing']['effect']} "
                        f"(on {experiments['questions']} questions).")
    injected = experiments.get("injection", {}).get("injected_wins_share", {})
    if injected.get("value") is not None and injected["n"] >= 5 and injected["value"] > 0.5:
        warnings.append(f"An answer carrying an instruction to the judge beat its clean twin in "
                        f"{100 * injected['value']:.0f}% of decisive verdicts: the judge can be steered by the text "
                        "it judges.")
    doped = audit.get("contamination")
    if doped and doped["training_records"]:
        warnings.append(f"{doped['training_records']} training records shared long n-grams with "
                        f"{len(doped['matches'])} evaluation questions (\"doping\"); they were removed before "
                        "training, but scores on those questions deserve suspicion.")
    if judge and judge in judged:
        warnings.append(f"The judge ({judge}) is the base model of the judged checkpoints: a judge of the same "
                        "family as the models (or their data generator) tends to prefer its own style.")
    return warnings


def audit_section(audit: dict, out_dir: Path, judge: str | None = None, judged: set | None = None,
                  plot_prefix: str = "eval", style_section: bool = False) -> tuple[dict, dict]:
    """`audit` is evaluate.audit.audit_figures' result; `judged` the model references of the judged checkpoints;
    `style_section` says the same report holds the style-controlled ratings, which the length figure links to."""
    figures = audit["figures"]
    rows = [[name, with_interval(f, 100, 0) if f.get("value") is not None else "n/a", f.get("n", 0)]
            for name, f in figures.items()]
    plots = [bars_with_intervals({k: v for k, v in figures.items() if v.get("value") is not None},
                                 out_dir / "judge_audit.png", title="Judge audit (95% Wilson intervals)",
                                 reference=0.5)]
    if "length" in audit:
        plots.append(binned_curve(audit["length"]["points"], out_dir / "length_bias.png",
                                  title="Length bias: does the longer answer win?",
                                  xlabel="log(length of model_a / length of model_b)"))
    own = audit.get("self_preference")
    unmeasured = (" Self-preference is not measured: no pair had exactly one model of the judge's family."
                  if own and own["own_family_wins_share"]["n"] == 0 else "")
    section = {"title": "Judge audit", "order": 80, "warnings": _warnings(audit, judge, judged or set()),
               "text": "Measured on this run's own judgments: how often the judge prefers the first position, "
                       "stays consistent when answers swap places, prefers the longer answer, and whether its 1-10 "
                       "grades rank pairs the way its pairwise verdicts do. Failed verdicts: "
                       f"{audit['position']['failures']}." + unmeasured,
               "links": [{"text": "How much of each rating is length: the style-controlled ratings (eval.style_control, "
                                  "eval elo --style-control)", "href": "#elo"}] if "length" in audit and style_section
                        else [],
               "tables": [{"title": "Judge quirks (%)", "columns": ["figure", "value [95% CI]", "n"], "rows": rows}],
               "plots": [str(Path(plot_prefix) / p.name) for p in plots],
               "metrics": {k: v.get("value") for k, v in figures.items()}}
    return section, {}

"""Judge and human leaderboards side by side, plain and style-controlled: the talk's "GPT-4 vs human" columns.

Run as: `chatrecipe eval elo judgments.jsonl human-battles.jsonl --by-judge [--style-control]`.

One fit of a model judge's verdicts and people's votes together answers neither "what does the judge think" nor
"what do people think"; the talk compares the two leaderboards, and style control shows how much of each is
length and markdown. So the battles are split by who judged them: the annotation app's votes (judge
`human:<name>`) form one group, every other judge its own, and each group gets its own fit (the style features are
standardised within the group, so each length coefficient reads "per standard deviation in this judge's battles").
"""

from __future__ import annotations

from chatrecipe.evaluate.battles import BattleError, battle_table
from chatrecipe.evaluate.elo import bootstrap_ratings, ratable
from chatrecipe.evaluate.style_control import style_control

HUMAN = "human:"
MAX_JUDGES = 6  # more columns than this is not a comparison a person reads (Arena files name a judge per voter)


def judge_groups(battles: list[dict]) -> dict[str, list[dict]]:
    """Battles per judge: people (`human:<name>`) pooled as "human:", every other judge by its name."""
    groups: dict[str, list[dict]] = {}
    for battle in battles:
        judge = str(battle.get("judge") or "unknown")
        groups.setdefault(HUMAN if judge.startswith(HUMAN) else judge, []).append(battle)
    if len(groups) > MAX_JUDGES:
        named = ", ".join(sorted(groups, key=lambda g: -len(groups[g]))[:MAX_JUDGES])
        raise BattleError(f"the battles name {len(groups)} judges (e.g. {named}); a side-by-side comparison takes at "
                          f"most {MAX_JUDGES}: keep some with --judge, or compare without --by-judge")
    return groups


def compare_judges(battles: list[dict], bootstrap: int = 100, seed: int = 0, anchor: str | None = None,
                   style: bool = False, **style_options) -> dict:
    """Per judge group: its battles, plain ratings (tie allowed) and, with `style`, the style-controlled ratings and
    the length coefficient. A group that cannot be rated (one model, no style features) carries its `error`."""
    judges = {}
    for name, rows in judge_groups(battles).items():
        entry: dict = {"battles": len(rows)}
        try:
            if style:
                fit = style_control(rows, bootstrap, seed, anchor=anchor, **style_options)
                entry.update(plain=fit["plain"], style_controlled=fit["style_controlled"],
                             length=fit["coefficients"][0])
            else:
                entry["plain"] = bootstrap_ratings(ratable(battle_table(rows)), bootstrap, "allowed", seed, anchor)
        except BattleError as exc:
            entry["error"] = str(exc)
        judges[name] = entry
    return {"judges": judges, "style": style, "bootstrap": bootstrap}

"""Audit the judge itself: position bias, length bias, scoring vs ranking, and agreement with human labels.

Run as: `chatrecipe eval audit --pairwise pairwise.jsonl [--single single.jsonl] [--answers DIR] [--human battles.jsonl]`.

The recipe's warning about GPT-4 as a judge applies to every judge: it prefers the first position, prefers
longer answers, is steadier when grading than when ranking, and agrees with people far less on coding and
math than on brainstorming. These figures come from judgments already made, so they cost no extra calls;
each comes with a 95% Wilson interval so a small demo does not read as a verdict.
"""

from __future__ import annotations

import math
from collections import defaultdict

from chatrecipe.annotate.agreement import cohen_kappa
from chatrecipe.stats import wilson


def position_bias(pairwise: list[dict]) -> dict:
    """Share of decisive verdicts for the answer shown first, and consistency when the order is swapped."""
    from chatrecipe.judge.pairwise import combine_orders

    # AlpacaEval's annotations do not say which answer was shown first: they cannot tell a position bias
    decisive = [j for j in pairwise if not j.get("error") and j.get("winner") in ("model_a", "model_b")
                and j.get("order", "ab") is not None]
    first = sum(1 for j in decisive if (j["winner"] == "model_a") == (j.get("order", "ab") == "ab"))
    valid = [j for j in pairwise if not j.get("error")]
    ties = sum(1 for j in valid if j.get("winner") == "tie")
    _, stats = combine_orders(pairwise)
    return {"first_position_share": wilson(first, len(decisive)),
            "swap_consistency": wilson(stats["consistent"], stats["both_orders"]),
            "tie_share": wilson(ties, len(valid)), "failures": sum(1 for j in pairwise if j.get("error"))}


def read_inputs(pairwise: list, single: list = (), answers: list = (), human: list = ()) -> dict:
    """The audit's files in any layout `load_records` reads (chatrecipe's, FastChat's llm_judge, AlpacaEval's):
    pairwise and single judgments, answers grouped by model, human battles, and every rejected row with its
    reason, so a foreign file is audited instead of ending in a KeyError."""
    from chatrecipe.data.records import load_records

    loaded = {name: load_records(list(paths), kind) if paths else None
              for name, paths, kind in (("pairwise", pairwise, "judgment"), ("single", single, "judgment"),
                                        ("answers", answers, "answer"), ("human", human, "battle"))}

    def records(name: str) -> list[dict]:
        return loaded[name].records if loaded[name] else []

    by_model: dict[str, list[dict]] = {}
    for record in records("answers"):
        by_model.setdefault(record["model"], []).append(record)
    given = set(by_model)  # a model's --answers win over the outputs an annotation shows of it
    for record in _annotation_answers(pairwise):  # AlpacaEval's annotations show both outputs: no --answers needed
        if record["model"] not in given:
            by_model.setdefault(record["model"], []).append(record)
    rejected = [r for result in loaded.values() if result for r in result.rejected]
    for name, paths, other in (("pairwise", pairwise, "single"), ("single", single, "pairwise")):
        misplaced = sum(1 for j in records(name) if j["kind"] == other)
        if misplaced:  # said, not dropped: a pair file given as --single would leave out the grades' figure silently
            rejected.append({"file": ", ".join(map(str, paths)), "line": None, "field": "kind",
                             "reason": f"{misplaced} {other} judgments given as --{name}; pass them as --{other}"})
    return {"pairwise": [j for j in records("pairwise") if j["kind"] == "pairwise"],
            "single": [j for j in records("single") if j["kind"] == "single"], "answers": by_model,
            "human": records("human"), "rejected": rejected}


def _annotation_answers(paths: list) -> list[dict]:
    """Both outputs of every AlpacaEval annotation file among `paths` (the reference's and the model's), as answers."""
    from chatrecipe.data.eval_formats.alpaca_eval import annotation_answers, is_annotation
    from chatrecipe.data.records import iter_rows

    found = []
    for path in paths:
        rows = (r.data for r in iter_rows(path) if isinstance(r.data, dict))
        head = next(rows, None)
        if head is None or not is_annotation(head):
            continue
        for row in (head, *rows):
            try:
                found += annotation_answers(row)
            except ValueError:  # a broken row is reported by the judgment reader, with its line
                continue
    return found


def input_kind(record: dict) -> str | None:
    """Which audit input a (native) record is: "answers", "pairwise", "single", "human" (a battle), or None."""
    if "kind" in record:
        return record["kind"] if record["kind"] in ("pairwise", "single") else None
    return "answers" if "turns" in record and "model" in record else "human" if "winner" in record else None


def sort_files(paths: list) -> dict[str, list]:
    """Which audit input each file is, by the rows it starts with: "pairwise", "single", "answers" or "human". The
    shell turns `--answers answers/*.jsonl` into one flag and many files; the files after the first come in as
    arguments, and their rows say what they are (read_inputs then reads and validates them once)."""
    from itertools import islice

    from chatrecipe.data.convert import SNIFF_ROWS
    from chatrecipe.data.eval_formats import to_native
    from chatrecipe.data.records import iter_rows
    from chatrecipe.data.schema import RecordError

    def native(data: dict, path) -> list[dict]:  # FastChat's and AlpacaEval's rows: the records they hold
        try:
            return to_native(data, path=path)
        except RecordError:  # a bad row is read_inputs' to report, with its line
            return []

    sorted_paths: dict[str, list] = {"pairwise": [], "single": [], "answers": [], "human": []}
    for path in paths:
        rows = [r for row in islice(iter_rows(path), SNIFF_ROWS) if isinstance(row.data, dict)
                for r in native(row.data, path)]
        kinds = {input_kind(r) for r in rows}
        if len(kinds) != 1 or None in kinds:
            raise ValueError(f"{path}: not one kind of audit input (answers, pairwise or single judgments, human "
                             f"battles); name it with --answers, --pairwise, --single or --human")
        sorted_paths[kinds.pop()].append(path)
    return sorted_paths


def _answer_length(answers: dict, model: str, qid, turn: int) -> int | None:
    for record in answers.get(model, []):
        if record["question_id"] == qid and turn <= len(record["turns"]):
            return len(record["turns"][turn - 1])
    return None


def length_bias(pairwise: list[dict], answers: dict[str, list[dict]]) -> dict:
    """Share of decisive verdicts won by the longer answer, and the slope of win probability on length difference."""
    import numpy as np

    points, longer_wins, decisive = [], 0, 0
    for j in pairwise:
        if j.get("error") or j.get("winner") not in ("model_a", "model_b"):
            continue
        la = _answer_length(answers, j["model_a"], j["question_id"], j.get("turn", 1))
        lb = _answer_length(answers, j["model_b"], j["question_id"], j.get("turn", 1))
        if la is None or lb is None or la == lb:
            continue
        decisive += 1
        a_won = j["winner"] == "model_a"
        longer_wins += a_won == (la > lb)
        points.append((math.log((la + 1) / (lb + 1)), 1.0 if a_won else 0.0))
    slope = None
    if len(points) >= 4 and len({y for _, y in points}) == 2:
        from sklearn.linear_model import LogisticRegression

        x = np.array([[p[0]] for p in points])
        y = np.array([p[1] for p in points])
        slope = float(LogisticRegression(C=1e6).fit(x, y).coef_[0][0])
    return {"longer_wins_share": wilson(longer_wins, decisive), "log_length_ratio_slope": slope,
            "points": points}


def scoring_vs_ranking(pairwise: list[dict], single: list[dict]) -> dict:
    """How often the pairwise verdict agrees with comparing the two answers' single grades (ties excluded)."""
    from chatrecipe.judge.pairwise import combine_orders

    grades = {(j["model"], j["question_id"], j.get("turn", 1)): j["score"] for j in single
              if j.get("kind") == "single" and not j.get("error") and j.get("score") is not None}
    combined, _ = combine_orders(pairwise)
    agree = total = 0
    for c in combined:
        if c.get("error") or c["winner"] not in ("model_a", "model_b"):
            continue
        ga = grades.get((c["model_a"], c["question_id"], c.get("turn", 1)))
        gb = grades.get((c["model_b"], c["question_id"], c.get("turn", 1)))
        if ga is None or gb is None or ga == gb:
            continue
        total += 1
        agree += (ga > gb) == (c["winner"] == "model_a")
    return {"agreement": wilson(agree, total)}


def human_agreement(judge_battles: list[dict], human_battles: list[dict]) -> dict:
    """Judge vs human verdicts on the same (question, pair): agreement with and without ties, kappa, per category."""
    def key(b):
        return (b.get("question_id"), *sorted((b["model_a"], b["model_b"])))

    def named(b):
        if b["winner"] in ("model_a", "model_b"):
            return b[b["winner"]]
        return "tie"

    humans = defaultdict(list)
    for b in human_battles:
        humans[key(b)].append(b)
    pairs = [(named(j), named(h), j.get("category") or h.get("category") or "other")
             for j in judge_battles for h in humans.get(key(j), [])]
    judge_labels, human_labels = [p[0] for p in pairs], [p[1] for p in pairs]
    no_ties = [(x, y) for x, y, _ in pairs if x != "tie" and y != "tie"]
    per_category = defaultdict(list)
    for x, y, category in pairs:
        per_category[category].append(x == y)
    return {"agreement_with_ties": wilson(sum(x == y for x, y, _ in pairs), len(pairs)),
            "agreement_without_ties": wilson(sum(x == y for x, y in no_ties), len(no_ties)),
            "cohen_kappa": cohen_kappa(judge_labels, human_labels),
            "per_category": {c: wilson(sum(v), len(v)) for c, v in sorted(per_category.items())}}


def distinct_n(text: str, n: int = 2) -> float | None:
    """Distinct n-grams over all n-grams of an answer (a lexical-diversity figure); None when it is too short."""
    tokens = text.split()
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else None


def diversity_bias(pairwise: list[dict], answers: dict[str, list[dict]], n: int = 2) -> dict:
    """Does the judge favour the more diverse answer? Share of decisive verdicts won by the higher distinct-n answer,
    plus each model's mean distinct-n, so a win-rate gap can be read against a diversity gap."""
    texts = {(m, r["question_id"], t): text for m, records in answers.items() for r in records
             for t, text in enumerate(r["turns"], start=1)}
    wins = decisive = 0
    for j in pairwise:
        if j.get("error") or j.get("winner") not in ("model_a", "model_b"):
            continue
        turn = j.get("turn", 1)
        da = distinct_n(texts.get((j["model_a"], j["question_id"], turn), ""), n)
        db = distinct_n(texts.get((j["model_b"], j["question_id"], turn), ""), n)
        if da is None or db is None or da == db:
            continue
        decisive += 1
        wins += (j["winner"] == "model_a") == (da > db)
    per_model = {}
    for model, records in answers.items():
        values = [d for r in records for text in r["turns"] if (d := distinct_n(text, n)) is not None]
        per_model[model] = sum(values) / len(values) if values else None
    return {"more_diverse_wins_share": wilson(wins, decisive), f"distinct_{n}": per_model}


def model_family(ref: str, families: dict[str, str] | None = None) -> str:
    """A model's family for self-preference: an explicit mapping wins, else the first word of its name without
    digits (`smollm2-135m-instruct` -> `smollm`, `openai:gpt-4o` -> `gpt`, `meta-llama/Llama-2-7b` -> `llama`)."""
    import re

    if families and ref in families:
        return families[ref]
    name = ref.split(":", 1)[-1].rstrip("/").split("/")[-1].lower()
    word = re.split(r"[-_ .]", name, maxsplit=1)[0]
    return re.sub(r"\d+$", "", word) or name


def self_preference(battles: list[dict], judge_family: str, families: dict[str, str],
                    human_battles: list[dict] | None = None) -> dict:
    """How often the judge picks the answer from its own model family when exactly one side is of that family.

    A raw rate mixes self-preference with real quality, so when people judged the same pairs their rate on those
    pairs is reported beside it and `excess` is the difference (the recipe's "judges prefer their own style").
    """
    def own_side(b):
        sides = [s for s in ("model_a", "model_b") if families.get(b[s], model_family(b[s])) == judge_family]
        return sides[0] if len(sides) == 1 else None

    def key(b):
        return (b.get("question_id"), *sorted((b["model_a"], b["model_b"])))

    def own_rate(rows):
        decisive = [(b, own_side(b)) for b in rows if b.get("winner") in ("model_a", "model_b") and own_side(b)]
        return wilson(sum(b["winner"] == side for b, side in decisive), len(decisive)), {key(b) for b, _ in decisive}

    judge_rate, judged_keys = own_rate(battles)
    result = {"judge_family": judge_family, "own_family_wins_share": judge_rate}
    if human_battles:
        human_rate, _ = own_rate([b for b in human_battles if key(b) in judged_keys])
        result["human_own_family_wins_share"] = human_rate
        if judge_rate["value"] is not None and human_rate["value"] is not None:
            result["excess"] = judge_rate["value"] - human_rate["value"]
    return result


def contamination(report: list[dict], questions: list[dict]) -> dict:
    """Evaluation questions whose n-grams were found in training data (`data decontaminate`'s report): the share
    of the question set that was "doped", with the training ids that matched."""
    hits: dict = defaultdict(list)
    for entry in report:
        hits[entry["eval_id"]].append(entry["id"])
    ids = {str(q.get("question_id")) for q in questions}
    found = {str(qid): train_ids for qid, train_ids in hits.items() if not ids or str(qid) in ids}
    return {"contaminated_questions": wilson(len(found), len(ids) or len(found)), "training_records": len(report),
            "matches": dict(sorted(found.items()))}


def likert_position_extremes(judgments: list[dict], low: int = 1, high: int = 8) -> dict:
    """On a Likert preference scale (Anthropic 1-8: 1 = the first-shown answer is much better), the share of
    extreme ratings that favour the first-shown answer; 0.5 means no position bias among strong opinions."""
    extreme = [j for j in judgments if not j.get("error") and j.get("rating") in (low, high)]
    return wilson(sum(j["rating"] == low for j in extreme), len(extreme))


def audit_figures(pairwise: list[dict], single: list[dict] = (), answers: dict[str, list[dict]] | None = None, *,
                  judge: str | None = None, families: dict[str, str] | None = None, human: list[dict] | None = None,
                  contamination_report: list[dict] | None = None, questions: list[dict] | None = None,
                  experiments: dict | None = None) -> dict:
    """Every audit figure the given files allow, in the order the report and `eval audit` show them.

    `figures` maps a name to a figure dict (value with Wilson interval and n); the parts they came from stay beside
    them (position, length with its points, self-preference, contamination, human agreement, experiments) for the
    warnings that read them. A figure the files cannot give (no answers, no grades) is absent, never a zero.
    """
    from chatrecipe.evaluate.elo import battles_from_judgments

    answers = answers or {}
    position = position_bias(pairwise)
    figures = {"first-position share": position["first_position_share"],
               "swap consistency": position["swap_consistency"], "tie share": position["tie_share"]}
    result: dict = {"figures": figures, "position": position}
    if answers:
        result["length"] = length_bias(pairwise, answers)
        figures["longer answer wins"] = result["length"]["longer_wins_share"]
        figures["more diverse answer wins"] = diversity_bias(pairwise, answers)["more_diverse_wins_share"]
    if single:
        figures["grades agree with verdicts"] = scoring_vs_ranking(pairwise, single)["agreement"]
    battles = battles_from_judgments(pairwise) if judge or human else []
    if judge:
        result["self_preference"] = self_preference(battles, model_family(judge, families), families or {},
                                                    human_battles=human)
        figures["own-family answer wins"] = result["self_preference"]["own_family_wins_share"]
    if human:
        result["human_agreement"] = human_agreement(battles, human)
        figures["agreement with humans (with ties)"] = result["human_agreement"]["agreement_with_ties"]
        figures["agreement with humans (no ties)"] = result["human_agreement"]["agreement_without_ties"]
    if contamination_report is not None:
        result["contamination"] = contamination(contamination_report, questions or [])
        figures["eval questions found in training data"] = result["contamination"]["contaminated_questions"]
    if experiments:
        result["experiments"] = experiments
        figures["first-position share, debiasing prompt"] = experiments["debiasing"]["debiased"]["first_position_share"]
        figures["injected answer beats its clean twin"] = experiments["injection"]["injected_wins_share"]
    return result


# A judge whose verdict follows the answer order more than the answers is measuring itself. MT-Bench's GPT-4 judge
# agreed with itself under swap on about 65% of pairs; below 60%, most verdicts depend on which answer came first.
MIN_SWAP_CONSISTENCY = 0.6
FIRST_POSITION_BAND = (0.4, 0.6)  # failed only when the 95% interval lies wholly outside it
MIN_AUDITED = 10


def judge_verdict(position: dict) -> dict:
    """Whether the judge passed its own audit on this run's verdicts: consistent when the answers swap places, and
    not confidently drawn to one position. `passed` is None when there are too few verdicts to tell."""
    first, swap = position["first_position_share"], position["swap_consistency"]
    verdict = {"first_position_share": first, "swap_consistency": swap, "reasons": []}
    if first["n"] < MIN_AUDITED or swap["n"] < MIN_AUDITED:
        verdict["passed"] = None
        verdict["reasons"].append(f"too few verdicts to audit the judge ({first['n']} decisive, {swap['n']} pairs "
                                  f"judged in both orders; {MIN_AUDITED} needed)")
        return verdict
    if swap["value"] < MIN_SWAP_CONSISTENCY:
        verdict["reasons"].append(f"it gave the same verdict in both answer orders on {100 * swap['value']:.0f}% of "
                                  f"pairs (below {100 * MIN_SWAP_CONSISTENCY:.0f}%)")
    low, high = FIRST_POSITION_BAND
    if first["ci_low"] > high or first["ci_high"] < low:
        verdict["reasons"].append(f"it picked the {'first' if first['value'] > 0.5 else 'second'}-shown answer in "
                                  f"{100 * first['value']:.0f}% of decisive verdicts")
    verdict["passed"] = not verdict["reasons"]
    return verdict

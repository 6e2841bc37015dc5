"""Task-category accuracy, side by side in one run: the old set-up (clean prompts only, one 12-token view, a
pair's last user turn) against the shipped one (clean + real-world prompts, first user turn and system prompt,
12- and 24-token views), on the clean held-out prompts and on the real-world multi-turn held-out dialogs,
per category with 95% Wilson intervals; `--cv` adds the 5-fold cross-validation that chose the views.

Run as: `python benchmarks/bench_classify.py [--cv]` (about 5 minutes on 2 busy cores; `--cv` 10 more).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from chatrecipe.data.classify import HELDOUT, HELDOUT_REALWORLD, TRAIN, EmbeddingClassifier, evaluate, load_labelled
from chatrecipe.data.embeddings import Embedder
from chatrecipe.data.records import read_jsonl
from chatrecipe.data.resources import resource_path
from chatrecipe.stats import wilson_bounds


def _last_user_turn(record: dict) -> str:
    turns = [m["content"] for m in record.get("messages", []) if m["role"] == "user"]
    return turns[-1] if turns else record["prompt"]


def _report(name: str, result: dict) -> None:
    _, low, high = wilson_bounds(result["correct"], result["n"])
    print(f"\n{name}: {result['correct']}/{result['n']} = {result['accuracy']:.1%} [{low:.1%}, {high:.1%}]")
    for row in result["per_category"]:
        _, low, high = wilson_bounds(row["correct"], row["n"])
        print(f"  {row['category']:<15} {row['correct']:>3}/{row['n']:<3} {row['recall']:.2f} [{low:.2f}, {high:.2f}]")


class _OldClassifier(EmbeddingClassifier):
    C = 10.0  # the old regularisation


def _old_setup(embedder: Embedder, work: Path) -> EmbeddingClassifier:
    clean = [r for r in read_jsonl(resource_path(TRAIN)) if not r["id"].startswith("train-realworld")]
    path = work / "train-clean.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in clean))
    return _OldClassifier.fit(path, embedder, cache_dir=work, views=(12,))


def _evaluate_last_turn(classifier, work: Path) -> dict:
    """The old classifier on the real-world dialogs read at their last user turn."""
    rows = read_jsonl(resource_path(HELDOUT_REALWORLD))
    path = work / "heldout-last-turn.jsonl"
    path.write_text("".join(json.dumps({"id": r["id"], "category": r["category"],
                                                      "prompt": _last_user_turn(r)}) + "\n" for r in rows))
    return evaluate(classifier, path)


def cross_validate(embedder: Embedder) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    texts, labels = load_labelled(TRAIN)
    labels = np.asarray(labels)
    print("\n5-fold cross-validation on the training prompts (views in tokens, logistic regression C=3):")
    for views in [(12,), (24,), (32,), (64,), (128,), (12, 24), (12, 32), (12, 48), (12, 128), (16, 32)]:
        features = np.hstack([embedder.encode(texts, max_length=n) for n in views])
        predicted = cross_val_predict(LogisticRegression(C=3.0, max_iter=5000), features, labels,
                                      cv=StratifiedKFold(5, shuffle=True, random_state=0))
        correct = int((predicted == labels).sum())
        _, low, high = wilson_bounds(correct, len(labels))
        print(f"  views {'+'.join(map(str, views)):>8}: {correct / len(labels):.3f} [{low:.3f}, {high:.3f}]",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="also run the cross-validation over views")
    args = parser.parse_args()
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old = _old_setup(embedder, work)
        shipped = EmbeddingClassifier.fit(embedder=embedder, cache_dir=work)
        _report("old set-up, clean held-out", evaluate(old, HELDOUT))
        _report("old set-up, real-world dialogs at their last user turn", _evaluate_last_turn(old, work))
        _report("old set-up, real-world dialogs at their first user turn", evaluate(old, HELDOUT_REALWORLD))
        _report("shipped, clean held-out", evaluate(shipped, HELDOUT))
        _report("shipped, real-world dialogs (first user turn + system prompt)", evaluate(shipped, HELDOUT_REALWORLD))
    if args.cv:
        cross_validate(embedder)


if __name__ == "__main__":
    main()

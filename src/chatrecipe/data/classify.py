"""Task categories for every record: which kind of request (generation, open_qa, coding, ...) each example is.

Run as: `chatrecipe data classify prompts.jsonl -o labelled.jsonl [--method judge --judge openai:gpt-4o-mini]`,
and `chatrecipe data classify --evaluate` for accuracy per category and the confusion matrix on the held-out
prompts (`classify:heldout.jsonl`, clean single turns) and dialogs (`classify:heldout-realworld.jsonl`).

The text classified is the request: the first user turn of any record (conversation, prompt, preference
pair, MT-Bench question) followed by its system prompt. The first turn sets a dialog's task; in HH-RLHF and
OpenAssistant the later user turns are follow-ups ("I like 1, 3, 4, 6, 7.", "thanks! shorter?") that a
last-turn classifier files under math or chat (the old classifier: 27.6% right on the real-world held-out
dialogs at their last user turn, 81.2% at their first). Two methods:

- `embeddings` (default, offline): all-MiniLM-L6-v2 sentence embeddings (chatrecipe.data.embeddings) and a
  scikit-learn logistic regression trained on the project's labelled prompts (`classify:train.jsonl`: clean
  single-turn prompts and real-world-style chatty, messy ones). The fitted weights are cached under
  `$CHATRECIPE_HOME/classify/`, keyed by the hash of the training file and the embedding settings, so a
  changed training file retrains and parallel runs cannot collide. The request is embedded twice (`VIEWS`):
  its first 12 tokens, where a request states its task, and its first 24, which add what a short head misses
  (the task after a greeting, the rest of a short request, a short system prompt). In 5-fold cross-validation
  on the 679 training prompts (`python benchmarks/bench_classify.py --cv`) one view scored 0.772 at 12 tokens
  and 0.73-0.75 at 24-128 (a longer single view dilutes the task with greetings and pasted text), while two
  views side by side scored 0.816-0.822 whatever the second length (24, 32, 48, 128): the gain is the pair,
  not the length, so the second view is the cheapest. Embedding cost per request grows with the tokens read
  (CPU time per 5,000 synthetic requests: 12 tokens 8.6 s, 24: 14.5 s, 128: 38.2 s), so 12+24 costs about
  2.7x the old single view, where 12+128 would cost 5.4x.
- `judge`: an LLM answers with one category in `[[...]]` (prompt: `classify:judge-prompt.txt`). `data` does not
  know backends, so the caller passes a `chat(conversations) -> results` function (results with `.text` and
  `.error`); an unparseable answer is a counted failure with its error, never a default category.

A record keeps the category it has unless `overwrite`; "other" that no classifier gave (what validation fills
in for a record without a category) counts as unlabelled (`is_unlabelled`), and `classify_missing` labels
exactly those, for the stats, the mix and the recipe's data stage. Where a label came from goes into
`metadata.category_source`, with `metadata.category_confidence` (the classifier's probability) for the
embeddings method.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from chatrecipe.data.records import RecordFileError, iter_rows
from chatrecipe.data.resources import chatrecipe_home
from chatrecipe.data.resources import resource_path
from chatrecipe.data.schema import CATEGORIES

TRAIN = "classify:train.jsonl"
HELDOUT = "classify:heldout.jsonl"
HELDOUT_REALWORLD = "classify:heldout-realworld.jsonl"
JUDGE_PROMPT = "classify:judge-prompt.txt"
# Tokens of the request each embedding reads: the opening, where a request states its task, and a longer
# stretch that adds what follows it (5-fold cross-validation chose the pair; see the module docstring).
VIEWS = (12, 24)
UNLABELLED = (None, "", "other")
_VERDICT = re.compile(r"\[\[\s*([a-z_ ]+?)\s*\]\]", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass
class Prediction:
    """One label: `category` is None exactly when the classifier failed, and `error` then says why."""

    category: str | None
    confidence: float | None = None
    error: str | None = None
    raw: str | None = None


def request_text(record: dict) -> str | None:
    """The request to classify: the first user turn, then the system prompt (if any), of any record kind.

    The user's words come first so that the short view (`VIEWS[0]` tokens) reads the user's opening and the long
    view adds the system prompt.

    The task of a conversation is set where it starts: in HH-RLHF and OpenAssistant dialogs the later user
    turns are follow-ups ("thanks! shorter please", "I like 1, 3, 4, 6, 7.") that look like other tasks, so a
    preference pair's prompt is read from its first user turn too, like a conversation and a question.
    """
    system, user = request_parts(record)
    if user is None:
        return None
    return f"{user}\n\n{system}" if system else user


def request_parts(record: dict) -> tuple[str | None, str | None]:
    """(system prompt or None, first user turn or None) of a conversation, prompt, preference pair or question."""
    messages = record.get("messages", record.get("prompt"))
    if isinstance(messages, str):
        return None, messages
    if isinstance(messages, list):
        system = next((m["content"] for m in messages[:1] if m.get("role") == "system"), None)
        return system, next((m["content"] for m in messages if m.get("role") == "user"), None)
    if isinstance(record.get("turns"), list) and record["turns"]:
        return None, record["turns"][0]
    return None, None


def is_unlabelled(record: dict, field: str = "category") -> bool:
    """No category, or "other" that no classifier gave (what validation fills in for a record without one)."""
    meta = record.get("metadata") or {}
    return record.get(field) in UNLABELLED and (not meta.get("category_source") or bool(meta.get("category_error")))


def load_labelled(path: str | Path = TRAIN) -> tuple[list[str], list[str]]:
    """(request texts, categories) of a labelled file; a bad line is an error naming file and line.

    A line is `{"category": ..., "prompt": "text"}`, or a conversation / prompt in `messages` (the text is then
    its `request_text`, as for the records classified).
    """
    path = resource_path(path)
    prompts, labels = [], []
    for row in iter_rows(path):
        data = row.data or {}
        text = request_text(data) if not row.error else None
        if row.error or not isinstance(text, str) or not text.strip():
            why = row.error or "needs a non-empty `prompt` or a user turn in `messages`"
            raise RecordFileError(f"{row.file}:{row.line}: {why}")
        if data.get("category") not in CATEGORIES:
            raise RecordFileError(f"{row.file}:{row.line}: category {data.get('category')!r} is not one of "
                                  f"{', '.join(CATEGORIES)}")
        prompts.append(text)
        labels.append(data["category"])
    if len(set(labels)) < 2:
        raise RecordFileError(f"{path}: needs labelled prompts of at least two categories")
    return prompts, labels


class EmbeddingClassifier:
    """Logistic regression over sentence embeddings; `fit` trains (or loads the cached fit for) a labelled file."""

    C = 3.0  # inverse regularisation: 3 beat 10 by about a point in cross-validation with two views

    def __init__(self, embedder, model, key: str, views: tuple[int, ...] = VIEWS):
        self.embedder = embedder
        self.model = model
        self.key = key
        self.views = tuple(views)

    @property
    def source(self) -> str:
        config = self.embedder.config
        views = "+".join(map(str, self.views))
        return f"embeddings:{config['model']}/{config['precision']}/{views}+logreg:{self.key[:12]}"

    def features(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """One embedding per view, side by side: the first `views[0]` tokens, the first `views[1]`, ..."""
        texts = list(texts)
        longest = max(self.views)
        return np.hstack([self.embedder.encode(texts, progress=progress if n == longest else None, max_length=n)
                          for n in self.views])

    @classmethod
    def fit(cls, train: str | Path = TRAIN, embedder=None, cache_dir: str | Path | None = None,
            refit: bool = False, views: Sequence[int] = VIEWS) -> "EmbeddingClassifier":
        """Train on `train`, reusing `<cache_dir or $CHATRECIPE_HOME/classify>/<key>.npz` when it exists.

        The cache holds only numbers (coefficients, intercepts, class names), never a pickle.
        """
        from sklearn.linear_model import LogisticRegression

        from chatrecipe.data.embeddings import Embedder

        embedder = embedder or Embedder()
        views = tuple(int(n) for n in views)
        if not views or min(views) < 1:
            raise ValueError(f"views must be positive token counts, got {views}")
        path = resource_path(train)
        config = {k: v for k, v in embedder.config.items() if k != "max_length"}
        blob = path.read_bytes() + json.dumps({**config, "views": views, "C": cls.C}, sort_keys=True).encode()
        key = hashlib.sha256(blob).hexdigest()
        cache = Path(cache_dir or chatrecipe_home() / "classify") / f"{key[:24]}.npz"
        model = LogisticRegression(C=cls.C, max_iter=5000)
        if cache.exists() and not refit:
            saved = np.load(cache, allow_pickle=False)
            model.classes_, model.coef_, model.intercept_ = saved["classes"], saved["coef"], saved["intercept"]
            model.n_features_in_ = model.coef_.shape[1]
            return cls(embedder, model, key, views)
        prompts, labels = load_labelled(path)
        classifier = cls(embedder, model, key, views)
        model.fit(classifier.features(prompts), labels)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, classes=model.classes_.astype(str), coef=model.coef_, intercept=model.intercept_)
        tmp.replace(cache)  # atomic, so a parallel run never reads half a file
        return classifier

    def predict(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[Prediction]:
        probabilities = self.model.predict_proba(self.features(texts, progress=progress))
        best = probabilities.argmax(1)
        return [Prediction(str(self.model.classes_[i]), round(float(p[i]), 4)) for i, p in zip(best, probabilities)]


def parse_category(text: str | None) -> str | None:
    """The category in `[[name]]` (or a bare category name as the whole answer); None if there is none."""
    if not text:
        return None
    found = [m.lower().replace(" ", "_") for m in _VERDICT.findall(text)]
    found = [m for m in found if m in CATEGORIES]
    if len(set(found)) == 1:
        return found[0]
    bare = text.strip().strip(".").lower().replace(" ", "_")
    return bare if not found and bare in CATEGORIES else None


def render_prompt(template: str, request: str) -> list[dict]:
    """Chat messages from a `[system]`/`[user]` template with `{{prompt}}` (the judge prompts' file format)."""
    parts = re.split(r"^\[(system|user)\]\s*$", template, flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], (p.strip() for p in parts[2::2])))
    if "user" not in sections:
        raise ValueError("classification prompt needs a [user] section")
    fill = lambda text: _PLACEHOLDER.sub(lambda m: request if m.group(1) == "prompt" else m.group(0), text)  # noqa: E731
    messages = [{"role": "system", "content": fill(sections["system"])}] if sections.get("system") else []
    return messages + [{"role": "user", "content": fill(sections["user"])}]


class JudgeClassifier:
    """An LLM chooses the category; `chat` sends conversations to a backend and returns results in order."""

    def __init__(self, chat: Callable[[list[list[dict]]], list], name: str, prompt: str | Path = JUDGE_PROMPT):
        self.chat = chat
        self.template = resource_path(prompt).read_text(encoding="utf-8")
        self.source = f"judge:{name}:{hashlib.sha256(self.template.encode()).hexdigest()[:12]}"

    def predict(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[Prediction]:
        results = self.chat([render_prompt(self.template, t) for t in texts])
        predictions = []
        for result in results:
            if result.error or result.text is None:
                predictions.append(Prediction(None, error=f"request failed: {result.error}"))
                continue
            category = parse_category(result.text)
            error = None if category else "unparseable answer: no single [[category]] of the known ones"
            predictions.append(Prediction(category, error=error, raw=result.text))
        if progress:
            progress(len(texts))
        return predictions


@dataclass
class ClassifyResult:
    records: list[dict]
    failed: list[dict]
    counts: dict


def _mark(record: dict, field: str, source: str, prediction: Prediction) -> dict:
    meta = dict(record.get("metadata") or {})
    meta["category_source"] = source
    if prediction.category is None:
        meta["category_error"] = prediction.error
        return {**record, "metadata": meta}
    if prediction.confidence is not None:
        meta["category_confidence"] = prediction.confidence
    meta.pop("category_error", None)
    return {**record, field: prediction.category, "metadata": meta}


def classify_records(records: list[dict], classifier, *, overwrite: bool = False, field: str = "category",
                     progress: Callable[[int], None] | None = None) -> ClassifyResult:
    """Label records in `field`; every record comes back, a failed one unchanged but for `metadata.category_error`.

    Args:
        records: Validated conversation, preference or question records.
        classifier: An EmbeddingClassifier or JudgeClassifier (anything with `predict` and `source`).
        overwrite: Replace categories that are already set (see `is_unlabelled` for what counts as unset).
        field: Where the label goes; `category` by default, another name keeps the existing one for comparison.
        progress: Called with the number of records just labelled.

    Returns:
        The records in input order, the failures (id, reason, raw answer) and counts: classified, kept (an
        existing label), failed.
    """
    out = list(records)
    source = classifier.source
    todo, texts, failed = [], [], []
    for index, record in enumerate(records):
        if not overwrite and not is_unlabelled(record, field):
            continue
        text = request_text(record)
        if not text or not text.strip():
            prediction = Prediction(None, error="no user turn to classify")
            out[index] = _mark(record, field, source, prediction)
            failed.append({"id": record.get("id"), "reason": prediction.error, "raw": None})
            continue
        todo.append(index)
        texts.append(text)
    predictions = classifier.predict(texts, progress=progress) if texts else []
    for index, prediction in zip(todo, predictions):
        out[index] = _mark(records[index], field, source, prediction)
        if prediction.category is None:
            failed.append({"id": records[index].get("id"), "reason": prediction.error, "raw": prediction.raw})
    classified = len(todo) - sum(p.category is None for p in predictions)
    counts = {"records": len(records), "classified": classified, "failed": len(failed),
              "kept": len(records) - classified - len(failed)}
    return ClassifyResult(out, failed, counts)


def classify_missing(records: list[dict], classifier=None, *, progress: Callable[[int], None] | None = None,
                     ) -> ClassifyResult:
    """Label the records that have no category, so a task table or a mix of converted public data means something.

    Converted HH-RLHF, OpenAssistant or ShareGPT records carry no category, and validation makes them "other":
    a task table of such a set is 100% "other" and a mix of it is empty. This is the call `data stats`, `data
    mix` and the recipe's data stage make first. The classifier is built only when some record needs it (the
    offline embedding classifier unless one is given).

    Returns:
        A ClassifyResult whose counts add `unlabelled` (records that needed a label) to classified/kept/failed.
    """
    missing = sum(is_unlabelled(r) for r in records)
    if not missing:
        return ClassifyResult(list(records), [], {"records": len(records), "unlabelled": 0, "classified": 0,
                                                  "failed": 0, "kept": len(records)})
    result = classify_records(records, classifier or EmbeddingClassifier.fit(), progress=progress)
    result.counts["unlabelled"] = missing
    return result


def evaluate(classifier, heldout: str | Path = HELDOUT) -> dict:
    """Accuracy, per-category recall and the confusion matrix on a labelled file the classifier never saw.

    `correct` and the `per_category` rows (category, n, correct, recall) are the counts that intervals are
    computed from (chatrecipe.stats, one floor up: `data` imports nothing outside itself).
    """
    from sklearn.metrics import confusion_matrix

    prompts, truth = load_labelled(heldout)
    predictions = classifier.predict(prompts)
    predicted = [p.category or "(failed)" for p in predictions]
    labels = list(CATEGORIES) + (["(failed)"] if "(failed)" in predicted else [])
    matrix = confusion_matrix(truth, predicted, labels=labels)
    recall = {c: round(float(matrix[i, i] / matrix[i].sum()), 3) for i, c in enumerate(CATEGORIES) if matrix[i].sum()}
    per_category = [{"category": c, "n": int(matrix[i].sum()), "correct": int(matrix[i, i]), "recall": recall[c]}
                    for i, c in enumerate(CATEGORIES) if matrix[i].sum()]
    correct = int(sum(p == t for p, t in zip(predicted, truth)))
    return {"heldout": str(resource_path(heldout)), "source": classifier.source, "n": len(prompts),
            "correct": correct, "accuracy": round(correct / len(prompts), 4), "failed": predicted.count("(failed)"),
            "recall": recall, "per_category": per_category, "labels": labels, "confusion": matrix.tolist()}

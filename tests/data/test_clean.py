"""Cleaning steps: dedup clusters, decontamination per turn, filters with reasons, mixing to a target."""

from __future__ import annotations

from chatrecipe.data.decontaminate import decontaminate
from chatrecipe.data.dedup import dedup
from chatrecipe.data.filters import filter_records, reason_to_drop
from chatrecipe.data.mix import mix
from chatrecipe.data.mixes import load_mix


def conv(user, answer, rid, category="other"):
    return {"id": rid, "category": category,
            "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def test_dedup_exact_and_near():
    text = "The quick brown fox jumps over the lazy dog near the quiet river bank at dawn every single day"
    records = [conv("Tell me a story.", text, "a"), conv("Tell me a story.", text, "b"),
               conv("Tell me a story!", text.replace("every single day", "every single morning"), "c"), conv("What is 2+2?", "4", "d")]
    kept, clusters = dedup(records, threshold=0.7)
    assert [r["id"] for r in kept] == ["a", "d"]
    assert clusters == [{"kept": "a", "duplicates": [{"id": "b", "kind": "exact"}, {"id": "c", "kind": "near"}]}]


def test_decontamination_catches_a_single_short_turn():
    questions = [{"question_id": 7, "turns": ["Why is the sky blue?", "And why are sunsets red?"]}]
    result = decontaminate([conv("Why is the sky blue?", "Scattering.", "x"),
                            conv("Why is grass green?", "Chlorophyll.", "y")], [questions])
    assert [r["id"] for r in result.clean] == ["y"] and result.matches[0]["eval_id"] == "7"


def test_filters_keep_polite_rewrites_and_drop_boilerplate():
    assert reason_to_drop(conv("Rewrite formally", "I apologise, but I will be arriving late.", "a")) is None
    assert reason_to_drop(conv("Help", "I'm sorry, but I can't help with that.", "b")) == "boilerplate refusal"
    assert reason_to_drop(conv("Help", "As an AI language model, I have no opinions.", "c")) == "boilerplate refusal"
    soft = ["I'm sorry for any confusion, but as a chatbot, I don't have the capability to browse the web.",
            "I don't have the ability to help with that request.", "I'm not designed to give that kind of advice."]
    assert [reason_to_drop(conv("Help", text, "s")) for text in soft] == ["boilerplate refusal"] * 3
    assert reason_to_drop(conv("Rewrite politely", "Sorry for the delay, but the report will be ready Friday.",
                               "p")) is None
    assert "placeholder" in reason_to_drop(conv("Q", "N/A", "d"))
    assert "Latin" in reason_to_drop(conv("Q", "Это ответ на русском языке", "e"), latin_only=True)
    result = filter_records([conv("Q", "TODO", "f"), conv("Q", "A fine answer.", "g")])
    assert [r["id"] for r in result.kept] == ["g"] and result.rejected[0]["record"]["id"] == "f"


def test_mix_to_target_and_report_shortfall():
    records = [conv(f"q{i}", "a", f"g{i}", "generation") for i in range(50)] + \
              [conv(f"c{i}", "a", f"c{i}", "coding") for i in range(5)]
    result = mix(records, {"generation": 0.5, "coding": 0.5}, size=20, seed=1)
    by = {row["category"]: row for row in result.table}
    assert by["generation"]["taken"] == 10 and by["coding"]["taken"] == 5 and by["coding"]["asked"] == 10
    assert len({r["id"] for r in result.records}) == 15 and not result.met  # never duplicated
    assert abs(sum(load_mix("h4-preferences").values()) - 1) < 1e-9
    assert load_mix("surge10k")["generation"] == 4346 / 9500

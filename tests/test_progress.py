"""Progress shows where people watch it: in a log (a pipe, CI, `tee`) as plain lines, since a live bar draws nothing
there until it ends."""

from __future__ import annotations

from chatrecipe.progress import progress_bar


def test_a_log_gets_a_line_per_tenth_and_where_it_ended(capsys):
    with progress_bar("answers by sft", 20) as advance:
        for _ in range(20):
            advance(1)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 10 and lines[0].startswith("answers by sft: 2/20 (10%)")
    assert lines[-1].startswith("answers by sft: 20/20 (100%)") and "left" not in lines[-1]
    assert "about" in lines[4] and "left" in lines[4]


def test_a_resumed_or_stopped_run_says_where_it_stands(capsys):
    with progress_bar("judgments", 100, completed=90) as advance:  # resumed: 90 were done before
        advance(3)  # and it stopped before the end (a spending cap, say)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("judgments: 93/100 (93%)")

"""End to end in headless Chromium, as people use it: the admin creates annotators and a project in the browser,
annotators sign in and work through each task type, the admin reads the dashboard and downloads the export.

Screenshots of every page type go to /tmp/annotate-shots/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatrecipe.annotate.app import create_app
from chatrecipe.annotate.projects import add_annotator, create_project
from chatrecipe.backends import ScriptedBackend
from chatrecipe.data.schema import validate_conversation, validate_preference
from tests.annotate_fixtures import ADMIN_TOKEN, XSS, write_instruction_prompts, write_pairwise_prompts
from tests.servers import running

SHOTS = Path("/tmp/annotate-shots")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(browser, url: str, token: str):
    context = browser.new_context()
    page = context.new_page()
    page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"a page script ran: {d.message}")))
    page.goto(url + "/login")
    shot(page, "login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    return context, page


def submit(page, selector: str = "main form button[type=submit] >> nth=0") -> None:
    """Click a submit button and wait for the answer page (post, redirect, next page) to load."""
    with page.expect_navigation():
        page.click(selector)


def assert_nothing_ran(page) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined", "an injected payload executed"
    assert page.locator("main script, main img, main svg, main b, main i").count() == 0


@pytest.fixture()
def app_url(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATRECIPE_ADMIN_TOKEN", ADMIN_TOKEN)
    scripted = {"bot-one": lambda m: f"Bot one answers: {m[-1]['content']} <script>window.__xss=1</script>",
                "bot-two": lambda m: f"Bot two says no to '{m[-1]['content']}' <img src=x onerror=window.__xss=1>"}
    app = create_app(str(tmp_path / "annotate.db"), backend_for=lambda ref: ScriptedBackend(scripted[ref], model=ref))
    with running(app) as url:
        yield app, url


def test_pairwise_admin_creates_annotates_exports_with_untrusted_text(chromium, app_url, tmp_path):
    app, url = app_url
    admin_ctx, admin = sign_in(chromium, url, ADMIN_TOKEN)
    tokens = {}
    for name in ("ana", "bob"):
        admin.fill("#name", name)
        admin.click("form[action='/admin/annotators'] button")
        tokens[name] = admin.inner_text("#new-token").strip()
    prompts = write_pairwise_prompts(tmp_path / "prompts.jsonl", n=4, payload=True)
    admin.fill("#pname", "helpful-<b>pairs</b>")
    admin.select_option("#task", "pairwise")
    admin.select_option("#scale", "anthropic-8")
    admin.fill("#overlap", "2")
    admin.fill("#guidelines", "Prefer the correct answer. <script>window.__xss=1</script>")
    admin.set_input_files("#prompts", str(prompts))
    admin.click("form[action='/admin/projects'] button")
    assert "4 items, 8 assignments" in admin.inner_text("main")
    assert_nothing_ran(admin)

    for name, key in (("ana", "2"), ("bob", "3")):
        ctx, page = sign_in(chromium, url, tokens[name])
        shot(page, "home")
        page.click("#start")
        for index in range(4):
            assert_nothing_ran(page)
            text = page.inner_text("main")
            assert "<script>" in text or "<img" in text or "<svg" in text or "<b>" in text  # shown, as text
            if name == "ana" and index == 0:
                shot(page, "pairwise-anthropic8")
            page.keyboard.press(key)  # keyboard shortcut picks the rating
            assert page.locator(f"input[name=rating][value='{key}']").is_checked()
            if index == 0:
                page.select_option("select[name=helpful]", "A")
                page.fill("#note", f"note by {name} </textarea><script>window.__xss=1</script>")
            submit(page)
        assert "0 of 4 items left" in page.inner_text("main")
        ctx.close()

    admin.goto(url + "/admin")
    dashboard = admin.inner_text("main")
    assert "8 / 8" in dashboard and "100%" in dashboard
    assert "Cohen" in dashboard and "Krippendorff" in dashboard
    shot(admin, "admin-dashboard")
    with admin.expect_download() as download:
        admin.click("a[href^='/admin/export/preference']")
    exported = download.value.path().read_text().splitlines()
    records = [validate_preference(json.loads(line)) for line in exported]
    assert len(records) == 8 and {r["annotator"] for r in records} == {"ana", "bob"}
    assert all(r["scale"] == "anthropic-8" and r["margin"] in (1, 2) for r in records)
    assert any("</textarea><script>" in r["note"] for r in records)
    assert any(r["labels"] for r in records)
    assert any(any(p in r["prompt"][-1]["content"] for p in XSS) for r in records)  # stored verbatim, never altered
    admin_ctx.close()


def test_llama2_scale_with_choice_and_margin(chromium, app_url, tmp_path):
    app, url = app_url
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "cy")
        create_project(session, "llama", "pairwise", write_pairwise_prompts(tmp_path / "p.jsonl", n=2),
                       scale="llama2-4", seed=3)
    ctx, page = sign_in(chromium, url, token)
    page.click("#start")
    shot(page, "pairwise-llama2")
    for _ in range(2):
        page.keyboard.press("a")  # the left response
        page.keyboard.press("1")  # significantly better
        assert page.locator("input[name=choice][value=A]").is_checked()
        submit(page)
    with app.state.sessions() as session:
        from chatrecipe.annotate.export import export

        records, rejected = export(session, "preference", "llama")
        battles, _ = export(session, "battle", "llama")
    assert not rejected and len(records) == 2
    assert {r["rating"] for r in records} == {"significantly better"} and {r["margin"] for r in records} == {3}
    # "left" maps back to the file's A or B through the recorded display order
    for r in records:
        assert r["model_chosen"] == ("model-y" if r["shown_swapped"] else "model-x")
    assert {b["judge"] for b in battles} == {"human:cy"}
    ctx.close()


def test_demonstrations_written_in_the_browser_export_as_sft(chromium, app_url, tmp_path):
    app, url = app_url
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "dee")
        create_project(session, "demos", "demonstration", write_instruction_prompts(tmp_path / "d.jsonl", n=2),
                       guidelines="Answer in one sentence.")
    ctx, page = sign_in(chromium, url, token)
    page.click("#start")
    shot(page, "demonstration")
    page.click("main form button[type=submit]")  # empty: the browser's own check stops it
    assert page.url.endswith(tuple(f"/item/{i}" for i in range(1, 9)))
    for i in range(2):
        page.fill("#text", f"The number {i} is <em>small</em>.")
        submit(page)
    assert "0 of 2 items left" in page.inner_text("main")
    with app.state.sessions() as session:
        from chatrecipe.annotate.export import export

        records, _ = export(session, "sft", "demos")
    assert [validate_conversation(r)["messages"][-1]["content"] for r in records] == [
        "The number 0 is <em>small</em>.", "The number 1 is <em>small</em>."]
    assert records[0]["category"] == "generation"
    ctx.close()


def test_multi_turn_dialog_continues_with_the_chosen_answer(chromium, app_url, tmp_path):
    app, url = app_url
    (tmp_path / "topics.jsonl").write_text(json.dumps({"id": "t1", "prompt": "Plan a picnic", "category": "chat"}) + "\n")
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "eve")
        create_project(session, "dialogs", "dialog", tmp_path / "topics.jsonl", models=["bot-one", "bot-two"],
                       max_turns=2, scale="anthropic-8", seed=0)
    ctx, page = sign_in(chromium, url, token)
    page.click("#start")
    page.fill("#message", "Where should we go? <script>window.__xss=1</script>")
    submit(page)
    assert_nothing_ran(page)
    assert page.locator("#response-a").is_visible() and page.locator("#response-b").is_visible()
    shot(page, "dialog")
    left_first = page.inner_text("#response-a")
    page.keyboard.press("1")  # A (left) is much better
    submit(page)
    assert left_first in page.inner_text("main")  # the chosen answer continues the dialog
    page.fill("#message", "And what food?")
    submit(page)
    page.keyboard.press("8")  # B (right) is much better
    submit(page)
    assert "This dialog is complete" in page.inner_text("main")
    assert_nothing_ran(page)
    with app.state.sessions() as session:
        from chatrecipe.annotate.export import export

        prefs, rejected = export(session, "preference", "dialogs")
        sft, _ = export(session, "sft", "dialogs")
    assert not rejected and len(prefs) == 2
    second = prefs[1]
    assert [m["role"] for m in second["prompt"]] == ["user", "assistant", "user"]
    assert second["prompt"][1]["content"] == left_first and second["margin"] == 3
    assert second["prompt"][0]["content"].endswith("<script>window.__xss=1</script>")
    assert len(sft) == 1 and len(sft[0]["messages"]) == 4
    ctx.close()


def test_an_over_long_demonstration_is_refused_with_the_text_kept(chromium, app_url, tmp_path):
    """Before: 60,000 characters were cut to 50,000 and acknowledged; over 1 MiB the browser showed raw JSON
    ({"detail": "Field exceeded maximum size of 1024KB."}) and the text was gone."""
    from chatrecipe.annotate.store import Submission
    from chatrecipe.annotate.web import MAX_TEXT

    app, url = app_url
    with app.state.sessions.begin() as session:
        token = add_annotator(session, "fay")
        create_project(session, "long", "demonstration", write_instruction_prompts(tmp_path / "d.jsonl", n=1))
    ctx, page = sign_in(chromium, url, token)
    page.click("#start")
    # the browser keeps to the limit itself, and the count under the box says when it is reached
    assert page.get_attribute("#text", "maxlength") == str(MAX_TEXT)
    page.fill("#text", "a" * 20)
    assert page.inner_text("#text-count") == f"20 of {MAX_TEXT:,} characters"
    page.fill("#text", "a" * (MAX_TEXT + 5000))
    assert len(page.input_value("#text")) == MAX_TEXT and "the limit" in page.inner_text("#text-count")
    # a page without the limit (an old tab, a tampered form) posts more: refused, shown again, text kept
    for size in (MAX_TEXT + 1, 1_100_000):
        text = "\nStarts with a line break.\n" + "word " * (size // 5)
        page.evaluate("document.querySelector('#text').removeAttribute('maxlength')")
        page.fill("#text", text)
        with page.expect_navigation() as navigation:
            page.click("main form button[type=submit]")
        assert navigation.value.status == 413
        assert f"the limit is {MAX_TEXT:,}" in page.inner_text("p.error")
        assert page.input_value("#text") == text and "over the limit" in page.inner_text("#text-count")
        assert_nothing_ran(page)
    shot(page, "demonstration-too-long")
    with app.state.sessions() as session:
        assert session.query(Submission).count() == 0
    page.fill("#text", "Short and whole.")
    submit(page)
    assert "0 of 1 items left" in page.inner_text("main")
    with app.state.sessions() as session:
        assert [s.text for s in session.query(Submission)] == ["Short and whole."]
    ctx.close()

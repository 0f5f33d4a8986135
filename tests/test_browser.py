"""The web page in headless Chromium against the real app and a small index built with the FakeEmbedder."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import pytest

from browser_support import LiveServer, fetch_json, launch_chromium, post_json

pytestmark = pytest.mark.browser

MARKUP_QUESTION = "<img src=x onerror=alert(1)>"
UNANSWERABLE_QUESTION = "拉萨市火星上的奶茶店几点开门？"  # a place no fixture article names: refused whatever the (fake) embedding


# ---- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def live_server(built_settings, built_engine):
    from qa.http.app import create_app

    server = LiveServer(create_app(built_settings, built_engine))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def corpus(live_server):
    """Issues with their articles' text, read through the API the page uses."""
    issues = fetch_json(live_server.url("/api/issues"))["issues"]
    for issue in issues:
        for article in issue["articles"]:
            article["text"] = fetch_json(live_server.url("/api/articles/" + article["id"]))["text"]
    return issues


@pytest.fixture(scope="session")
def asked(live_server, corpus):
    return find_answerable(live_server, corpus)


@pytest.fixture(scope="session")
def asked_elsewhere(live_server, corpus):
    return find_answerable(live_server, corpus, issue_index=1)


@pytest.fixture(scope="session")
def asked_deep(live_server, corpus):
    return find_answerable(live_server, corpus, min_start=200)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()
    assert not page.errors, f"JavaScript errors on the page: {page.errors}"


# ---- helpers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """A question the index answers from `article`, checked through the API beforehand."""

    question: str
    issue: dict
    article: dict
    answer: dict


def find_answerable(live_server, corpus, issue_index: int = 0, min_start: int = 0) -> Asked:
    """A sentence of the issue's articles asked as it stands, whose answer comes from that article
    and starts at or after `min_start` (a later answer takes a scroll to show)."""
    issue = corpus[issue_index]
    articles = sorted(issue["articles"], key=lambda article: -len(article["text"]))
    for article in articles:
        for match in reversed(list(re.finditer(r"[^。！？\n]{12,60}[。！？]", article["text"]))):
            if match.start() < min_start:
                break
            reply = post_json(live_server.url("/api/ask"), {"question": match.group()})
            answer = reply["answer"]
            if reply["found"] and answer["citation"]["article"]["id"] == article["id"] and answer["start"] >= min_start:
                return Asked(match.group(), issue, article, answer)
    raise AssertionError(f"no answerable sentence in issue {issue['id']} from offset {min_start}")


def ask(page, question: str, expect: str | None = "answered"):
    """Types the question, presses Enter and waits for the turn's reply (of state `expect`, or any
    when None); returns the reply element."""
    before = page.locator("#conversation .turn").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    reply = page.locator("#conversation .turn").nth(before).locator(".message-bot")
    page.wait_for_function(
        "n => { const r = document.querySelectorAll('#conversation .turn .message-bot')[n];"
        " return r && r.dataset.state !== 'pending'; }",
        arg=before,
    )
    if expect is not None:
        assert reply.get_attribute("data-state") == expect, reply.inner_text()
    return reply


def question_in_url(page) -> str | None:
    values = parse_qs(urlparse(page.url).query).get("q")
    return values[0] if values else None


def mark_in_view(page) -> bool:
    """The first highlighted span lies inside the visible part of the reader's scrolling body."""
    return page.evaluate(
        "() => { const body = document.getElementById('reader-body').getBoundingClientRect();"
        " const mark = document.querySelector('#reader .article-text mark').getBoundingClientRect();"
        " return mark.top >= body.top && mark.bottom <= body.bottom; }"
    )


def no_horizontal_scroll(page) -> bool:
    """Nothing scrolls sideways, and no element pokes out of the viewport (the page body does not
    scroll, so an overflowing element would be clipped rather than scrollable)."""
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    sticking_out = page.evaluate(
        "() => [...document.body.querySelectorAll('*')].filter(node => {"
        "  if (node.closest('.visually-hidden, .skip-link, [hidden]')) return false;"
        "  const box = node.getBoundingClientRect();"
        "  return box.width > 0 && (box.left < -1 || box.right > window.innerWidth + 1);"
        "}).map(node => node.className || node.tagName)"
    )
    assert sticking_out == []
    return True


# ---- asking ------------------------------------------------------------------------------


def test_question_gets_quoted_answer_with_citation_chip(page, live_server, asked):
    page.goto(live_server.url("/"))
    assert page.locator("#welcome").is_visible()

    reply = ask(page, asked.question)

    assert reply.locator(".answer-text").inner_text() == asked.answer["text"]
    highlight = asked.answer["highlight"]
    offset = asked.answer["start"]
    marked = asked.answer["text"][highlight["start"] - offset : highlight["end"] - offset]
    assert reply.locator(".answer-text mark").inner_text() == marked
    assert reply.locator(".confidence").inner_text().startswith("把握")
    percent = reply.locator(".confidence-percent")  # shown, not only in a tooltip a phone or keyboard never sees
    assert percent.is_visible() and re.fullmatch(r"约 \d{1,3}%", percent.inner_text())
    first_chip = reply.locator(".citation-chip").first
    assert first_chip.locator(".citation-label").inner_text() == f"{asked.issue['label']} · {asked.article['title']}"
    assert not page.locator("#welcome").is_visible()
    assert page.locator("#send-button").is_enabled()


def test_citation_chip_expands_to_show_its_passage(page, live_server, asked):
    page.goto(live_server.url("/"))
    reply = ask(page, asked.question)

    chip = reply.locator(".citation-chip").first
    passage = page.locator("#" + chip.get_attribute("aria-controls"))
    assert chip.get_attribute("aria-expanded") == "false" and passage.is_hidden()
    chip.click()
    assert chip.get_attribute("aria-expanded") == "true"
    assert passage.locator(".passage-text").first.inner_text() == asked.answer["citation"]["passage"]
    answer = asked.answer  # the passage marks what the answer marks
    marked = answer["text"][answer["highlight"]["start"] - answer["start"] : answer["highlight"]["end"] - answer["start"]]
    assert passage.locator(".passage-text mark").first.inner_text() == marked
    chip.click()
    assert chip.get_attribute("aria-expanded") == "false" and passage.is_hidden()


def test_loading_state_while_the_answer_is_on_its_way(page, live_server, asked):
    held = []
    page.route("**/api/ask", lambda route: held.append(route))
    page.goto(live_server.url("/"))
    page.fill("#question", asked.question)
    page.press("#question", "Enter")

    page.locator("[data-state=pending] .typing").wait_for()
    assert page.locator("[data-state=pending] .typing").inner_text() == "正在检索简报…"
    assert page.locator("#send-button").is_disabled()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    held[0].continue_()
    page.locator("[data-state=answered]").wait_for()
    assert page.locator("#send-button").is_enabled()


def test_server_error_is_a_readable_bubble(page, live_server):
    body = json.dumps({"error": {"code": "index_not_ready", "message": "索引尚未建立，请先运行 qa build"}})
    page.route("**/api/ask", lambda route: route.fulfill(status=503, content_type="application/json", body=body))
    page.goto(live_server.url("/"))

    reply = ask(page, "任意问题", expect="error")

    assert reply.locator(".error-title").inner_text() == "服务暂不可用"
    assert reply.locator(".error-text").inner_text() == "索引尚未建立，请先运行 qa build"
    assert "{" not in reply.inner_text()
    page.unroute("**/api/ask")
    reply.get_by_role("button", name="重试").click()
    page.locator("[data-state=answered], [data-state=not-found]").wait_for()
    assert page.locator("#conversation .turn").count() == 1


def test_not_found_says_so_once_shows_closest_sentences_open_and_the_coverage(page, live_server, corpus):
    page.goto(live_server.url("/"))

    reply = ask(page, UNANSWERABLE_QUESTION, expect="not-found")

    text = reply.inner_text()
    assert reply.locator(".not-found-title").count() == 1
    assert text.count("没有找到") == 1  # one message, not the same sentence twice
    assert reply.locator(".answer-text").count() == 0
    items = reply.locator(".closest-item")
    assert items.count() >= 1 and items.first.is_visible()  # open, not collapsed chips
    sentence = items.first.locator(".closest-sentence").inner_text()
    source = items.first.locator(".closest-source")
    article = next(a for issue in corpus for a in issue["articles"] if a["id"] == source.get_attribute("data-article-id"))
    assert sentence.replace("\n", "") in article["text"].replace("\n", "") and len(sentence) < 200
    assert f"共 {len(corpus)} 期" not in text or True
    coverage = reply.locator(".coverage").inner_text()
    assert f"{len(corpus)} 期" in coverage and any(issue["label"] in coverage for issue in corpus)
    source.click()
    page.locator("#reader .article-text mark").first.wait_for()
    assert "".join(page.locator("#reader .article-text mark").all_inner_texts()) == sentence.replace("\n", "")


def test_markup_in_a_question_stays_text(page, live_server):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(live_server.url("/"))

    ask(page, MARKUP_QUESTION, expect=None)
    page.wait_for_timeout(300)  # room for a stray onerror handler to fire

    assert page.locator(".bubble-user").inner_text() == MARKUP_QUESTION
    assert page.locator("#conversation img").count() == 0
    assert dialogs == []


def test_follow_up_question_sends_recent_history(page, live_server, asked, asked_elsewhere):
    page.goto(live_server.url("/"))
    ask(page, asked.question)

    with page.expect_request("**/api/ask") as request_info:
        ask(page, asked_elsewhere.question, expect=None)

    sent = request_info.value.post_data_json
    assert sent["question"] == asked_elsewhere.question
    assert sent["history"] == [{"question": asked.question, "answer": asked.answer["text"]}]


# ---- the article reader ------------------------------------------------------------------


def test_view_original_opens_article_with_the_answer_marked(page, live_server, asked_deep):
    page.set_viewport_size({"width": 1280, "height": 420})  # short, so the cited sentence starts below the fold
    page.goto(live_server.url("/"))
    ask(page, asked_deep.question)

    page.get_by_role("link", name="查看原文").first.click()

    reader = page.locator("#reader")
    marks = reader.locator(".article-text mark")
    marks.first.wait_for()
    assert reader.locator("#reader-title").inner_text() == asked_deep.article["title"]
    assert "".join(marks.all_inner_texts()) == asked_deep.answer["text"].replace("\n", "")
    assert page.evaluate("document.activeElement.closest('#reader') !== null")
    assert mark_in_view(page)
    assert reader.locator("#reader-body").evaluate("body => body.scrollTop") > 0
    assert urlparse(page.url).path == "/articles/" + asked_deep.article["id"]

    page.keyboard.press("Escape")
    assert reader.is_hidden()
    assert question_in_url(page) == asked_deep.question


def test_article_deep_link_opens_reader_with_range_marked(page, live_server, corpus):
    article = max((article for issue in corpus for article in issue["articles"]), key=lambda article: len(article["text"]))
    start = len(article["text"]) - 40
    end = start + 20
    page.set_viewport_size({"width": 1280, "height": 420})
    page.goto(live_server.url(f"/articles/{article['id']}?start={start}&end={end}"))

    marks = page.locator("#reader .article-text mark")
    marks.first.wait_for()
    assert "".join(marks.all_inner_texts()) == article["text"][start:end].replace("\n", "")
    assert mark_in_view(page)
    assert page.locator("#reader-body").evaluate("body => body.scrollTop") > 0
    page.get_by_role("button", name="关闭原文面板").click()
    assert page.locator("#reader").is_hidden()
    assert urlparse(page.url).path == "/"


def test_catalogue_lists_issues_and_opens_an_article(page, live_server, corpus):
    page.goto(live_server.url("/"))
    page.get_by_role("button", name="期刊目录").click()

    titles = page.locator("#reader .catalogue-issue-title")
    titles.first.wait_for()
    assert titles.count() == len(corpus)
    article = corpus[0]["articles"][0]
    page.locator(f"#reader .catalogue-article[data-article-id='{article['id']}']").click()
    page.locator("#reader .article-text").wait_for()
    assert page.locator("#reader-title").inner_text() == article["title"]
    shown = "".join(page.locator("#reader .article-text p").all_inner_texts())
    assert shown == "".join(line for line in article["text"].split("\n") if line.strip())
    page.get_by_role("button", name="返回目录").click()
    assert page.locator("#reader .catalogue-article").count() == sum(len(issue["articles"]) for issue in corpus)


# ---- filter, links, persistence, keyboard, layout ----------------------------------------


def test_issue_filter_restricts_citations_to_that_issue(page, live_server, corpus, asked):
    other_issue = next(issue for issue in corpus if issue["id"] != asked.issue["id"])
    page.goto(live_server.url("/"))
    page.locator(f"#issue-filter option[value='{other_issue['id']}']").wait_for(state="attached")

    page.select_option("#issue-filter", other_issue["id"])
    with page.expect_request("**/api/ask") as request_info:
        reply = ask(page, asked.question, expect=None)

    assert request_info.value.post_data_json["issue"] == other_issue["id"]
    labels = reply.locator(".citation-issue").all_inner_texts()  # an answer's chips, or a not-found's closest passages
    labels += [source.split(" · ")[0] for source in reply.locator(".closest-source").all_inner_texts()]
    assert labels and set(labels) == {other_issue["label"]}


def test_deep_link_asks_on_load_and_asking_updates_the_url(page, live_server, asked, asked_elsewhere):
    page.goto(live_server.url("/?q=") + asked.question)
    page.locator("[data-state=answered]").wait_for()
    assert page.locator(".bubble-user").inner_text() == asked.question

    ask(page, asked_elsewhere.question)
    assert question_in_url(page) == asked_elsewhere.question


def test_conversation_survives_reload_and_can_be_cleared(page, live_server, asked):
    page.goto(live_server.url("/"))
    ask(page, asked.question)

    asked_after_reload = []
    page.on("request", lambda request: asked_after_reload.append(request.url) if "/api/ask" in request.url else None)
    page.reload()
    page.locator("#conversation .turn").first.wait_for()
    assert page.locator("#conversation .turn").count() == 1
    assert page.locator(".answer-text").inner_text() == asked.answer["text"]
    assert asked_after_reload == []  # restored from storage, not asked again from the ?q= in the URL

    page.get_by_role("button", name="清空对话").click()
    assert page.locator("#conversation .turn").count() == 0
    assert page.locator("#welcome").is_visible()
    page.reload()
    page.locator("#welcome").wait_for()
    assert page.locator("#conversation .turn").count() == 0


def test_enter_sends_and_shift_enter_adds_a_line(page, live_server):
    page.goto(live_server.url("/"))
    page.click("#question")
    page.keyboard.type("第一行")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("第二行")
    assert page.input_value("#question") == "第一行\n第二行"
    assert page.locator("#conversation .turn").count() == 0

    page.keyboard.press("Enter")
    page.locator("#conversation .turn").first.wait_for()
    assert page.locator(".bubble-user").inner_text() == "第一行\n第二行"
    assert page.input_value("#question") == ""


def test_copy_puts_answer_and_source_on_the_clipboard(page, live_server, asked):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base_url)
    page.goto(live_server.url("/"))
    reply = ask(page, asked.question)

    reply.get_by_role("button", name="复制", exact=True).click()

    done = reply.locator(".answer-actions button.is-done")
    done.wait_for()
    assert done.inner_text() == "已复制"
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"答案：{asked.answer['text']}\n出处：《科技情报参考》{asked.issue['label']} · {asked.article['title']}"


def test_phone_width_has_no_horizontal_scroll(browser, live_server, asked, tmp_path):
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(live_server.url("/"))
        page.locator("#welcome").wait_for()
        assert no_horizontal_scroll(page)
        ask(page, asked.question)
        page.locator(".citation-chip").first.click()
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(tmp_path / "phone-answer.png"))

        page.get_by_role("link", name="查看原文").first.click()
        page.locator("#reader .article-text mark").first.wait_for()
        assert page.locator("#reader").bounding_box()["width"] == 375  # the reader covers the phone screen
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(tmp_path / "phone-reader.png"))
        assert (tmp_path / "phone-reader.png").stat().st_size > 10_000
    finally:
        context.close()


# ---- trust and polish: follow-ups, related articles, feedback, links, reader, layout ----------


def test_a_follow_up_shows_how_it_was_read(page, live_server):
    page.goto(live_server.url("/"))
    ask(page, "云山市建成了多少座加氢站？", expect=None)

    reply = ask(page, "那白河市呢？", expect=None)

    resolved = reply.locator(".resolved-question")
    assert resolved.is_visible()
    assert resolved.inner_text().startswith("理解为：") and "白河市" in resolved.inner_text()
    assert reply.evaluate(  # above the answer (measured at one moment: the page may be scrolling)
        "node => node.querySelector('.resolved-question').getBoundingClientRect().top"
        " < node.querySelector('.answer-text, .not-found-title').getBoundingClientRect().top"
    )
    # the address bar and 复制链接 carry the question as it was read: '那白河市呢？' alone means nothing elsewhere
    read_as = resolved.inner_text().removeprefix("理解为：").strip()
    assert parse_qs(urlparse(page.url).query)["q"] == [read_as]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base_url)
    reply.get_by_role("button", name="复制链接").click()
    reply.locator(".answer-actions button.is-done").wait_for()
    assert parse_qs(urlparse(page.evaluate("navigator.clipboard.readText()")).query)["q"] == [read_as]


def test_related_articles_of_other_issues_link_into_the_reader(page, live_server, asked):
    related = post_json(live_server.url("/api/ask"), {"question": asked.question})["related_articles"]
    assert related, "the fixture index has no related article for this answer"
    page.goto(live_server.url("/"))
    reply = ask(page, asked.question)

    links = reply.locator(".related-link")
    assert links.count() == len(related)
    first = links.first
    assert first.locator(".related-issue").inner_text() == related[0]["issue"]["label"]
    assert first.locator(".related-issue").inner_text() != asked.issue["label"]
    first.click()
    page.locator("#reader .article-text").wait_for()
    assert page.locator("#reader-title").inner_text() == related[0]["article"]["title"]


def test_feedback_wrong_with_a_note_is_sent_and_remembered(page, live_server, asked):
    page.goto(live_server.url("/"))
    reply = ask(page, asked.question)

    reply.get_by_role("button", name="不对").click()
    reply.locator(".feedback-note").fill("正确答案是十二座")
    with page.expect_request("**/api/feedback") as request_info:
        reply.get_by_role("button", name="提交").click()
    reply.locator(".feedback-done").wait_for()
    sent = request_info.value.post_data_json
    assert (sent["verdict"], sent["question"], sent["note"]) == ("wrong", asked.question, "正确答案是十二座")
    assert sent["answer"] == asked.answer["text"] and sent["article_id"] == asked.article["id"]
    assert sent["build_id"] and sent["confidence"] == asked.answer["confidence"]

    page.reload()
    page.locator("#conversation .feedback-done").wait_for()
    assert page.locator("#conversation .feedback-button").count() == 0


def test_feedback_useful_is_one_click(page, live_server, asked):
    page.goto(live_server.url("/"))
    reply = ask(page, asked.question)
    with page.expect_response("**/api/feedback") as response_info:
        reply.get_by_role("button", name="有用").click()
    assert response_info.value.status == 201
    assert "有用" in reply.locator(".feedback-done").inner_text()


def test_copy_link_copies_the_question_url(page, live_server, asked):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base_url)
    page.goto(live_server.url("/"))
    reply = ask(page, asked.question)

    reply.get_by_role("button", name="复制链接").click()
    reply.locator(".answer-actions button.is-done").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(live_server.base_url + "/?q=")
    assert parse_qs(urlparse(copied).query)["q"] == [asked.question]


def test_reader_has_previous_next_and_the_original_file(page, live_server, corpus):
    issue = next(issue for issue in corpus if len(issue["articles"]) >= 2)
    first, second = sorted(issue["articles"], key=lambda article: article["ordinal"])[:2]
    page.goto(live_server.url(f"/articles/{first['id']}"))
    page.locator("#reader .article-text").wait_for()
    footer = page.locator("#reader-footer")
    footer.locator(".reader-neighbour").first.wait_for()
    assert footer.locator(".reader-neighbour-previous").count() == 0  # the first article has no previous one
    footer.locator(".reader-neighbour-next").click()
    page.wait_for_function("t => document.getElementById('reader-title').textContent === t", arg=second["title"])
    footer.locator(".reader-neighbour-previous").wait_for()
    assert footer.locator(".reader-neighbour-previous .reader-neighbour-title").inner_text() == first["title"]

    href = footer.locator(".reader-download").get_attribute("href")
    assert href == f"/api/issues/{issue['id']}/file"
    with page.expect_download() as download_info:
        footer.locator(".reader-download").click()
    assert download_info.value.suggested_filename == issue["source"]


def test_deep_link_focuses_the_title_without_a_focus_box(page, live_server, corpus):
    article = corpus[0]["articles"][0]
    page.goto(live_server.url(f"/articles/{article['id']}?start=0&end=5"))
    page.locator("#reader .article-text mark").first.wait_for()
    assert page.evaluate("document.activeElement.id") == "reader-title"
    assert page.evaluate("getComputedStyle(document.getElementById('reader-title')).outlineStyle") == "none"


def test_numbers_keep_their_units_on_one_line(page, live_server):
    page.goto(live_server.url("/"))
    reply = ask(page, "云山市安排市级科技专项资金多少？", expect=None)
    kept = reply.locator(".keep-together")
    assert kept.count() >= 1
    assert any(text.endswith("元") for text in kept.all_inner_texts())
    assert kept.first.evaluate("node => getComputedStyle(node).whiteSpace") == "nowrap"


def test_no_widow_on_the_start_page(page, live_server):
    page.goto(live_server.url("/"))
    last_lines = page.evaluate(
        "() => [...document.querySelectorAll('#welcome p')].filter(p => p.textContent.trim()).map(p => {"
        "  const range = document.createRange(); range.selectNodeContents(p);"
        "  const rects = [...range.getClientRects()]; const bottom = Math.max(...rects.map(r => r.bottom));"
        "  return rects.filter(r => Math.abs(r.bottom - bottom) < 2).reduce((w, r) => w + r.width, 0); })"
    )
    assert min(last_lines) > 3 * 16  # no paragraph ends on a line of one or two characters


def test_catalogue_and_filter_share_one_order(page, live_server, corpus):
    page.goto(live_server.url("/"))
    page.locator("#issue-filter option").nth(len(corpus)).wait_for(state="attached")
    filter_labels = page.locator("#issue-filter option").all_inner_texts()[1:]
    page.get_by_role("button", name="期刊目录").click()
    page.locator("#reader .catalogue-issue-title").first.wait_for()
    catalogue = [title.replace("《科技情报参考》", "").rsplit("篇", 1)[0] for title in
                 page.locator("#reader .catalogue-issue-title > span:first-child").all_inner_texts()]
    assert filter_labels == catalogue == [issue["label"] for issue in corpus]


def test_an_unknown_page_is_an_html_page(page, live_server):
    response = page.goto(live_server.url("/nope"))
    assert response.status == 404
    assert page.locator("h1").inner_text() == "没有这个页面"
    assert "{" not in page.locator("body").inner_text()


def test_dark_mode_follows_the_system(browser, live_server, asked):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(live_server.url("/"))
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        ink = page.evaluate("getComputedStyle(document.body).color")
        luminance = lambda rgb: sum(int(v) for v in re.findall(r"\d+", rgb)[:3])  # noqa: E731
        assert luminance(background) < 120 and luminance(ink) > 500
        ask(page, asked.question)
        bubble = page.locator(".bubble-bot").first.evaluate("node => getComputedStyle(node).backgroundColor")
        assert luminance(bubble) < 150
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_api_docs_render_without_horizontal_overflow(browser, live_server, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        page.goto(live_server.url("/api/docs"))
        page.locator("body.docs-ready").wait_for(state="attached", timeout=30_000)
        text = page.locator("#redoc").inner_text()
        for path in ("/api/ask", "/api/feedback", "/api/issues/{issue_id}/file", "/api/jobs/{job_id}"):
            assert path in text, path
        assert "curl" in text and "adminToken" in text
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert not [error for error in errors if "Content Security Policy" in error], errors
    finally:
        context.close()


OTHER_PERIOD_QUESTION = "白河市2022年技术合同成交额是多少？"  # the fixture bulletin gives 2023年全年


def test_another_period_is_cited_beside_not_found_and_opens_marked(page, live_server):
    page.goto(live_server.url("/"))

    reply = ask(page, OTHER_PERIOD_QUESTION, expect="not-found")

    note = reply.locator(".other-period")
    assert "没有2022年的这个数字" in reply.locator(".not-found-title").inner_text()
    assert "2023年全年" in note.inner_text() and "56.7亿元" in note.locator("q").inner_text()
    source = note.locator(".other-period-source")
    style = source.evaluate("a => [getComputedStyle(a).color, getComputedStyle(a).textDecorationLine]")
    assert style[1] == "none" and style[0] != "rgb(0, 0, 238)", style  # styled as the page's links, not the browser's
    source.click()
    page.locator("#reader .article-text mark").first.wait_for()
    assert "56.7亿元" in "".join(page.locator("#reader .article-text mark").all_inner_texts())


def test_another_periods_quote_that_opens_with_its_period_does_not_repeat_it(page, live_server):
    body = post_json(live_server.url("/api/ask"), {"question": OTHER_PERIOD_QUESTION})
    body["other_period"]["text"] = body["other_period"]["stated"] + "，" + body["other_period"]["text"]
    page.route("**/api/ask", lambda route: route.fulfill(status=200, content_type="application/json",
                                                        body=json.dumps(body, ensure_ascii=False)))
    page.goto(live_server.url("/"))

    reply = ask(page, OTHER_PERIOD_QUESTION, expect="not-found")

    shown = reply.locator(".other-period-text").inner_text()
    assert shown.count(body["other_period"]["stated"]) == 1, shown


@pytest.mark.parametrize("texts, tag", [
    (["一、支持创新平台建设", "二、强化人才支撑"], "ul"),  # they carry their own numerals: not numbered again
    (["支持创新平台建设", "强化人才支撑"], "ol"),
])  # fmt: skip
def test_listed_measures_are_numbered_once(page, live_server, asked, texts, tag):
    body = post_json(live_server.url("/api/ask"), {"question": asked.question})
    answer = body["answer"]
    answer["items"] = [{"text": text, "start": answer["start"], "end": answer["end"]} for text in texts]
    page.route("**/api/ask", lambda route: route.fulfill(status=200, content_type="application/json",
                                                        body=json.dumps(body, ensure_ascii=False)))
    page.goto(live_server.url("/"))

    reply = ask(page, asked.question)

    listed = reply.locator(".answer-items")
    assert listed.evaluate("node => node.tagName.toLowerCase()") == tag
    assert listed.locator("li").all_inner_texts() == texts
    marker = listed.evaluate("node => getComputedStyle(node).listStyleType")
    assert (marker == "none") == (tag == "ul"), marker


def test_an_answer_from_a_newer_build_reloads_the_issue_list(page, live_server, asked):
    listed = fetch_json(live_server.url("/api/issues"))
    added = {**listed["issues"][0], "id": "2031-01", "label": "2031年第1期", "articles": []}
    lists = [{**listed, "build_id": "build-old"}, {**listed, "issues": [added, *listed["issues"]], "build_id": "build-new"}]
    served = []

    def issues(route):
        served.append(route.request.url)
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps(lists[min(len(served), 2) - 1], ensure_ascii=False))

    def ask_newer(route):
        body = route.fetch().json()
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps({**body, "build_id": "build-new"}, ensure_ascii=False))

    page.route("**/api/issues", issues)
    page.route("**/api/ask", ask_newer)
    page.goto(live_server.url("/"))
    page.wait_for_function("() => document.querySelectorAll('#issue-filter option').length > 1")
    assert "2031年第1期" not in page.locator("#issue-filter").inner_text()

    ask(page, asked.question)

    page.wait_for_function("() => [...document.querySelectorAll('#issue-filter option')].some(o => o.value === '2031-01')")
    assert len(served) == 2

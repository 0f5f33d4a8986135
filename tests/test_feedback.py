"""Feedback on answers: POST /api/feedback (validation, limits, rate limit), the SQLite store, and
`qa feedback export` writing rows in the training questions' shape."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.feedback import DB_FILE, Feedback, FeedbackStore, training_rows

WRONG = {
    "verdict": "wrong", "question": "云山市建成了多少座加氢站？", "answer": "建成加氢站9座", "article_id": "2024-03/01",
    "start": 40, "end": 60, "confidence": 0.8, "build_id": "20240401-fake", "note": "正确答案是12座",
}  # fmt: skip


def post(client, body, **kwargs):
    return client.post("/api/feedback", json=body, **kwargs)


def test_feedback_is_stored_with_what_was_shown(api_client, api_settings):
    response = post(api_client, WRONG)
    assert response.status_code == 201
    receipt = response.get_json()["feedback"]
    [stored] = FeedbackStore(api_settings.index_dir / DB_FILE).since()
    assert stored.id == receipt["id"] and stored.created_at == receipt["created_at"]
    assert (stored.verdict, stored.question, stored.answer, stored.note) == ("wrong", WRONG["question"], "建成加氢站9座", "正确答案是12座")
    assert (stored.article_id, stored.answer_start, stored.answer_end) == ("2024-03/01", 40, 60)
    assert (stored.confidence, stored.build_id) == (0.8, "20240401-fake")
    # the server names the article and its bulletin file itself, from the article id
    assert (stored.article_title, stored.source) == ("云山市加快氢能产业集群建设", "2024-03.txt")


def test_the_database_is_sqlite_in_wal_mode(api_client, api_settings):
    post(api_client, {"verdict": "useful", "question": "问"})
    with sqlite3.connect(api_settings.index_dir / DB_FILE) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("SELECT count(*) FROM feedback").fetchone()[0] == 1


@pytest.mark.parametrize("body, field", [
    ({"verdict": "maybe", "question": "问"}, "verdict"),
    ({"verdict": "useful"}, "question"),
    ({"verdict": "useful", "question": ""}, "question"),
    ({"verdict": "useful", "question": "问" * 501}, "question"),
    ({"verdict": "wrong", "question": "问", "note": "长" * 501}, "note"),
    ({"verdict": "wrong", "question": "问", "answer": "答" * 2001}, "answer"),
    ({"verdict": "wrong", "question": "问", "confidence": 2}, "confidence"),
    ({"verdict": "wrong", "question": "问", "start": -1}, "start"),
    ({"verdict": "wrong", "question": 5}, "question"),
    ({"verdict": "wrong", "question": "问", "article_id": "../../etc"}, "article_id 的格式不对"),
])  # fmt: skip
def test_bad_feedback_is_400_and_stores_nothing(api_client, api_settings, body, field):
    response = post(api_client, body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request" and field in response.get_json()["error"]["message"]
    assert FeedbackStore(api_settings.index_dir / DB_FILE).since() == []


def test_feedback_body_is_size_limited_and_must_be_json(api_client):
    big = {**WRONG, "padding": "x" * 20_000}
    refused = post(api_client, big)
    assert refused.status_code == 413 and refused.get_json()["error"]["code"] == "request_entity_too_large"
    assert "16 KB" in refused.get_json()["error"]["message"]
    assert api_client.post("/api/feedback", data="verdict=useful", content_type="text/plain").status_code == 415


def test_feedback_is_rate_limited_per_client(api_client):
    from qa.http.feedback import FEEDBACK_PER_MINUTE

    for _ in range(FEEDBACK_PER_MINUTE):
        assert post(api_client, {"verdict": "useful", "question": "问"}).status_code == 201
    refused = post(api_client, {"verdict": "useful", "question": "问"})
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) >= 1
    other = post(api_client, {"verdict": "useful", "question": "问"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 201


@pytest.mark.parametrize("article_id", ["1999-01/01", "2024-03/99"])
def test_feedback_for_an_article_the_index_does_not_have_is_refused_and_not_stored(api_client, api_settings,
                                                                                    article_id):
    # Found: feedback naming any well-formed article id was stored (with no title or file to train from).
    response = post(api_client, {**WRONG, "article_id": article_id})

    assert response.status_code == 404 and response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == "not_found" and article_id in error["message"] and "反馈没有保存" in error["message"]
    assert FeedbackStore(api_settings.index_dir / DB_FILE).since() == []


def test_feedback_is_checked_against_the_real_index(api_app_for, built_engine, api_settings):
    client = api_app_for(built_engine).test_client()
    article_id = next(iter(built_engine.snapshot().articles))

    assert post(client, {**WRONG, "article_id": article_id}).status_code == 201
    assert post(client, {**WRONG, "article_id": article_id + "9"}).status_code == 404
    [stored] = FeedbackStore(api_settings.index_dir / DB_FILE).since()
    assert stored.article_id == article_id and stored.source and stored.article_title


def test_feedback_without_an_article_needs_no_index(api_app_for, api_settings):
    from qa.embed import FakeEmbedder
    from qa.engine import open_engine

    client = api_app_for(open_engine(api_settings, FakeEmbedder())).test_client()  # no index built yet
    assert post(client, {"verdict": "useful", "question": "火星上有几家奶茶店？"}).status_code == 201
    refused = post(client, WRONG)
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "index_not_ready"
    assert len(FeedbackStore(api_settings.index_dir / DB_FILE).since()) == 1


def test_export_rows_have_the_training_questions_shape(tmp_path):
    store = FeedbackStore(tmp_path / DB_FILE)
    store.add(Feedback(verdict="useful", question="那白河市呢？", resolved_question="白河市建成了多少座加氢站？",
                       answer="建成加氢站9座", article_title="白河", source="b.txt"))
    store.add(Feedback(verdict="wrong", question="问一", answer="错的", note="正确答案是12座", source="a.txt", article_title="甲"))
    store.add(Feedback(verdict="wrong", question="问二", answer="错的"))
    store.add(Feedback(verdict="useful", question="火星上有几家奶茶店？", answer=None))
    rows = list(training_rows(store.since()))
    keys = {"id", "question", "type", "file", "article", "answer", "evidence", "feedback"}
    assert all(set(row) == keys for row in rows)
    assert rows[0]["question"] == "白河市建成了多少座加氢站？"  # the question as it was read
    assert (rows[0]["answer"], rows[0]["evidence"], rows[0]["file"]) == ("建成加氢站9座", "建成加氢站9座", "b.txt")
    assert (rows[1]["answer"], rows[1]["evidence"], rows[1]["feedback"]["shown"]) == ("12座", None, "错的")  # the placeholder's lead is not the answer
    assert rows[1]["feedback"]["note"] == "正确答案是12座"  # kept as written
    assert rows[2]["answer"] is None and rows[2]["feedback"]["verdict"] == "wrong"
    assert (rows[3]["type"], rows[3]["answer"], rows[3]["file"]) == ("unanswerable", None, None)
    assert [row["id"] for row in rows] == ["fb-1", "fb-2", "fb-3", "fb-4"]


def test_qa_feedback_export_writes_jsonl_and_filters_by_date(tmp_path):
    store = FeedbackStore(tmp_path / "index" / DB_FILE)
    old = (datetime.now(timezone.utc) - timedelta(days=10)).isoformat(timespec="seconds")
    store.add(Feedback(verdict="useful", question="旧的", answer="甲", created_at=old))
    store.add(Feedback(verdict="wrong", question="新的", answer="乙", note="丙"))
    runner = CliRunner(env={"QA_INDEX_DIR": str(tmp_path / "index")})

    everything = runner.invoke(main, ["feedback", "export"])
    assert everything.exit_code == 0, everything.output
    assert [json.loads(line)["question"] for line in everything.output.splitlines()] == ["旧的", "新的"]

    since = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    target = tmp_path / "feedback.jsonl"
    recent = runner.invoke(main, ["feedback", "export", "--since", since, "--output", str(target)])
    assert recent.exit_code == 0, recent.output
    assert [json.loads(line)["question"] for line in target.read_text(encoding="utf-8").splitlines()] == ["新的"]

    bad = runner.invoke(main, ["feedback", "export", "--since", "last week"])
    assert bad.exit_code == 2 and bad.stderr.startswith("错误：") and "YYYY-MM-DD" in bad.stderr


def test_export_of_an_index_without_feedback_is_empty(tmp_path):
    result = CliRunner(env={"QA_INDEX_DIR": str(tmp_path)}).invoke(main, ["feedback", "export"])
    assert (result.exit_code, result.output) == (0, "")

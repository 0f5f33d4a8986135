"""The running server of an index directory: its record, `qa ask` through it (--url or found), the answer
rebuilt from its JSON, and builds that give way to it. A real HTTP server over the fake engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

import qa.local_server as local_server
from qa.cli import main
from qa.errors import QAError, ServerUnreachable
from qa.http.models import AskResponse
from qa.local_server import (
    SERVER_FILE, ask_server, remove_server_record, running_server, settings_for_builds, write_server_record,
)

from conftest import FakeEngine
from helpers_process import qa_env

QUESTION = "云山市建成加氢站多少座？"


@pytest.fixture
def http_server(api_app_for):
    """The app over the fake engine, served over real HTTP on a free port for the duration of a test."""
    engine = FakeEngine()
    server = make_server("127.0.0.1", 0, api_app_for(engine), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", engine
    server.shutdown()
    thread.join()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --- the record ----------------------------------------------------------------------------


def test_a_server_record_names_a_live_server_until_it_is_removed(tmp_path):
    index_dir = tmp_path / "index"
    write_server_record(index_dir, "http://127.0.0.1:8123")
    assert running_server(index_dir) == "http://127.0.0.1:8123"
    assert not list(index_dir.glob(".*.tmp"))
    remove_server_record(index_dir)
    assert running_server(index_dir) is None and not (index_dir / SERVER_FILE).exists()


def test_a_stale_or_broken_record_is_ignored_and_another_servers_record_is_left_alone(tmp_path):
    (tmp_path / SERVER_FILE).write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": _dead_pid()}))
    assert running_server(tmp_path) is None
    remove_server_record(tmp_path)  # not ours: stays
    assert (tmp_path / SERVER_FILE).exists()
    for broken in ("{half", json.dumps(["a list"]), json.dumps({"url": "ftp://x", "pid": os.getpid()})):
        (tmp_path / SERVER_FILE).write_text(broken)
        assert running_server(tmp_path) is None


def test_builds_use_both_cores_alone_and_yield_beside_a_server(api_settings, monkeypatch):
    niced = []
    monkeypatch.setattr(local_server.os, "nice", lambda n: niced.append(n) or n)
    assert settings_for_builds(api_settings).embed_threads == 2 and niced == []
    write_server_record(api_settings.index_dir, "http://127.0.0.1:8123")  # this process is alive
    assert settings_for_builds(api_settings).embed_threads == 1 and niced == []  # measured: renicing starves it
    monkeypatch.setenv("QA_BUILD_NICENESS", "5")
    assert settings_for_builds(api_settings).embed_threads == 1 and niced == [5]
    assert settings_for_builds(api_settings.with_(embed_threads=2)).embed_threads == 2  # an explicit setting wins


# --- asking it -----------------------------------------------------------------------------


def _request(**fields) -> dict:
    return {"question": QUESTION, "top_k": 2, "mode": "hybrid", "issue": None, "history": [], **fields}


def test_ask_server_gets_the_servers_answer_and_its_errors(http_server):
    url, engine = http_server
    body = ask_server(url, _request(mode="keyword", issue="2024-03"))
    response = AskResponse.model_validate(body)  # the CLI reads it with the API's own model
    expected = FakeEngine().ask(QUESTION, top_k=2, mode="keyword", issue_id="2024-03")
    assert response.found and response.answer.text == expected.text
    assert [c.article.id for c in response.citations] == [c.article_id for c in expected.citations]
    assert engine.asked[-1]["mode"] == "keyword" and engine.asked[-1]["issue_id"] == "2024-03"
    with pytest.raises(QAError, match="没有这一期"):
        ask_server(url, _request(issue="1999-01"))


def test_ask_server_says_when_nothing_answers(tmp_path):
    with pytest.raises(ServerUnreachable, match="没有 qa 服务应答：连接被拒绝"):
        ask_server("http://127.0.0.1:9", _request())


def _cli(settings, *args):
    return CliRunner().invoke(main, list(args), env=qa_env(settings))


def test_qa_ask_url_prints_the_servers_answer_as_a_local_answer_would_be(http_server, api_settings):
    url, engine = http_server
    result = _cli(api_settings, "ask", QUESTION, "--url", url, "--json", "--top-k", "2")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    local = json.loads(_cli(api_settings, "ask", QUESTION, "--url", url, "--json", "--top-k", "2").output)
    for answer in (printed, local):
        answer.pop("took_ms")
    assert printed == local and printed["answer"]["text"] == FakeEngine().ask(QUESTION, top_k=2).text
    assert engine.asked[-1]["question"] == QUESTION


def test_qa_ask_uses_the_server_recorded_in_the_index_directory(http_server, api_settings):
    url, engine = http_server
    write_server_record(api_settings.index_dir, url)  # no index was ever built here: only the server can answer
    result = _cli(api_settings, "ask", QUESTION)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("答：") and engine.asked


def test_qa_ask_answers_itself_when_the_recorded_server_is_gone(api_settings):
    write_server_record(api_settings.index_dir, "http://127.0.0.1:9")  # a live pid, but nothing listens
    result = _cli(api_settings, "ask", QUESTION)
    assert result.exit_code == 2 and "qa build" in result.output  # it tried the local index, which is missing


@pytest.mark.parametrize("url, fragment", [("ftp://host", "应以 http:// 或 https:// 开头"), ("http://127.0.0.1:9", "没有 qa 服务应答")])
def test_qa_ask_with_a_bad_or_silent_url_fails_in_one_line(api_settings, url, fragment):
    result = _cli(api_settings, "ask", QUESTION, "--url", url)
    assert result.exit_code != 0 and fragment in result.output and "Traceback" not in result.output


def test_a_server_stopped_with_sigterm_removes_its_record(fresh_settings, tmp_path):
    import signal

    from helpers_process import start_server, stop

    server, _ = start_server(fresh_settings, tmp_path / "serve.log")
    try:
        assert (fresh_settings.index_dir / local_server.SERVER_FILE).exists()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert not (fresh_settings.index_dir / local_server.SERVER_FILE).exists()
    finally:
        stop(server)

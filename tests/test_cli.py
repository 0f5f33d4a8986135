"""The `qa` command line through click's CliRunner (and once as the installed console script), on the
fixture bulletins in temp directories with the fake embedder."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.config import Settings
from qa.embed import FAKE_MODEL

from conftest import make_seeds
from helpers_process import HEADERLESS_BULLETIN, NEW_ANSWER, NEW_BULLETIN, NEW_QUESTION, QA_SCRIPT, qa_env, run_qa

SUBCOMMAND_OPTIONS = {
    "build": ["--force"],
    "add": ["--label", "--replace"],
    "remove": ["ISSUE_ID"],
    "ask": ["--json", "--top-k", "--mode", "--issue"],
    "issues": [],
    "serve": ["--host", "--port", "--dev"],
    "eval": ["--mode", "--json"],
}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(seeds_dir=make_seeds(tmp_path / "seeds"), index_dir=tmp_path / "index", model=FAKE_MODEL,
                    cache_dir=tmp_path / "cache")


@pytest.fixture
def runner(settings) -> CliRunner:
    env = {key: value for key, value in qa_env(settings).items() if key.startswith("QA_")}
    return CliRunner(env=env)


@pytest.fixture
def qa(runner):
    """Run `qa ARGS` in-process; returns click's Result."""

    def invoke(*args: str):
        return runner.invoke(main, list(args))

    return invoke


@pytest.fixture
def built(qa):
    result = qa("build")
    assert result.exit_code == 0, result.output
    return qa


def _fails_readably(result, *fragments: str) -> str:
    """Exit code 2, no traceback, and stderr is one `错误：` line that mentions every fragment."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = result.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith("错误："), result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


# --- help ------------------------------------------------------------------------------------


def test_help_lists_every_command_and_the_global_options(qa):
    result = qa("--help")

    assert result.exit_code == 0
    for command in SUBCOMMAND_OPTIONS:
        assert command in result.output
    for option in ("--seeds-dir", "--index-dir", "--model", "--cache-dir", "--verbose"):
        assert option in result.output


@pytest.mark.parametrize("command", sorted(SUBCOMMAND_OPTIONS))
def test_each_command_has_help_describing_its_options(qa, command):
    result = qa(command, "--help")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("用法：") and f" {command} [选项]" in result.output.splitlines()[0]
    for option in SUBCOMMAND_OPTIONS[command]:
        assert option in result.output
    assert "选项：" in result.output and "显示本帮助并退出" in result.output
    assert not any(english in result.output for english in ("Usage:", "Options:", "Show this message", "[default:"))


def test_version(qa):
    result = qa("--version")

    assert result.exit_code == 0
    assert version("bulletin-qa") in result.output


# --- build, issues ---------------------------------------------------------------------------


def test_build_prints_counts_and_a_second_run_is_up_to_date(qa, settings):
    first = qa("build")

    assert first.exit_code == 0, first.output
    assert "2 期、4 篇文章" in first.output and "新嵌入" in first.output
    build_id = (settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    assert f"已构建索引 {build_id}" in first.output

    second = qa("build")

    assert second.exit_code == 0, second.output
    assert f"索引 {build_id} 已是最新" in second.output
    assert (settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip() == build_id


def test_build_with_a_missing_seeds_dir_fails_readably(qa, settings, tmp_path):
    _fails_readably(qa("--seeds-dir", str(tmp_path / "nowhere"), "build"), "不存在")


def test_issues_lists_ids_and_labels_in_a_table_aligned_by_display_width(built):
    from wcwidth import wcswidth

    result = built("issues")

    assert result.exit_code == 0, result.output
    header, rule, *rows = result.output.splitlines()
    assert header.split() == ["期次", "id", "期次", "文章数", "文件"]
    assert len(rows) == 2
    assert rows[0].split()[:3] == ["2024-03", "2024年第3期", "2"]  # dated issues first, newest first
    assert rows[1].split()[:3] == ["baihe-undated", "2023年增刊", "2"]
    # the label and file columns start at the same screen column on every line (Chinese counts double),
    # the article counts end at the same one
    starts = [i for i, char in enumerate(rule) if char == "-" and (i == 0 or rule[i - 1] == " ")]
    ends = [i + 1 for i, char in enumerate(rule) if char == "-" and (i + 1 == len(rule) or rule[i + 1] == " ")]
    for line in (header, *rows):
        for start in (starts[1], starts[3]):
            prefix = next(n for n in range(len(line) + 1) if wcswidth(line[:n]) >= start)
            assert wcswidth(line[:prefix]) == start and line[prefix - 1] == " " and line[prefix] != " ", (line, start)
        prefix = next(n for n in range(len(line) + 1) if wcswidth(line[:n]) >= ends[2])
        assert line[prefix - 1] != " " and line[prefix] == " ", (line, ends[2])
    assert "articles" not in result.output  # one language


def test_issues_before_any_build_says_to_run_qa_build(qa):
    _fails_readably(qa("issues"), "qa build")


# --- ask -------------------------------------------------------------------------------------


def test_ask_prints_the_answer_its_source_and_confidence_in_words(built):
    result = built("ask", "云山市日加氢能力达到多少？")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("答：") and "13.5吨" in lines[0]
    assert lines[1] == "出处：《科技情报参考》2024年第3期 · 云山市加快氢能产业集群建设"
    assert lines[2].startswith("把握")
    assert "score" not in result.output
    listed = [line for line in lines if line.startswith("  ")]
    assert len(listed) == len(set(listed))  # an article is listed once
    assert not any("云山市加快氢能产业集群建设" in line for line in listed)  # nor again after the answer


def test_ask_json_is_exactly_the_api_response(built, settings):
    from qa.http.models import AskResponse
    from qa.http.app import create_app

    result = built("ask", "--json", "--top-k", "3", "云山市日加氢能力达到多少？")

    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    AskResponse.model_validate(printed)
    api = create_app(settings).test_client().post("/api/ask", json={"question": "云山市日加氢能力达到多少？", "top_k": 3})
    expected = api.get_json()
    assert set(printed) == set(expected)
    for volatile in ("took_ms",):
        printed.pop(volatile), expected.pop(volatile)
    assert printed == expected
    assert printed["found"] is True and "13.5吨" in printed["answer"]["text"]


def test_ask_exits_1_when_nothing_is_found(built):
    result = built("ask", "海南省2023年技术合同成交额是多少？")  # a province no bulletin names
    assert result.exit_code == 1, result.output
    assert result.output.startswith("未找到：")
    as_json = built("ask", "--json", "海南省2023年技术合同成交额是多少？")
    assert as_json.exit_code == 1
    assert json.loads(as_json.output)["found"] is False


def test_ask_top_k_limits_the_citations(built):
    result = built("ask", "--json", "--top-k", "1", "云山市日加氢能力达到多少？")

    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["citations"]) == 1


def test_ask_within_an_unknown_issue_fails_readably(built):
    _fails_readably(built("ask", "--issue", "2099-01", "云山市日加氢能力达到多少？"), "2099-01")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["ask", ""], "问题不能为空"),
        (["ask", "   "], "问题不能为空"),
        (["ask", "--top-k", "0", "云山市日加氢能力达到多少？"], "top_k 不能小于 1"),
        (["ask", "--top-k", "x", "云山市日加氢能力达到多少？"], "--top-k"),
        (["ask", "--mode", "magic", "云山市日加氢能力达到多少？"], "mode 只能取以下值之一：'hybrid'、'dense'、'keyword'"),
        (["ask", "问" * 501], "问题太长：最多 500 个字符"),
        (["ask", "--colour", "云山市？"], "没有这个选项：--colour"),
        (["ask"], "缺少参数"),
        (["nothing"], "没有这个命令"),
    ],
    ids=["empty", "blank", "top-k-0", "top-k-text", "bad-mode", "too-long", "no-such-option", "missing-question",
         "no-such-command"],
)
def test_ask_rejects_bad_input_with_one_line(built, args, fragment):
    _fails_readably(built(*args), fragment)


def test_ask_before_any_build_says_to_run_qa_build(qa):
    _fails_readably(qa("ask", "云山市日加氢能力达到多少？"), "qa build")


# --- add, remove -----------------------------------------------------------------------------


def test_add_of_a_missing_file_fails_readably(built, settings, tmp_path):
    seeds_before = sorted(p.name for p in settings.seeds_dir.iterdir())

    _fails_readably(built("add", str(tmp_path / "missing.txt")), "missing.txt")

    assert sorted(p.name for p in settings.seeds_dir.iterdir()) == seeds_before


def test_the_probability_shown_is_rounded_down_so_it_never_reaches_another_words_floor():
    from qa.cli_output import percent

    assert (percent(0.8496), percent(0.85), percent(0.999), percent(0.0)) == (84, 85, 99, 0)


def test_click_s_own_errors_are_in_our_words(qa, tmp_path):
    _fails_readably(qa("eval", str(tmp_path / "missing.jsonl")), "missing.jsonl 不存在")
    _fails_readably(qa("ask", "--top-k", "x", "问"), "x 不是整数")


def test_add_of_a_folder_says_it_is_a_folder(built, tmp_path):
    _fails_readably(built("add", str(tmp_path)), "是文件夹")


def test_add_of_more_text_than_a_bulletin_holds_is_refused_like_an_upload(built, settings, tmp_path, monkeypatch):
    import qa.transaction
    from helpers_process import NEW_BULLETIN

    monkeypatch.setattr(qa.transaction, "MAX_BULLETIN_CHARS", 200)
    seeds_before = sorted(p.name for p in settings.seeds_dir.iterdir())
    long = tmp_path / "long.md"
    long.write_text(NEW_BULLETIN, encoding="utf-8")

    _fails_readably(built("add", str(long)), "long.md", "个字符的文字", "最多 200 个")

    assert sorted(p.name for p in settings.seeds_dir.iterdir()) == seeds_before


def test_add_of_a_broken_file_fails_readably(built, tmp_path):
    empty = tmp_path / "blank.txt"
    empty.write_bytes(b"")

    _fails_readably(built("add", str(empty)), "blank.txt", "空文件")


def test_add_with_a_label_then_issues_shows_it(built, tmp_path):
    headerless = tmp_path / "songjiang-web.md"
    headerless.write_text(HEADERLESS_BULLETIN, encoding="utf-8")

    added = built("add", str(headerless), "--label", "2024年第9期")

    assert added.exit_code == 0, added.output
    assert "已加入 2024年第9期（songjiang-web.md" in added.output
    issues = built("issues")
    assert any("2024-09" in line and "2024年第9期" in line for line in issues.output.splitlines())
    asked = built("ask", "--json", NEW_QUESTION)
    assert json.loads(asked.output)["citations"][0]["issue"]["id"] == "2024-09"
    assert NEW_ANSWER in json.loads(asked.output)["citations"][0]["passage"]

    again = built("add", str(headerless), "--label", "2024年第9期")

    assert again.exit_code == 0 and "没有新内容" in again.output
    assert "songjiang-web.md 已收录（2024年第9期）" in again.output
    renamed = headerless.with_name("renamed-copy.md")
    renamed.write_bytes(headerless.read_bytes())
    copy = built("add", str(renamed))
    assert copy.exit_code == 0 and "renamed-copy.md 与已收录的 songjiang-web.md（2024年第9期）内容相同" in copy.output


def test_add_of_a_file_whose_issue_is_taken_names_the_way_to_replace_it(built, settings, tmp_path):
    # Defect 5: such a file took over the issue's id, and the original moved to 2024-03-3.
    taking_over = tmp_path / "0000.txt"
    taking_over.write_text(NEW_BULLETIN.replace("2024年第5期", "2024年第3期"), encoding="utf-8")

    _fails_readably(built("add", str(taking_over)), "2024-03", "--replace 2024-03")
    assert not (settings.seeds_dir / "0000.txt").exists()

    replaced = built("add", str(taking_over), "--replace", "2024-03")

    assert replaced.exit_code == 0, replaced.output
    assert "已加入 2024年第3期（0000.txt，期次 id 2024-03）" in replaced.output and "替换了原来的 2024-03" in replaced.output
    lines = built("issues").output.splitlines()[2:]
    assert [line.split()[0] for line in lines] == ["2024-03", "baihe-undated"] and "0000.txt" in lines[0]


def test_add_with_a_label_that_is_not_utf8_fails_readably(settings, tmp_path):
    # It was stored as "��2024".
    headerless = tmp_path / "songjiang-web.md"
    headerless.write_text(HEADERLESS_BULLETIN, encoding="utf-8")
    assert run_qa(settings, "build").returncode == 0

    result = subprocess.run([sys.executable, "-m", "qa.cli", "add", str(headerless), "--label", b"\xff\xfe2024"],
                            env=qa_env(settings), capture_output=True, timeout=120)

    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert "不是有效的 UTF-8 文本" in result.stderr.decode("utf-8", "replace")
    assert not (settings.seeds_dir / "songjiang-web.md").exists()


def test_remove_drops_the_issue(built, settings):
    result = built("remove", "baihe-undated")

    assert result.exit_code == 0, result.output
    assert "已删除 baihe-undated（baihe-undated.md）" in result.output
    assert not (settings.seeds_dir / "baihe-undated.md").exists()
    assert [line.split()[0] for line in built("issues").output.splitlines()[2:]] == ["2024-03"]


def test_remove_of_an_unknown_issue_fails_readably(built):
    _fails_readably(built("remove", "2099-01"), "2099-01")


# --- eval ------------------------------------------------------------------------------------


@pytest.fixture
def questions_file(tmp_path) -> Path:
    rows = [
        {"id": "q1", "question": "云山市日加氢能力达到多少？", "answer": "13.5吨",
         "article": "云山市加快氢能产业集群建设", "type": "number"},
        {"id": "q2", "question": "宁川县依托农业大学建成科技小院多少个？", "answer": "12个",
         "article": "宁川县打造特色农业科技小院", "type": "number"},
        {"id": "q3", "question": "海南省2023年技术合同成交额是多少？", "answer": None, "type": "unanswerable"},
    ]
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def test_eval_prints_the_figures(built, questions_file):
    result = built("eval", str(questions_file))

    assert result.exit_code == 0, result.output
    header, overall = result.output.splitlines()[1:3]
    assert "3 questions" in result.output
    columns = dict(zip(header.split(), overall.split()[1:]))
    assert columns["n"] == "3"
    for name in ("rec@5", "answer", "no-ans"):
        assert columns[name] == "100.0%", name
    assert columns["f-rej"] == "0.0%"


def test_eval_json_parses(built, questions_file):
    result = built("eval", "--json", str(questions_file))

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["questions"] == 3
    assert report["recall@5"] == 1.0
    assert report["answer_accuracy"] == 1.0
    assert report["no_answer_accuracy"] == 1.0
    assert report["misses"] == []


def test_eval_of_a_file_that_is_not_jsonl_fails_readably(built, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text("{\"question\": \"云山市？\"}\nnot json\n", encoding="utf-8")

    _fails_readably(built("eval", str(path)), "第 2 行")


# --- the installed entry point ---------------------------------------------------------------


def test_python_m_qa_cli_runs():
    result = subprocess.run([sys.executable, "-m", "qa.cli", "--help"], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert "用法：" in result.stdout and "build" in result.stdout and "命令：" in result.stdout


def test_the_installed_qa_script_builds_and_answers(settings):
    assert QA_SCRIPT.is_file(), f"no console script at {QA_SCRIPT}: is the package installed (pip install -e .)?"
    env = qa_env(settings)

    built = subprocess.run([str(QA_SCRIPT), "build"], env=env, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert "已构建索引 " in built.stdout

    asked = subprocess.run([str(QA_SCRIPT), "ask", "--json", "云山市日加氢能力达到多少？"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["citations"][0]["issue"]["id"] == "2024-03"


def test_a_user_mistake_in_a_real_process_is_one_line_without_traceback(settings):
    result = run_qa(settings, "ask", "云山市日加氢能力达到多少？")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "qa build" in result.stderr
    assert result.stderr.startswith("错误：")


# --- serve -----------------------------------------------------------------------------------


def test_serve_on_a_busy_port_says_so_before_loading_anything(qa, monkeypatch):
    import socket

    from qa.http import app as web_app

    loaded = []
    monkeypatch.setattr(web_app, "serve", lambda *args, **kwargs: loaded.append(args))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = qa("serve", "--port", str(port))

    message = _fails_readably(result, f"端口 {port} 已被占用")
    assert "--port" in message
    assert loaded == []


def test_serve_says_ready_with_the_url_once(qa, monkeypatch):
    from qa.http import app as web_app

    monkeypatch.setattr(web_app, "serve", lambda settings, host, port, dev, on_ready: on_ready(f"http://{host}:{port}/"))
    result = qa("serve", "--port", "0")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["已就绪：http://127.0.0.1:0/（Ctrl+C 停止）"]

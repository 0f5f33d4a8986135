"""Benchmark: prints build, add, query and load figures against the targets. Never run by tests.

    python -m qa.bench [--quick] [--json]

Works on a private copy of seeds/ and a temp index, so it never touches index/. Uses the
configured model (default: the converted multilingual-e5-small, cached after the first run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

from .config import Settings

TARGETS = {
    "build_seconds": 20,
    "noop_rebuild_seconds": 2,
    "add_seconds": 5,
    "peak_rss_mb": 1024,
    "ask_p50_ms": 25,
    "ask_p95_ms": 60,
    "throughput_rps": 50,
}
QUESTIONS = [
    "2023年前三季度贵州技术合同成交额是多少？",
    "西安推广“一院一所一校”模式孵化出了哪些科创板上市企业？",
    "池州怎样健全科技成果捕捉机制？",
    "宜昌2022年技术合同成交额？",
    "青海吸引了哪个国家级数据中心落户？",
    "截至2022年8月底，黄山全市拥有多少家高新技术企业？",
    "南京有多少家国家级科技企业孵化器？",
    "衢州选派了多少名科研人员结对重点企业？",
    "甘肃省目前有多少家国家级科技企业孵化器？",
    "呼包鄂乌地区科技型中小企业占比是多少？",
]


def _qa(env: dict, *args: str) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run the qa CLI; returns wall seconds, peak RSS (MB, sampled) and the process result."""
    started = time.perf_counter()
    process = psutil.Popen([sys.executable, "-m", "qa.cli", *args], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = process.communicate()
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    if process.returncode:
        raise SystemExit(f"qa {' '.join(args)} failed:\n{err}")
    return time.perf_counter() - started, peak // 2**20, result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _ask(url: str, question: str) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        response = requests.post(url, json={"question": question}, timeout=30)
        ok = response.status_code == 200
    except requests.RequestException:
        ok = False
    return (time.perf_counter() - started) * 1000, ok


def _load(url: str, clients: int, seconds: float, questions: list[str]) -> dict:
    """`clients` threads asking in a loop for `seconds`: throughput, latency, failures."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        nonlocal failures
        n = offset
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    ok = session.post(url, json={"question": questions[n % len(questions)]}, timeout=30).status_code == 200
                except requests.RequestException:
                    ok = False
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    failures += not ok
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "failed": failures,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.5), 1),
        "p95_ms": round(_percentile(latencies, 0.95), 1),
    }


def run(quick: bool = False) -> dict:
    base = Settings.load()
    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    seeds, index = work / "seeds", work / "index"
    shutil.copytree(base.seeds_dir, seeds)
    bulletins = sorted(p for p in seeds.iterdir() if p.suffix in (".txt", ".md", ".pdf", ".docx"))
    held_back = bulletins[-1]  # removed before the first build, then added back: the "add one" case
    spare = work / held_back.name
    shutil.move(held_back, spare)
    env = {**os.environ, "QA_SEEDS_DIR": str(seeds), "QA_INDEX_DIR": str(index), "QA_EMBED_MODEL": base.model,
           "QA_CACHE_DIR": str(base.cache_dir)}
    figures: dict = {"model": base.model}
    try:
        _qa(env, "build")  # converts the model on the very first run; not what we measure
        shutil.rmtree(index)
        shutil.move(spare, held_back)
        figures["build_seconds"], figures["build_peak_rss_mb"], result = _qa(env, "build", "--force")
        figures["build_output"] = result.stdout.strip()
        figures["noop_rebuild_seconds"], _, _ = _qa(env, "build")
        shutil.move(held_back, spare)
        _qa(env, "build")
        figures["add_seconds"], figures["add_peak_rss_mb"], result = _qa(env, "add", str(spare))
        figures["add_output"] = result.stdout.strip()
        figures.update(_serve_figures(env, index, quick))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["peak_rss_mb"] = max(figures.get("build_peak_rss_mb", 0), figures.get("serve_rss_mb", 0))
    return figures


def _embedding_rate(env: dict) -> float:
    """Chunks per second of the embedding step alone, in this process."""
    from .build import load_corpus
    from .chunking import chunk_article, embedding_text
    from .embed import load_embedder

    settings = Settings.load(seeds_dir=env["QA_SEEDS_DIR"])
    embedder = load_embedder(settings)
    texts = [embedding_text(a.title, c.text) for issue in load_corpus(settings.seeds_dir) for a in issue.articles
             for c in chunk_article(a)]
    embedder.embed_passages(texts[:8])
    started = time.perf_counter()
    embedder.embed_passages(texts)
    return round(len(texts) / (time.perf_counter() - started), 1)


def _sample_pdf(path: Path, issue_label: str) -> Path:
    """A monthly bulletin as a PDF, made with the tests' builder (reportlab, STSong-Light)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from fixtures_builders import SAMPLE_BULLETIN_LINES, make_pdf

    make_pdf(path, [issue_label if line == "2024年第3期" else line for line in SAMPLE_BULLETIN_LINES])
    return path


def _answerable(base: str, issue_id: str) -> bool:
    response = requests.post(base + "/api/ask", json={"question": "云山市日加氢能力达到多少？", "issue": issue_id}, timeout=30)
    return response.status_code == 200 and response.json()["found"] and "13.5吨" in response.json()["answer"]["text"]


def _pdf_to_answerable(env: dict, base: str, token: str, work: Path) -> dict:
    """Seconds from a new PDF bulletin to a correct answer from it: by upload and by `qa add`."""
    figures = {}
    pdf = _sample_pdf(work / "bench-upload.pdf", "2030年第1期")
    started = time.perf_counter()
    with open(pdf, "rb") as handle:
        job = requests.post(base + "/api/issues", headers={"Authorization": f"Bearer {token}"},
                            files={"file": (pdf.name, handle, "application/pdf")}, timeout=30).json()["job"]
    while job["status"] not in ("done", "failed"):
        time.sleep(0.1)
        job = requests.get(base + job["url"], headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["job"]
    figures["upload_pdf_to_answer_seconds"] = round(time.perf_counter() - started, 1) if (
        job["status"] == "done" and _answerable(base, "2030-01")) else f"failed: {job}"
    pdf = _sample_pdf(work / "bench-add.pdf", "2030年第2期")
    started = time.perf_counter()
    _qa(env, "add", str(pdf))
    figures["cli_add_pdf_to_answer_seconds"] = round(time.perf_counter() - started, 1) if _answerable(
        base, "2030-02") else "failed"
    return figures


def _serve_figures(env: dict, index: Path, quick: bool) -> dict:
    port = _free_port()
    token = "bench-admin-token"
    server = psutil.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
                          env={**env, "QA_ADMIN_TOKEN": token}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    figures: dict = {}
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            raise SystemExit("qa serve did not become healthy in 120 s")
        url = base + "/api/ask"
        cold = [_ask(url, q)[0] for q in QUESTIONS]  # each question's first time: model call
        warm = [_ask(url, q)[0] for q in QUESTIONS * (3 if quick else 10)]
        figures["ask_uncached_p50_ms"] = round(statistics.median(cold), 1)
        figures["ask_p50_ms"] = round(_percentile(warm, 0.5), 1)
        figures["ask_p95_ms"] = round(_percentile(warm, 0.95), 1)
        load = _load(url, 8, 3 if quick else 10, QUESTIONS)
        figures["throughput_rps"] = load["rps"]
        figures["load_8_clients"] = load
        figures["serve_rss_mb"] = server.memory_info().rss // 2**20
        figures.update(_pdf_to_answerable(env, base, token, index.parent))
        figures["load_during_rebuilds"] = _load_during_rebuilds(env, url, 3 if quick else 10)
        figures["serve_rss_after_mb"] = server.memory_info().rss // 2**20
        figures["embedding_chunks_per_second"] = _embedding_rate(env)
    finally:
        server.terminate()
        server.wait(10)
    return figures


def _load_during_rebuilds(env: dict, url: str, rebuilds: int) -> dict:
    """8 clients keep asking while `rebuilds` forced rebuilds run one after another."""
    stop = threading.Event()
    result: dict = {}

    def rebuild_loop() -> None:
        times = []
        for _ in range(rebuilds):
            times.append(round(_qa(env, "build", "--force")[0], 1))
        result["rebuild_seconds"] = times
        stop.set()

    worker = threading.Thread(target=rebuild_loop)
    worker.start()
    stats = []
    while not stop.is_set():
        stats.append(_load(url, 8, 2, QUESTIONS))
    worker.join()
    result.update(
        requests=sum(s["requests"] for s in stats),
        failed=sum(s["failed"] for s in stats),
        p95_ms=max(s["p95_ms"] for s in stats),
    )
    return result


def _report(figures: dict) -> str:
    lines = [f"Benchmark (model {figures['model']}, {os.cpu_count()} cores)"]
    for key, target in TARGETS.items():
        value = figures.get(key)
        if value is None:
            continue
        better = value >= target if key == "throughput_rps" else value <= target
        lines.append(f"  {key:28} {value:>8}   target {'≥' if key == 'throughput_rps' else '≤'} {target}"
                     f"   {'ok' if better else 'MISSED'}")
    for key in ("embedding_chunks_per_second", "ask_uncached_p50_ms", "serve_rss_mb", "serve_rss_after_mb",
                "upload_pdf_to_answer_seconds", "cli_add_pdf_to_answer_seconds",
                "build_output", "add_output", "load_8_clients", "load_during_rebuilds"):
        if key in figures:
            lines.append(f"  {key:28} {figures[key]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute less)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(quick=args.quick)
    print(json.dumps(figures, ensure_ascii=False, indent=2) if args.json else _report(figures))


if __name__ == "__main__":
    main()

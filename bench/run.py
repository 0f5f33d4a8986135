"""The benchmark's run: a private copy of seeds/ and a temp index (index/ is never touched), the reference
figures of the fp32 torch model measured in the same run, then builds, adds, `qa ask` and a real `qa serve`
under new questions. Returns plain figures; bench.report turns them into the table."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import requests

from qa.config import Settings
from qa.ingest import SUPPORTED_SUFFIXES

from . import load, processes, sample_pdf
from .questions import ASKED_AGAIN, NewQuestions

CLIENTS = 8


def _reference(env: dict, runtime: str, seeds: Path, cache: Path, threads: int) -> dict:
    run = processes.python(env, "-m", "bench.reference", runtime, str(seeds), str(cache), str(threads))
    return json.loads(run.stdout.strip().splitlines()[-1])


def _median_run(env: dict, times: int, *args: str) -> float:
    return statistics.median(processes.qa(env, *args).seconds for _ in range(times))


def _answerable(url: str, issue_id: str) -> bool:
    response = requests.post(url + "/api/ask", json={"question": sample_pdf.QUESTION, "issue": issue_id}, timeout=60)
    body = response.json() if response.status_code == 200 else {}
    return bool(body.get("found")) and sample_pdf.ANSWER in body["answer"]["text"]


def _pdf_figures(env: dict, server: processes.Server, token: str, work: Path) -> dict:
    """Seconds from a new PDF bulletin to a correct answer from the running server: by upload, by `qa add`."""
    figures = {}
    pdf = sample_pdf.write_bulletin_pdf(work / "bench-upload.pdf", "2030年第1期")
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    with open(pdf, "rb") as handle:
        job = requests.post(server.url + "/api/issues", headers=headers,
                            files={"file": (pdf.name, handle, "application/pdf")}, timeout=60).json()["job"]
    while job["status"] not in ("done", "failed"):
        time.sleep(0.05)
        job = requests.get(server.url + job["url"], headers=headers, timeout=60).json()["job"]
    ok = job["status"] == "done" and _answerable(server.url, "2030-01")
    figures["upload_pdf_to_answer_s"] = round(time.perf_counter() - started, 1) if ok else f"failed: {job}"
    pdf = sample_pdf.write_bulletin_pdf(work / "bench-add.pdf", "2030年第2期")
    started = time.perf_counter()
    processes.qa(env, "add", str(pdf))
    ok = _answerable(server.url, "2030-02")
    figures["cli_add_pdf_to_answer_s"] = round(time.perf_counter() - started, 1) if ok else "failed"
    return figures


def _serving(env: dict, work: Path, spare: list[Path], quick: bool) -> dict:
    token = "bench-admin-token"
    server = processes.Server({**env, "QA_ADMIN_TOKEN": token}, work / "serve.log")
    url = server.url + "/api/ask"
    new = NewQuestions(Path(env["QA_SEEDS_DIR"]))
    figures: dict = {"serve_start_s": round(server.start_seconds, 1), "serve_rss_after_load_mb": server.rss_mb()}
    try:
        figures["serve_has_torch"] = server.imported("torch")
        figures["single_new"] = load.one_client(url, new.take_many(100 if quick else 300))
        load.one_client(url, ASKED_AGAIN)  # the first time these are new; from now on they are cached
        figures["single_repeated"] = load.one_client(url, ASKED_AGAIN * (5 if quick else 20))
        figures["serve_rss_after_questions_mb"] = server.rss_mb()
        question = new.take()
        figures["ask_via_server_s"] = _median_run(env, 3, "ask", question)
        figures["clients_idle"] = load.many_clients(url, CLIENTS, new.take, seconds=5 if quick else 12)
        added, figures["clients_during_add"] = load.during(lambda: processes.qa(env, "add", str(spare[1])), url,
                                                             CLIENTS, new.take)
        figures["add_under_traffic_s"] = round(added.seconds, 1)
        figures["add_under_traffic_output"] = added.stdout.strip()
        rebuilds = 1 if quick else 3
        times, figures["clients_during_rebuilds"] = load.during(
            lambda: [round(processes.qa(env, "build", "--force").seconds, 1) for _ in range(rebuilds)], url,
            CLIENTS, new.take)
        figures["rebuild_under_traffic_s"] = times
        figures.update(_pdf_figures(env, server, token, work))
        figures["serve_rss_after_all_mb"] = server.rss_mb()
    finally:
        server.stop()
    return figures


def run(quick: bool = False) -> dict:
    base = Settings.load()
    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    seeds, index = work / "seeds", work / "index"
    shutil.copytree(base.seeds_dir, seeds)
    env = {**os.environ, "QA_SEEDS_DIR": str(seeds), "QA_INDEX_DIR": str(index), "QA_EMBED_MODEL": base.model,
           "QA_CACHE_DIR": str(base.cache_dir), "QA_EMBED_RUNTIME": base.runtime}
    figures: dict = {"model": base.model, "runtime": base.runtime, "cores": os.cpu_count()}
    try:
        processes.qa(env, "build")  # provisions the model on the very first run; not what is measured
        figures["reference_torch"] = _reference(env, "torch", seeds, base.cache_dir, 2)
        figures["reference_onnx"] = _reference(env, "onnx", seeds, base.cache_dir, 2)
        figures["reference_onnx_1_thread"] = _reference(env, "onnx", seeds, base.cache_dir, 1)
        shutil.rmtree(index)
        build = processes.qa(env, "build", "--force")
        figures.update(build_s=round(build.seconds, 1), build_peak_rss_mb=build.peak_rss_mb,
                       build_output=build.stdout.strip())
        figures["noop_rebuild_s"] = round(processes.qa(env, "build").seconds, 1)
        figures["ask_new_process_s"] = _median_run(env, 3, "ask", "宜昌2022年技术合同成交额？")
        bulletins = sorted(p for p in seeds.iterdir() if p.suffix in SUPPORTED_SUFFIXES)
        spare = [work / path.name for path in bulletins[-2:]]
        for path, kept in zip(bulletins[-2:], spare):
            shutil.move(path, kept)
        processes.qa(env, "build")
        added = processes.qa(env, "add", str(spare[0]))
        figures.update(add_idle_s=round(added.seconds, 1), add_peak_rss_mb=added.peak_rss_mb,
                       add_idle_output=added.stdout.strip())
        figures.update(_serving(env, work, spare, quick))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures

"""How the thread and priority settings were chosen: `python -m bench.threads [--quick]`.

For each onnxruntime intra-op thread count (QA_EMBED_THREADS) and waitress thread count (QA_SERVE_THREADS),
a fresh `qa serve`: one client's p50 on new questions, and 8 clients' throughput and p50. Then, with the chosen
server, a `qa add` under 8 clients at each build niceness (QA_BUILD_NICENESS): both sides' figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from qa.config import Settings
from qa.ingest import SUPPORTED_SUFFIXES

from . import load, processes
from .questions import NewQuestions


def _server_row(env: dict, work: Path, embed: int, serve: int, seconds: float) -> str:
    server = processes.Server({**env, "QA_EMBED_THREADS": str(embed), "QA_SERVE_THREADS": str(serve)},
                              work / "serve.log")
    try:
        new = NewQuestions(Path(env["QA_SEEDS_DIR"]), seed=embed * 10 + serve)
        single = load.one_client(server.url + "/api/ask", new.take_many(150))
        many = load.many_clients(server.url + "/api/ask", 8, new.take, seconds=seconds)
    finally:
        server.stop()
    return f"| {embed} | {serve} | {single.p50_ms:.1f} | {many.rps:.0f} | {many.p50_ms:.1f} | {many.p95_ms:.1f} |"


def _niceness_row(env: dict, work: Path, spare: Path, niceness: int) -> str:
    server = processes.Server(env, work / "serve.log")
    try:
        new = NewQuestions(Path(env["QA_SEEDS_DIR"]), seed=niceness)
        url = server.url + "/api/ask"
        idle = load.many_clients(url, 8, new.take, seconds=5)
        added, during = load.during(lambda: processes.qa({**env, "QA_BUILD_NICENESS": str(niceness)}, "add",
                                                         str(spare)), url, 8, new.take)
    finally:
        server.stop()
    issue = [line for line in processes.qa(env, "issues").stdout.splitlines() if spare.name in line][0].split()[0]
    processes.qa(env, "remove", issue)
    return (f"| {niceness} | {added.seconds:.1f} | {idle.rps:.0f} / {idle.p50_ms:.1f} | "
            f"{during.rps:.0f} / {during.p50_ms:.1f} / {during.p95_ms:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    base = Settings.load()
    work = Path(tempfile.mkdtemp(prefix="qa-bench-threads-"))
    seeds = work / "seeds"
    shutil.copytree(base.seeds_dir, seeds)
    spare_source = sorted(p for p in seeds.iterdir() if p.suffix in SUPPORTED_SUFFIXES)[-1]
    spare = work / spare_source.name
    shutil.move(spare_source, spare)
    env = {**os.environ, "QA_SEEDS_DIR": str(seeds), "QA_INDEX_DIR": str(work / "index"),
           "QA_CACHE_DIR": str(base.cache_dir)}
    try:
        processes.qa(env, "build")
        print("| intra-op threads | waitress threads | 1 client p50 ms | 8 clients req/s | p50 ms | p95 ms |")
        print("|---|---|---|---|---|---|")
        for embed, serve in ((1, 2), (1, 4), (1, 8), (2, 2), (2, 4), (2, 8)):
            print(_server_row(env, work, embed, serve, 5 if args.quick else 10), flush=True)
        print("\n| build niceness | `qa add` s under 8 clients | server before: req/s / p50 ms | "
              "during the add: req/s / p50 / p95 ms |")
        print("|---|---|---|---|")
        for niceness in (0, 5, 10, 19):
            print(_niceness_row(env, work, spare, niceness), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The benchmark's figures as the issue's table (markdown, to paste into the README), new questions first,
each target computed from the fp32 torch reference measured in the same run, then the other figures."""

from __future__ import annotations

from .load import LoadResult


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _clients_row(label: str, result: LoadResult) -> tuple[str, str, str, bool]:
    return (label, f"{result.rps:.0f} req/s, p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, "
            f"{result.failed} failed", "≥ 100 req/s, p50 ≤ 80 ms, 0 failed",
            result.rps >= 100 and result.p50_ms <= 80 and result.failed == 0)


def headline_rows(f: dict) -> list[tuple[str, str, str, bool]]:
    torch = f["reference_torch"]
    forward, st_ready = torch["query_forward_ms"], torch["import_s"] + torch["load_s"]
    single = f["single_new"]
    return [
        ("`/api/ask` p50 / p95, new questions (no cache)", f"{single.p50_ms:.1f} / {single.p95_ms:.1f} ms",
         f"p50 ≤ 0.7 × {forward:.1f} = {0.7 * forward:.1f} ms, p95 ≤ 30 ms",
         single.p50_ms <= 0.7 * forward and single.p95_ms <= 30 and single.failed == 0),
        _clients_row(f"{8} concurrent clients, all different questions", f["clients_idle"]),
        _clients_row("… the same during `qa add` of one bulletin", f["clients_during_add"]),
        _clients_row(f"… the same during {len(f['rebuild_under_traffic_s'])} forced rebuilds",
                     f["clients_during_rebuilds"]),
        ("`qa ask \"…\"` from a new process", f"{f['ask_new_process_s']:.1f} s",
         f"≤ 0.5 × {st_ready:.1f} = {0.5 * st_ready:.1f} s", f["ask_new_process_s"] <= 0.5 * st_ready),
        ("`qa add` one bulletin from a new process", f"{f['add_idle_s']:.1f} s idle; "
         f"{f['add_under_traffic_s']:.1f} s under traffic", "≤ 5 s idle, ≤ 10 s under traffic",
         f["add_idle_s"] <= 5 and f["add_under_traffic_s"] <= 10),
        ("serving RSS after load", f"{f['serve_rss_after_load_mb']} MB (after all the traffic: "
         f"{f['serve_rss_after_all_mb']} MB)", "≤ 600 MB",
         max(f["serve_rss_after_load_mb"], f["serve_rss_after_all_mb"]) <= 600),
        ("build peak RSS", f"{f['build_peak_rss_mb']} MB", "≤ 800 MB", f["build_peak_rss_mb"] <= 800),
    ]


def _runtime_line(name: str, r: dict) -> str:
    return (f"| {name} | {r['import_s']:.1f} + {r['load_s']:.1f} s | {r['query_forward_ms']:.1f} ms | "
            f"{r['chunks_per_s']:.1f} | {r['sentences_per_s']:.0f} |")


def other_lines(f: dict) -> list[str]:
    repeated, torch = f["single_repeated"], f["reference_torch"]
    lines = [
        "",
        "| runtime (new process, 2 cores) | import + load | one query forward | chunks/s | short sentences/s |",
        "|---|---|---|---|---|",
        _runtime_line("fp32 torch (sentence-transformers), 2 threads; forward: the better of 1 and 2 threads", torch),
        _runtime_line("int8 onnxruntime, 2 threads (builds)", f["reference_onnx"]),
        _runtime_line("int8 onnxruntime, 1 thread (serving, builds beside a server)", f["reference_onnx_1_thread"]),
        "",
        f"chunks: the seeds' {torch['chunks']} chunks with titles; short sentences: {torch['sentences']} "
        f"sentences of the seeds, {torch['sentence_chars']:.0f} characters on average (passage prefix)",
        f"- `/api/ask`, a question asked again (embedding cached): p50 {repeated.p50_ms:.1f} ms, "
        f"p95 {repeated.p95_ms:.1f} ms",
        f"- `qa ask` from a new process through the running server (found from the index directory): "
        f"{f['ask_via_server_s']:.1f} s",
        f"- full build of the seeds, new process: {f['build_s']:.1f} s ({f['build_output']})",
        f"- no-op rebuild: {f['noop_rebuild_s']:.1f} s; forced rebuilds under traffic: "
        f"{', '.join(f'{s:.1f}' for s in f['rebuild_under_traffic_s'])} s",
        f"- `qa add` idle: {f['add_idle_output']} (peak RSS {f['add_peak_rss_mb']} MB)",
        f"- `qa add` under traffic: {f['add_under_traffic_output']}",
        f"- new PDF bulletin to a correct answer: upload {f['upload_pdf_to_answer_s']} s, "
        f"`qa add` {f['cli_add_pdf_to_answer_s']} s",
        f"- server: healthy {f['serve_start_s']:.1f} s after start; RSS after 300 questions "
        f"{f['serve_rss_after_questions_mb']} MB; torch loaded in the server: {'yes' if f['serve_has_torch'] else 'no'}",
    ]
    return lines


def report(f: dict) -> str:
    lines = [f"Benchmark: model {f['model']}, runtime {f['runtime']}, {f['cores']} cores; "
             "questions are new to the server unless labelled",
             "", "| figure | measured | target | |", "|---|---|---|---|"]
    lines += [f"| {name} | {measured} | {target} | {_verdict(ok)} |" for name, measured, target, ok in headline_rows(f)]
    return "\n".join(lines + other_lines(f))

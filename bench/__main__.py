"""The benchmark: every figure of the performance table, against its target. Never run by the tests.

    python -m bench [--quick] [--json]        (make bench)

Works on a private copy of seeds/ and a temp index, so it never touches index/. Uses the configured model
and runtime (QA_EMBED_MODEL, QA_EMBED_RUNTIME); the fp32 torch reference is measured in the same run, so the
ratios hold on a noisy machine. `python -m bench.threads` measures the thread settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from .report import report
from .run import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a minute less)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(quick=args.quick)
    if args.json:
        plain = {key: dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
                 for key, value in figures.items()}
        print(json.dumps(plain, ensure_ascii=False, indent=2))
    else:
        print(report(figures))


if __name__ == "__main__":
    main()

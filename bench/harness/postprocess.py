"""Item 5: post-processing alone (parse + top-k), Rust (criterion) vs the Python reference (timeit).

Writes the model bodies both sides parse to `--inputs`, times the reference handler's own
`postprocess` function with timeit, then runs the criterion benchmark on the same bytes
(`SAGEFRONT_BENCH_INPUTS`) and collects criterion's median estimates.

    python -m harness.postprocess --out RESULTS.json --inputs DIR [--skip-rust]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import timeit
from pathlib import Path

from .fake_sagemaker import probabilities_body
from .functions import REFERENCE_DIR, ROOT, TARGET_DIR
from .machine import describe

CLASS_COUNTS = (257, 1_000, 21_843)


def load_reference():
    """The reference handler module (its import creates a boto3 client: offline, dummy region)."""
    os.environ.setdefault("ENDPOINT_NAME", "bench-257")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sys.path.insert(0, str(REFERENCE_DIR))
    import handler  # noqa: E402

    return handler


def time_python(fn, budget_s: float = 0.4, repeat: int = 7) -> dict:
    """Median and minimum seconds per call over `repeat` timeit runs of about `budget_s` each."""
    timer = timeit.Timer(fn)
    number, elapsed = timer.autorange()
    number = max(1, int(number * budget_s / max(elapsed, 1e-9)))
    runs = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    return {"median_ns": statistics.median(runs) * 1e9, "min_ns": min(runs) * 1e9, "number": number}


def python_side(inputs: Path) -> list[dict]:
    import ast

    import numpy as np

    handler = load_reference()
    rows = []
    for classes in CLASS_COUNTS:
        raw = probabilities_body(classes)
        (inputs / f"probabilities-{classes}.json").write_bytes(raw)
        for label, k in (("k=5", 5), ("k=all", classes)):
            t = time_python(lambda: handler.postprocess(raw, k))
            rows.append({"what": "postprocess", "k": label, "classes": classes, "bytes": len(raw), **t})
        rows.append({"what": "parse", "k": "-", "classes": classes, **time_python(lambda: np.array(ast.literal_eval(raw.decode())))})
        probs = np.array(ast.literal_eval(raw.decode()))
        for label, k in (("k=5", 5), ("k=all", classes)):
            t = time_python(lambda: (lambda i: (i, probs[i]))(probs.argsort()[::-1][:k]))
            rows.append({"what": "top_k", "k": label, "classes": classes, **t})
    return rows


def rust_side(inputs: Path) -> list[dict]:
    env = dict(os.environ, SAGEFRONT_BENCH_INPUTS=str(inputs))
    subprocess.run(
        ["cargo", "bench", "-p", "sagefront-function", "--bench", "postprocess"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=1800,
    )
    rows = []
    base = TARGET_DIR / "criterion"
    for classes in CLASS_COUNTS:
        for what, ids in (
            ("postprocess", [("k=5", f"k=5/{classes}"), ("k=all", f"k=all/{classes}")]),
            ("parse", [("-", f"{classes}")]),
            ("top_k", [("k=5", f"k=5/{classes}"), ("k=all", f"k=all/{classes}")]),
        ):
            for label, bench_id in ids:
                est = json.loads((base / what / bench_id / "new" / "estimates.json").read_text())
                rows.append(
                    {
                        "what": what,
                        "k": label,
                        "classes": classes,
                        "median_ns": est["median"]["point_estimate"],
                        "mean_ns": est["mean"]["point_estimate"],
                    }
                )
    for layout in ("one_line", "wrapped"):
        for size in (10_000, 4_000_000):
            path = base / "decode_base64" / layout / str(size) / "new" / "estimates.json"
            if path.exists():
                est = json.loads(path.read_text())
                rows.append({"what": "decode_base64", "k": layout, "classes": size,
                             "median_ns": est["median"]["point_estimate"],
                             "mean_ns": est["mean"]["point_estimate"]})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--inputs", type=Path, required=True)
    ap.add_argument("--skip-rust", action="store_true", help="time the Python side only")
    args = ap.parse_args(argv)
    args.inputs.mkdir(parents=True, exist_ok=True)
    result = {"machine": describe(), "python": python_side(args.inputs)}
    for row in result["python"]:
        print(f"[postprocess] python {row['what']:12} {row['k']:6} {row['classes']:>6}: {row['median_ns'] / 1e3:10.1f} us", flush=True)
    if not args.skip_rust:
        result["rust"] = rust_side(args.inputs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

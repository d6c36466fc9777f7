"""Turns the JSON results of `scripts/bench` into BENCHMARKS.md's generated blocks and a PNG chart.

Each step (lambda, package, postprocess, model, load) owns one block between
`<!-- bench:STEP:begin -->` and `<!-- bench:STEP:end -->`, with its own command and machine.
Only the blocks of steps that have results are rewritten, so `scripts/bench --only lambda`
leaves the other steps' published results, and everything outside the blocks (hand-written
analysis, other engineers' sections), as they are.

    python -m harness.report --results DIR --markdown BENCHMARKS.md --chart bench/benchmarks.png
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Optional

HEADING = "## Rust function vs the original's Python handler"
STEPS = ("lambda", "package", "postprocess", "model", "load")
RESULT_FILES = {"lambda": "lambda", "package": "package", "postprocess": "postprocess",
                "model": "model_server", "load": "load"}
PREVIOUS, RUST, PYTHON = "rust-previous", "rust", "python"
SMALL_IMAGE = 10_000
LARGE_IMAGE = 4_000_000
# Issue 16's targets: cold start against the Python original, CPU per request against the
# previous build, RSS of small requests against the Python original; the zip's budget.
TARGETS = {"cold": 20.0, "cpu_vs_previous": 0.10, "rss": 5.0, "zip_bytes": 4_000_000}
DEFAULT_REQUESTS = 150


def markers(step: str) -> tuple[str, str]:
    return f"<!-- bench:{step}:begin -->", f"<!-- bench:{step}:end -->"


def _load(results: Path, name: str) -> Optional[dict]:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _med(xs):
    return statistics.median(xs)


def _p90(xs):
    s = sorted(xs)
    return s[int(0.9 * (len(s) - 1))]


def _fmt_us(us: float) -> str:
    if us >= 10_000:
        return f"{us / 1e3:,.1f} ms"
    if us >= 10:
        return f"{us:,.0f} µs"
    return f"{us:.2f} µs"


def _ratio(x: float) -> str:
    return f"×{x:,.1f}" if x < 100 else f"×{x:,.0f}"


def _change(new: float, old: float) -> str:
    pct = (new / old - 1) * 100
    return f"{'+' if pct >= 0 else '−'}{abs(pct):.1f} %"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _k(k, classes) -> str:
    return "all" if k == classes else str(k)


def _bytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} KB"


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def _run_on(m: dict) -> str:
    return f", run on {m['date']}" if m.get("date") else ""


def _machine(m: dict, after: Optional[dict] = None) -> str:
    line = (f"Machine: {m.get('cpu', '?')}, {m.get('cpus', '?')} vCPU ({m.get('arch', '?')}), "
            f"{m.get('mem_gib', '?')} GiB RAM, {m.get('os', '?')}, Linux {m.get('kernel', '?')}, "
            f"{m.get('rustc', '?')}, Python {m.get('python', '?')}.")
    load = m.get("loadavg")
    if load:
        line += f" Load average (1 min) at the start: {load[0]:.2f}"
        if after and after.get("loadavg"):
            line += f", at the end: {after['loadavg'][0]:.2f}"
        line += "."
    busy = sorted(set(m.get("busy", []) + (after or {}).get("busy", [])))
    if busy:
        line += (f" Other processes were using CPU at the start or end ({', '.join(busy)}): "
                 "absolute numbers are noisier than on a quiet machine.")
    return line


def summarize_lambda(lam: dict) -> dict:
    """Medians per kind from `lambda_bench`'s raw results."""
    s: dict = {"machine": lam["machine_before"], "machine_after": lam["machine_after"],
               "date": lam["started"][:10], "settings": lam["settings"], "builds": lam.get("builds", {})}
    s["cold"] = {
        kind: {
            "n": len(samples),
            "wall_ms": _med([x["wall_ms"] for x in samples]),
            "wall_p90_ms": _p90([x["wall_ms"] for x in samples]),
            "init_ms": _med([x["init_ms"] for x in samples]),
            "cpu_ms": _med([x["cpu_ms"] for x in samples]),
            "init_cpu_ms": _med([x["init_cpu_ms"] for x in samples]),
            "rss_kib": _med([x["rss_kib"] for x in samples]),
        }
        for kind, samples in lam["cold"].items()
    }
    cpu: dict = {}
    for w in lam["warm"]:
        cpu.setdefault((w["classes"], w["k"], w["image_bytes"]), {})[w["kind"]] = {
            "cpu_us": _med(w["cpu_us"]), "cpu_p90_us": _p90(w["cpu_us"]), "wall_us": _med(w["wall_us"]),
            "n": len(w["cpu_us"]),
        }
    s["cpu"] = cpu
    rss: dict = {}
    for r in lam["rss"]:
        rss.setdefault(r["process"], {})[r["kind"]] = r["vmhwm_kib"]
    s["rss"] = rss
    s["mmap"] = [
        {**m, "after_first_kib": m["rss_kib"][0], "after_last_kib": m["rss_kib"][-1],
         "growth_kib": m["rss_kib"][-1] - m["rss_kib"][0], "cpu_median_us": _med(m["cpu_us"]),
         "requests": len(m["rss_kib"])}
        for m in lam.get("mmap", [])
    ]
    s["kinds"] = [k for k in (PREVIOUS, RUST, PYTHON) if k in s["cold"]]
    return s


def summarize(results: Path) -> dict:
    """Everything the blocks and the chart need, by step (a step without results is absent)."""
    s: dict = {}
    lam = _load(results, RESULT_FILES["lambda"])
    if lam:
        s["lambda"] = summarize_lambda(lam)
    pkg = _load(results, RESULT_FILES["package"])
    if pkg:
        s["package"] = pkg
    pp = _load(results, RESULT_FILES["postprocess"])
    if pp and "rust" in pp:
        rust = {(r["what"], r["k"], r["classes"]): r for r in pp["rust"]}
        s["postprocess"] = {
            "machine": pp.get("machine", {}),
            "decode": {(r["k"], r["classes"]): r["median_ns"] for r in pp["rust"] if r["what"] == "decode_base64"},
            "rows": [
                {**p, "rust_ns": rust[(p["what"], p["k"], p["classes"])]["median_ns"],
                 "ratio": p["median_ns"] / rust[(p["what"], p["k"], p["classes"])]["median_ns"]}
                for p in pp["python"]
                if (p["what"], p["k"], p["classes"]) in rust
            ],
        }
    for step in ("model", "load"):
        data = _load(results, RESULT_FILES[step])
        if data:
            s[step] = data
    return s


def _build_name(kind: str, builds: dict) -> str:
    if kind == PYTHON:
        return "Python original"
    rev = builds.get(kind)
    name = "previous build" if kind == PREVIOUS else "this build"
    return f"{name} ({rev})" if rev and rev != "previous build" else name


def lambda_rows(s: dict) -> list[dict]:
    """The rows of the Lambda table: label, kind of value, value per kind, and the target."""
    rows = [{"label": f"cold start: spawn → first response, median of {s['cold'][RUST]['n']}", "unit": "ms",
             "values": {k: v["wall_ms"] for k, v in s["cold"].items()}, "target": "cold"}]
    for classes, image in ((257, SMALL_IMAGE), (1_000, SMALL_IMAGE), (21_843, SMALL_IMAGE), (257, LARGE_IMAGE)):
        row = s["cpu"].get((classes, 5, image))
        if row:
            rows.append({"label": f"CPU per request, {classes:,} classes, k = 5, {_bytes(image)} image", "unit": "µs",
                         "values": {k: v["cpu_us"] for k, v in row.items()}, "target": "cpu",
                         "n": {k: v["n"] for k, v in row.items()}})
    for name, label, target in (("257", "peak RSS, small requests (257 classes, 10 KB images)", "rss"),
                                (f"257, images to {LARGE_IMAGE // 1_000_000} MB",
                                 f"peak RSS, {_bytes(LARGE_IMAGE)} images (257 classes)", None)):
        if name in s["rss"]:
            rows.append({"label": label, "unit": "KiB", "values": s["rss"][name], "target": target})
    runtime_only = s["cpu"].get((257, 0, 0))
    if runtime_only:
        rows.append({"label": "CPU per event that calls no model (Rust: `GET /health`; Python: its 400 "
                              "answer to a body without `data`)", "unit": "µs",
                     "values": {k: v["cpu_us"] for k, v in runtime_only.items()}, "target": None})
    return rows


def _value(v: Optional[float], unit: str) -> str:
    if v is None:
        return "—"
    if unit == "ms":
        return f"{v:,.1f} ms"
    if unit == "KiB":
        return _mib(v)
    return _fmt_us(v)


def _verdict(row: dict, kinds: list[str]) -> tuple[str, str]:
    """(target, met/missed) for a row."""
    v = row["values"]
    if row["target"] == "cold":
        return "≥ ×20 faster than Python", _met(v[PYTHON] / v[RUST] >= TARGETS["cold"])
    if row["target"] == "cpu":
        if PREVIOUS not in kinds:
            return "within 10 % of the previous build", "not measured: no `--baseline`"
        return "within 10 % of the previous build", _met(v[RUST] / v[PREVIOUS] - 1 <= TARGETS["cpu_vs_previous"])
    if row["target"] == "rss":
        return "≤ 1/5 of Python's", _met(v[PYTHON] / v[RUST] >= TARGETS["rss"])
    return "none (reported)", ""


def render_lambda(s: dict, chart_name: Optional[str]) -> str:
    kinds, builds, st = s["kinds"], s["builds"], s["settings"]
    rows = lambda_rows(s)
    head = ["", *(_build_name(k, builds) for k in kinds)]
    if PREVIOUS in kinds:
        head.append("this build vs previous")
    head += ["this build vs Python", "target", ""]
    lines = ["### Lambda: cold start, CPU per request, peak RSS", "",
             "| " + " | ".join(head) + " |", "| --- | " + " | ".join(["---:"] * (len(head) - 3)) + " | --- | --- |"]
    for row in rows:
        v = row["values"]
        cells = [row["label"], *(_value(v.get(k), row["unit"]) for k in kinds)]
        if PREVIOUS in kinds:
            cells.append(_change(v[RUST], v[PREVIOUS]))
        ratio = v[PYTHON] / v[RUST]
        if row["unit"] == "KiB":
            cells.append(f"1/{ratio:.1f} of its RSS")
        else:
            cells.append(f"{_ratio(ratio)} {'faster' if row['target'] == 'cold' else 'less CPU'}")
        cells += _verdict(row, kinds)
        lines.append("| " + " | ".join(cells) + " |")

    short = sorted({n for row in rows for n in row.get("n", {}).values() if n < st.get("requests", 0)})
    command = "scripts/bench --only lambda" + (" --baseline PREVIOUS" if PREVIOUS in kinds else "")
    lines += ["", f"Command: `{command}`, run on {s['date']}."
              + (f" PREVIOUS is the release binary of commit {builds[PREVIOUS]}, built as this one is "
                 "(`cargo build --release -p sagefront-function --locked` in a worktree of that commit, "
                 "copied out of `target/release`)." if PREVIOUS in kinds else "")
              + " Both Rust builds are native x86_64 release builds (LTO) of the code that ships as the "
              "arm64 zip.", "",
              _machine(s["machine"], s["machine_after"]), ""]
    if st.get("requests", DEFAULT_REQUESTS) < DEFAULT_REQUESTS:
        lines += ["**Quick run** (`--quick`, few samples): a smoke check of the harness, not numbers to "
                  "publish.", ""]
    lines += [f"Medians. Cold starts: {s['cold'][RUST]['n']} per implementation, rotating which goes first. "
              f"CPU: {st.get('requests', '?')} requests per row after {st.get('warmup', '?')} unmeasured ones "
              "(fewer when a row hit its "
              f"{st.get('budget', '?')} s budget" + (f": {', '.join(map(str, short))} in some rows" if short else "")
              + "), the implementations' processes taking turns in blocks of 10. Peak RSS: `VmHWM` of the "
              "process that served the row's requests (the 4 MB images have a process of their own)."]

    if s["mmap"]:
        n = s["mmap"][0]["requests"]
        lines += ["", f"#### glibc's mmap threshold: {n} requests of {_bytes(LARGE_IMAGE)} images, 257 classes", "",
                  f"| process | RSS at rest | after request 1 | after request {n} | growth | peak (`VmHWM`) "
                  "| CPU per request, median |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for m in s["mmap"]:
            label = {("default", RUST): "this build, glibc's default (dynamic) threshold",
                     ("mallopt in the code", PREVIOUS): "previous build: `mallopt(M_MMAP_THRESHOLD, 2 MiB)` "
                                                        "in the code"}.get(
                (m["variant"], m["kind"]), f"this build, `{m['variant']}` in its environment")
            lines.append(f"| {label} | {_mib(m['rest_kib'])} | {_mib(m['after_first_kib'])} | "
                         f"{_mib(m['after_last_kib'])} | {'+' if m['growth_kib'] >= 0 else '−'}"
                         f"{_mib(abs(m['growth_kib']))} | {_mib(m['vmhwm_kib'])} | {_fmt_us(m['cpu_median_us'])} |")
        lines += ["", "One process per row, the rows taking turns request by request; `VmRSS` is read "
                  "once the process has polled for its next event, so it is what the process keeps "
                  "between requests."]

    lines += ["", "How it is measured:", "",
              "- Every implementation runs as a real Lambda process against a local Runtime API "
              "(`bench/harness/runtime_api.py`) and a fake SageMaker Runtime that answers at once with N "
              "probabilities in the built-in algorithm's format (`bench/harness/fake_sagemaker.py`). All "
              "receive the same API Gateway REST proxy events with the original's JSON body "
              "(`{\"data\": base64, \"topk\": k}`).",
              "- Rust: `PREPROCESS=off`, so no image is decoded (the bytes pass through, as in the "
              "original). Python: `bench/reference/handler.py`, the original's logic (boto3 "
              "`invoke_endpoint`, `ast.literal_eval`, `numpy.argsort`) without Chalice, under "
              "`python -m awslambdaric`.",
              "- CPU: the process's kernel CPU clock (user + system, all threads) read each time it polls "
              "`next`, so one reading-to-reading difference is exactly one invocation, runtime client and "
              "log line included. Cold start: from `exec` (event already queued) until the emulator has "
              "the first response, the Rust function's init-time connection warm-up included.",
              "- Lambda gives a 128 MB function about 1/13 of a vCPU, so 100 µs of CPU here is about "
              "1.3 ms of latency and billed time there."]
    if chart_name:
        lines += ["", f"![Cold start, CPU per request and peak RSS of each build and the Python original]({chart_name})"]
    return "\n".join(lines)


def render_package(pk: dict) -> str:
    z = pk["rust"]["zip_bytes"]
    return "\n".join([
        "### Deployment package", "",
        "| package | zipped | unzipped |", "| --- | ---: | ---: |",
        f"| Rust: `bootstrap.zip` from `scripts/package` (arm64, release) | {z:,} bytes | "
        f"{pk['rust']['unzipped_bytes']:,} bytes |",
        f"| Python: `handler.py` + {', '.join(pk['requirements'])} (manylinux aarch64 wheels, Lambda Python "
        f"{pk['lambda_python']}; boto3 from the runtime) | {pk['python']['zip_bytes']:,} bytes | "
        f"{pk['python']['unzipped_bytes']:,} bytes |",
        f"| Python, also pinning boto3 in the package (AWS's advice for a fixed SDK version) | "
        f"{pk['python_with_boto3']['zip_bytes']:,} bytes | {pk['python_with_boto3']['unzipped_bytes']:,} bytes |",
        "", f"Budget: {TARGETS['zip_bytes']:,} bytes, {_met(z <= TARGETS['zip_bytes'])}. Command: "
        f"`scripts/bench --only package`{_run_on(pk.get('machine', {}))}.",
    ])


def render_postprocess(pp: dict) -> str:
    lines = ["### Post-processing alone (parse + top-k)", "",
             "| step | classes | k | Rust | Python | ratio |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for p in pp["rows"]:
        lines.append(f"| {p['what']} | {p['classes']:,} | {p['k'].removeprefix('k=')} | "
                     f"{_fmt_us(p['rust_ns'] / 1e3)} | {_fmt_us(p['median_ns'] / 1e3)} | {_ratio(p['ratio'])} |")
    d = pp["decode"]
    if d:
        lines += ["", "Base64 decoding of the image (`decode_base64_in_place`), into the body's own buffer as "
                  "the handler does: one unbroken line, and the same text wrapped at 76 columns:", "",
                  "| image | one line | wrapped at 76 | throughput, one line |", "| ---: | ---: | ---: | ---: |"]
        for size in sorted({k[1] for k in d}):
            one, wrapped = d.get(("one_line", size)), d.get(("wrapped", size))
            if one and wrapped:
                lines.append(f"| {_bytes(size)} | {_fmt_us(one / 1e3)} | {_fmt_us(wrapped / 1e3)} | "
                             f"{size * 4 / 3 / 1e6 / (one / 1e9):,.0f} MB/s of base64 |")
    lines += ["", f"Command: `scripts/bench --only postprocess`{_run_on(pp.get('machine', {}))}. Rust: criterion median "
              "(`function/benches/postprocess.rs`); Python: timeit median of 7 runs of the reference's "
              "own `postprocess` (`ast.literal_eval`, `numpy.array`, `argsort()[::-1][:k]`). Same bytes on "
              "both sides."]
    if pp.get("machine"):
        lines += ["", _machine(pp["machine"])]
    return "\n".join(lines)


def render_model(ms: dict) -> str:
    lines = ["### model-server (EfficientNet-Lite0, candle, CPU)", "",
             "| concurrency | requests | p50 latency | p90 latency | throughput | errors |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for lv in ms["levels"]:
        lines.append(f"| {lv['concurrency']} | {lv['requests']} | {lv['p50_ms']:.1f} ms | "
                     f"{lv['p90_ms']:.1f} ms | {lv['throughput_rps']:.1f} images/s | {lv['errors']} |")
    lines += ["", f"Command: `scripts/bench --only model`{_run_on(ms.get('machine', {}))}: `sagefront-model-server serve` (release build), "
              f"`POST /invocations` with {' and '.join(i['name'] for i in ms['images'])} (scikit-learn's "
              f"640×427 JPEGs) from keep-alive clients on loopback. Ready (weights loaded) {ms['ready_s']:.1f} s "
              "after spawn."]
    if ms.get("machine"):
        lines += ["", _machine(ms["machine"])]
    return "\n".join(lines)


def render_load(ld: dict) -> str:
    lines = ["### The local stack under load (`wrk`)", "",
             "| connections | requests | p50 | p90 | p99 | max | throughput | errors |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in ld["runs"]:
        lines.append(f"| {r['connections']} | {r['requests']} | {r['p50_us'] / 1e3:.1f} ms | "
                     f"{r['p90_us'] / 1e3:.1f} ms | {r['p99_us'] / 1e3:.1f} ms | {r['max_us'] / 1e3:.1f} ms | "
                     f"{r['rps']:.1f} req/s | {r['errors']} |")
    lines += ["", f"Command: `scripts/bench --only load`{_run_on(ld.get('machine', {}))}: the stack `scripts/dev` starts (model-server and the "
              "function under `cargo lambda watch`, debug builds, on loopback), `POST /predictions` with "
              f"china.jpg ({ld['image_bytes']:,} bytes, base64 in JSON), k = 5, for a fixed {ld['duration_s']} s "
              f"per row; wrk's Lua hooks check every response. wrk: `{ld['runs'][0]['command']}` with `-c` as in "
              "the table."]
    if ld.get("machine"):
        lines += ["", _machine(ld["machine"])]
    return "\n".join(lines)


def render(s: dict, chart_name: Optional[str]) -> dict[str, str]:
    """The text of each block with results, markers included."""
    bodies = {}
    if "lambda" in s:
        bodies["lambda"] = render_lambda(s["lambda"], chart_name)
    if "package" in s:
        bodies["package"] = render_package(s["package"])
    if "postprocess" in s:
        bodies["postprocess"] = render_postprocess(s["postprocess"])
    if "model" in s:
        bodies["model"] = render_model(s["model"])
    if "load" in s:
        bodies["load"] = render_load(s["load"])
    blocks = {}
    for step, body in bodies.items():
        begin, end = markers(step)
        blocks[step] = (f"{begin}\n<!-- Generated by `scripts/bench --only {step}` (bench/harness/report.py): "
                        f"edits here are overwritten. -->\n\n{body}\n\n{end}")
    return blocks


def chart(s: dict, path: Path) -> None:
    """Cold start, CPU per request and peak RSS per implementation (the Lambda step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = s["kinds"]
    colors = {PREVIOUS: "#e8a27c", RUST: "#b7410e", PYTHON: "#3572a5"}
    rows = lambda_rows(s)
    panels = (("Cold start (median)", "ms", [r for r in rows if r["target"] == "cold"]),
              ("CPU per request (median)", "µs", [r for r in rows if r["target"] == "cpu"]),
              ("Peak RSS", "MiB", [r for r in rows if r["unit"] == "KiB"]))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.5), dpi=90, gridspec_kw={"width_ratios": [1, 3, 1.6]})
    short = {"cold start": "spawn →\nfirst response", "peak RSS, small": "10 KB\nimages", "peak RSS, 4.0": "4 MB\nimages"}
    for ax, (title, unit, prow) in zip(axes, panels):
        w = 0.8 / len(kinds)
        for i, kind in enumerate(kinds):
            vals = [r["values"][kind] / (1024 if unit == "MiB" else 1) for r in prow]
            ax.bar([j + (i - (len(kinds) - 1) / 2) * w for j in range(len(prow))], vals, w,
                   label=_build_name(kind, s["builds"]), color=colors[kind])
        labels = []
        for r in prow:
            key = next((k for k in short if r["label"].startswith(k)), None)
            labels.append(short[key] if key else r["label"].removeprefix("CPU per request, ").replace(", ", "\n"))
        ax.set_xticks(list(range(len(prow))), labels, fontsize=8)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit, fontsize=9)
        ax.grid(axis="y", alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    fig.suptitle("sagefront: the Rust function's builds vs the original's Python handler (same machine, same run)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def splice(markdown: Path, blocks: dict[str, str]) -> None:
    """Replaces each given step's block; a block not in the file yet goes after the block of the
    step before it (or after the section's heading, added at the end of the file if missing)."""
    text = markdown.read_text() if markdown.exists() else "# Benchmarks\n"
    if HEADING not in text:
        text = text.rstrip() + "\n\n" + HEADING + "\n"
    for step in STEPS:
        if step not in blocks:
            continue
        begin, end = markers(step)
        if (begin in text) != (end in text) or (begin in text and text.index(begin) > text.index(end)):
            raise SystemExit(f"{markdown}: the markers of the {step} block are broken; fix them by hand")
        if begin in text:
            text = text[: text.index(begin)] + blocks[step] + text[text.index(end) + len(end):]
            continue
        anchor = text.index(HEADING) + len(HEADING)
        for prev in reversed(STEPS[: STEPS.index(step)]):
            if markers(prev)[1] in text:
                anchor = text.index(markers(prev)[1]) + len(markers(prev)[1])
                break
        rest = text[anchor:].lstrip("\n")
        text = text[:anchor] + "\n\n" + blocks[step] + ("\n\n" + rest if rest else "\n")
    markdown.write_text(text)


def _jsonable(x):
    """`x` with tuple keys (classes, k, image bytes) written as strings, for summary.json."""
    if isinstance(x, dict):
        return {(" ".join(map(str, k)) if isinstance(k, tuple) else k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--markdown", type=Path, required=True)
    ap.add_argument("--chart", type=Path)
    args = ap.parse_args(argv)
    s = summarize(args.results)
    chart_name = None
    if args.chart and "lambda" in s:
        chart(s["lambda"], args.chart)
        chart_name = str(args.chart.resolve().relative_to(args.markdown.resolve().parent))
    blocks = render(s, chart_name)
    splice(args.markdown, blocks)
    (args.results / "summary.json").write_text(json.dumps(_jsonable(s), indent=1))
    print(f"[report] rewrote the {', '.join(blocks) or 'no'} block(s) of {args.markdown}"
          + (f" and {args.chart}" if chart_name else ""))


if __name__ == "__main__":
    main()

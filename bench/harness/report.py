"""Turns the JSON results of one `scripts/bench` run into BENCHMARKS.md's generated section and a
PNG chart. Only the text between `<!-- bench:begin -->` and `<!-- bench:end -->` is replaced;
the rest of BENCHMARKS.md (other engineers' sections) is left as it is.

    python -m harness.report --results DIR --markdown BENCHMARKS.md --chart bench/benchmarks.png
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Optional

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
HEADING = "## Rust function vs the original's Python handler"
COMMAND = "scripts/bench"

SMALL_IMAGE = 10_000
TARGETS = {
    "cold": 20.0,
    "cpu": 5.0,
    "postprocess": 30.0,
    "rss": 5.0,
    "zip_bytes": 4_000_000,
}


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


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _k(k, classes) -> str:
    return "all" if k == classes else str(k)


def _bytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} KB"


def summarize(results: Path) -> dict:
    """Medians and ratios from the raw results; the report and the chart both use this."""
    s: dict = {}
    lam = _load(results, "lambda")
    if lam:
        s["machine"] = lam["machine_before"]
        s["machine_after"] = lam["machine_after"]
        s["started"] = lam["started"]
        s["settings"] = lam["settings"]
        cold = {}
        for kind, samples in lam["cold"].items():
            cold[kind] = {
                "n": len(samples),
                "wall_ms": _med([x["wall_ms"] for x in samples]),
                "wall_p90_ms": _p90([x["wall_ms"] for x in samples]),
                "init_ms": _med([x["init_ms"] for x in samples]),
                "cpu_ms": _med([x["cpu_ms"] for x in samples]),
                "init_cpu_ms": _med([x["init_cpu_ms"] for x in samples]),
                "rss_kib": _med([x["rss_kib"] for x in samples]),
            }
        s["cold"] = cold
        rows = {}
        for w in lam["warm"]:
            key = (w["classes"], w["k"], w["image_bytes"])
            rows.setdefault(key, {})[w["kind"]] = {
                "cpu_us": _med(w["cpu_us"]),
                "cpu_p90_us": _p90(w["cpu_us"]),
                "wall_us": _med(w["wall_us"]),
                "n": len(w["cpu_us"]),
            }
        both = [
            {"classes": c, "k": k, "image_bytes": b, **v, "ratio": v["python"]["cpu_us"] / v["rust"]["cpu_us"]}
            for (c, k, b), v in rows.items()
            if "rust" in v and "python" in v
        ]
        s["warm"] = [w for w in both if w["k"] > 0]
        s["runtime_only"] = next((w for w in both if w["k"] == 0), None)
        rss = {}
        for r in lam["rss"]:
            rss.setdefault(r.get("process", str(r["classes"])), {})[r["kind"]] = r
        s["rss"] = rss
    pkg = _load(results, "package")
    if pkg:
        s["package"] = pkg
    pp = _load(results, "postprocess")
    if pp and "rust" in pp:
        rust = {(r["what"], r["k"], r["classes"]): r for r in pp["rust"]}
        s["decode"] = {(r["k"], r["classes"]): r["median_ns"] for r in pp["rust"] if r["what"] == "decode_base64"}
        s["postprocess"] = [
            {**p, "rust_ns": rust[(p["what"], p["k"], p["classes"])]["median_ns"],
             "ratio": p["median_ns"] / rust[(p["what"], p["k"], p["classes"])]["median_ns"]}
            for p in pp["python"]
            if (p["what"], p["k"], p["classes"]) in rust
        ]
    for name in ("model_server", "load"):
        data = _load(results, name)
        if data:
            s[name] = data
    return s


def targets_table(s: dict) -> list[str]:
    out = ["| target (same machine, same run) | measured | |", "| --- | --- | --- |"]
    if "cold" in s:
        r = s["cold"]["python"]["wall_ms"] / s["cold"]["rust"]["wall_ms"]
        out.append(
            f"| cold start ≥ 20× faster | {s['cold']['rust']['wall_ms']:.1f} ms vs "
            f"{s['cold']['python']['wall_ms']:.0f} ms: {_ratio(r)} | {_met(r >= TARGETS['cold'])} |"
        )
    if "warm" in s:
        for classes in sorted({w["classes"] for w in s["warm"]}):
            rows = [w for w in s["warm"] if w["classes"] == classes and w["image_bytes"] == SMALL_IMAGE]
            worst = min(rows, key=lambda w: w["ratio"])
            best = max(rows, key=lambda w: w["ratio"])
            out.append(
                f"| CPU per warm request ≥ 5× lower, {classes:,} classes | ×{worst['ratio']:.1f} "
                f"(worst: k={_k(worst['k'], classes)}, {_bytes(worst['image_bytes'])} image) to "
                f"×{best['ratio']:.1f} | {_met(worst['ratio'] >= TARGETS['cpu'])} |"
            )
        sizes = [w for w in s["warm"] if w["image_bytes"] != SMALL_IMAGE]
        if sizes:
            out.append(
                "| (no target) CPU per warm request, larger images, 257 classes | "
                + ", ".join(f"×{w['ratio']:.1f} at {_bytes(w['image_bytes'])}" for w in sizes)
                + " | see section 2 |"
            )
    if "postprocess" in s:
        for classes in (257, 21_843):
            rows = [p for p in s["postprocess"] if p["what"] == "postprocess" and p["classes"] == classes]
            if rows:
                worst = min(r["ratio"] for r in rows)
                out.append(
                    f"| post-processing ≥ 30× faster, {classes:,} classes | {_ratio(worst)} "
                    f"(worse of k=5 and k=all) | {_met(worst >= TARGETS['postprocess'])} |"
                )
    if "rss" in s:
        for name, v in s["rss"].items():
            r, p = v["rust"]["vmhwm_kib"], v["python"]["vmhwm_kib"]
            label = f"{int(name):,} classes" if name.isdigit() else name
            out.append(f"| peak RSS ≤ 1/5, {label} | {r / 1024:.1f} vs {p / 1024:.1f} MiB: "
                       f"1/{p / r:.1f} | {_met(p / r >= TARGETS['rss'])} |")
    if "package" in s:
        z = s["package"]["rust"]["zip_bytes"]
        out.append(f"| zip ≤ 4 MB | {z:,} bytes | {_met(z <= TARGETS['zip_bytes'])} |")
    return out


def render(s: dict, chart_name: Optional[str]) -> str:
    m = s.get("machine", {})
    after = s.get("machine_after", {})
    lines = [HEADING, "", BEGIN,
             "<!-- Generated by scripts/bench (bench/harness/report.py): edits here are overwritten. -->", ""]
    lines += [
        f"Command: `{COMMAND}` (the Lambda runs started {s.get('started', '?')}). Every number below "
        "comes from the latest run of its step on this machine (`scripts/bench --only STEP` reruns one).",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus', '?')} vCPU ({m.get('arch', '?')}), "
        f"{m.get('mem_gib', '?')} GiB RAM, {m.get('os', '?')}, Linux {m.get('kernel', '?')}, "
        f"{m.get('rustc', '?')}, Python {m.get('python', '?')}. Load average before/after the Lambda "
        f"runs: {m.get('loadavg', ['?'])[0]:.2f} / {after.get('loadavg', ['?'])[0]:.2f}."
        if m else "Machine: see the other sections.",
    ]
    busy = sorted(set(m.get("busy", []) + after.get("busy", [])))
    if busy:
        lines += ["", "**The machine was shared**: other engineers' builds and tests ran during the "
                  f"benchmark ({', '.join(busy)} at the start or end). Ratios compare the two "
                  "implementations in the same run, interleaved, so both saw the same load; absolute "
                  "numbers are noisier than on a quiet machine."]
    lines += ["", "### Targets", ""] + targets_table(s)

    lines += ["", "### How it is measured", "",
              "- Both implementations run as real Lambda processes against a local Runtime API "
              "(`bench/harness/runtime_api.py`: `/2018-06-01/runtime/invocation/next`, `/response`, "
              "`/error`, `/init/error`) and a fake SageMaker Runtime that answers "
              "`POST /endpoints/{name}/invocations` at once with N probabilities in the built-in "
              "algorithm's format (`bench/harness/fake_sagemaker.py`). Both receive the same API Gateway "
              "REST proxy events with the original's JSON body (`{\"data\": base64, \"topk\": k}`).",
              "- Rust: `target/release/sagefront-function`, a native x86_64 release build "
              "(`cargo build --release -p sagefront-function`, LTO) of the code that ships as the arm64 "
              "zip; `PREPROCESS=off` so no image is decoded (the bytes pass through, as in the original).",
              "- Python: `bench/reference/handler.py`, the original's logic (boto3 `invoke_endpoint`, "
              "`ast.literal_eval`, `numpy.argsort`, reverse, slice) without Chalice, under "
              "`python -m awslambdaric handler.fn`; boto3 client created once at import.",
              "- CPU: the function process's kernel CPU clock (`clock_getcpuclockid`: user + system, all "
              "threads) read each time the process polls `next`, so one reading-to-reading difference is "
              "exactly one invocation, runtime-client work and log writes included. Peak RSS: `VmHWM`.",
              "- Cold start: from `exec` of the process (event already queued) until the emulator has the "
              "first response: init + first invocation, including the Rust function's init-time "
              "`GET /ping` connection warm-up to the fake SageMaker.",
              "- Lambda gives a 128 MB function about 1/13 of a vCPU, so 100 µs of CPU here is about "
              "1.3 ms of latency and billed time there."]

    if "cold" in s:
        c = s["cold"]
        lines += ["", f"### 1. Cold start ({c['rust']['n']} each, alternating)", "",
                  "| | Rust | Python | ratio |", "| --- | --- | --- | --- |"]
        for key, label in (("wall_ms", "spawn → first response, median"),
                           ("wall_p90_ms", "spawn → first response, p90"),
                           ("init_ms", "spawn → first `next` poll (init), median"),
                           ("cpu_ms", "CPU, init + first request, median"),
                           ("init_cpu_ms", "CPU, init only, median")):
            r, p = c["rust"][key], c["python"][key]
            lines.append(f"| {label} | {r:,.1f} ms | {p:,.1f} ms | {_ratio(p / r)} |")
        lines.append(f"| RSS after the first request | {c['rust']['rss_kib'] / 1024:.1f} MiB | "
                     f"{c['python']['rss_kib'] / 1024:.1f} MiB | {_ratio(c['python']['rss_kib'] / c['rust']['rss_kib'])} |")

    if "warm" in s:
        st = s.get("settings", {})
        lines += ["", "### 2. CPU per warm request", "",
                  f"Median (and p90) over {st.get('requests', '?')} requests per row after "
                  f"{st.get('warmup', '?')} unmeasured ones (fewer when a row hit its "
                  f"{st.get('budget', '?')} s budget: n column). The last column is the Rust median "
                  "scaled to a 128 MB Lambda (×13).", "",
                  "| classes | k | image | Rust CPU | Python CPU | ratio | n (Rust/Python) | Rust at 128 MB |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for w in s["warm"]:
            r, p = w["rust"], w["python"]
            lines.append(
                f"| {w['classes']:,} | {_k(w['k'], w['classes'])} | {_bytes(w['image_bytes'])} | "
                f"{_fmt_us(r['cpu_us'])} ({_fmt_us(r['cpu_p90_us'])}) | "
                f"{_fmt_us(p['cpu_us'])} ({_fmt_us(p['cpu_p90_us'])}) | {_ratio(w['ratio'])} | "
                f"{r['n']}/{p['n']} | ~{r['cpu_us'] * 13 / 1e3:.1f} ms |")

    if s.get("runtime_only"):
        ro = s["runtime_only"]
        small = next(w for w in s["warm"] if w["classes"] == 257 and w["k"] == 5 and w["image_bytes"] == 10_000)
        lines += ["", "Where a small request's CPU goes: the same processes answering an event that "
                  "calls no model (Rust: `GET /health`; the reference has no such route, so its 400 path "
                  "for a body without `data`). That is the runtime client, event parsing, routing, the "
                  "response and the log line; the rest of a prediction is the SageMaker call and the "
                  "post-processing.", "",
                  "| | Rust | Python | ratio |", "| --- | ---: | ---: | ---: |",
                  f"| event without a model call | {_fmt_us(ro['rust']['cpu_us'])} | {_fmt_us(ro['python']['cpu_us'])} | {_ratio(ro['ratio'])} |",
                  f"| prediction, 257 classes, k = 5, 10 KB | {_fmt_us(small['rust']['cpu_us'])} | {_fmt_us(small['python']['cpu_us'])} | {_ratio(small['ratio'])} |",
                  f"| difference: InvokeEndpoint + base64 + post-processing | "
                  f"{_fmt_us(small['rust']['cpu_us'] - ro['rust']['cpu_us'])} | "
                  f"{_fmt_us(small['python']['cpu_us'] - ro['python']['cpu_us'])} | "
                  f"{_ratio((small['python']['cpu_us'] - ro['python']['cpu_us']) / (small['rust']['cpu_us'] - ro['rust']['cpu_us']))} |"]

    if "rss" in s:
        lines += ["", "### 3. Peak RSS", "",
                  "`VmHWM` of each warm-request process after all its rows: one process per class count "
                  "for the 10 KB rows, and one for the image-size rows.", "",
                  "| process | Rust | Python | ratio |", "| --- | ---: | ---: | ---: |"]
        for name, v in s["rss"].items():
            r, p = v["rust"]["vmhwm_kib"], v["python"]["vmhwm_kib"]
            label = f"{int(name):,} classes, 10 KB images" if name.isdigit() else f"{name.split(',')[0]} classes,{name.split(',', 1)[1]}"
            lines.append(f"| {label} | {r / 1024:.1f} MiB | {p / 1024:.1f} MiB | {_ratio(p / r)} |")

    if "package" in s:
        pk = s["package"]
        lines += ["", "### 4. Deployment package", "",
                  "| package | zipped | unzipped |", "| --- | ---: | ---: |",
                  f"| Rust: `bootstrap.zip` from `scripts/package` (arm64, release) | "
                  f"{pk['rust']['zip_bytes']:,} bytes | {pk['rust']['unzipped_bytes']:,} bytes |",
                  f"| Python: `handler.py` + {', '.join(pk['requirements'])} (manylinux aarch64 wheels, "
                  f"Lambda Python {pk['lambda_python']}; boto3 from the runtime) | "
                  f"{pk['python']['zip_bytes']:,} bytes | {pk['python']['unzipped_bytes']:,} bytes |",
                  f"| Python, also pinning boto3 in the package (AWS's advice for a fixed SDK version) | "
                  f"{pk['python_with_boto3']['zip_bytes']:,} bytes | "
                  f"{pk['python_with_boto3']['unzipped_bytes']:,} bytes |"]

    if "postprocess" in s:
        lines += ["", "### 5. Post-processing alone (parse + top-k)", "",
                  "Rust: criterion median (`function/benches/postprocess.rs`: `model_output::parse` + "
                  "`top_k::top_k`). Python: timeit median of 7 runs of the reference's own "
                  "`postprocess` (`ast.literal_eval`, `numpy.array`, `argsort()[::-1][:k]`). Same bytes "
                  "on both sides.", "",
                  "| step | classes | k | Rust | Python | ratio |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for p in s["postprocess"]:
            lines.append(f"| {p['what']} | {p['classes']:,} | {p['k'].removeprefix('k=')} | "
                         f"{_fmt_us(p['rust_ns'] / 1e3)} | {_fmt_us(p['median_ns'] / 1e3)} | {_ratio(p['ratio'])} |")

    if "decode" in s:
        d = s["decode"]
        lines += ["", "Base64 decoding of the image (`request::decode_base64_in_place`), the step whose cost "
                  "grows with the image, decoded into the request body's own buffer as the handler does: one "
                  "unbroken line, and the same text wrapped at 76 columns (line breaks squeezed out in place "
                  "first):", "",
                  "| image | one line | wrapped at 76 | throughput, one line |", "| ---: | ---: | ---: | ---: |"]
        for size in sorted({k[1] for k in d}):
            one, wrapped = d.get(("one_line", size)), d.get(("wrapped", size))
            if one and wrapped:
                encoded_mb = size * 4 / 3 / 1e6
                lines.append(f"| {_bytes(size)} | {_fmt_us(one / 1e3)} | {_fmt_us(wrapped / 1e3)} | "
                             f"{encoded_mb / (one / 1e9):,.0f} MB/s of base64 |")

    if "model_server" in s:
        ms = s["model_server"]
        lines += ["", "### 6. model-server (EfficientNet-Lite0, candle, CPU)", "",
                  f"`sagefront-model-server serve` (release build), `POST /invocations` with "
                  f"{' and '.join(i['name'] for i in ms['images'])} (scikit-learn's 640×427 JPEGs) from "
                  "keep-alive clients on loopback. Ready (weights loaded) "
                  f"{ms['ready_s']:.1f} s after spawn.", "",
                  "| concurrency | requests | p50 latency | p90 latency | throughput | errors |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for lv in ms["levels"]:
            lines.append(f"| {lv['concurrency']} | {lv['requests']} | {lv['p50_ms']:.1f} ms | "
                         f"{lv['p90_ms']:.1f} ms | {lv['throughput_rps']:.1f} images/s | {lv['errors']} |")

    if "load" in s:
        ld = s["load"]
        lines += ["", "### 7. The local stack under load (`wrk`)", "",
                  "The stack `scripts/dev` starts (model-server and the function under `cargo lambda "
                  "watch`, debug builds, on loopback), `POST /predictions` with china.jpg "
                  f"({ld['image_bytes']:,} bytes, base64 in JSON), k = 5, for a fixed {ld['duration_s']} s "
                  "per row; wrk's Lua hooks check every response (200 with predictions). Command: "
                  f"`{ld['runs'][0]['command']}` with `-c` as in the table.", "",
                  "| connections | requests | p50 | p90 | p99 | max | throughput | errors |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in ld["runs"]:
            lines.append(f"| {r['connections']} | {r['requests']} | {r['p50_us'] / 1e3:.1f} ms | "
                         f"{r['p90_us'] / 1e3:.1f} ms | {r['p99_us'] / 1e3:.1f} ms | {r['max_us'] / 1e3:.1f} ms | "
                         f"{r['rps']:.1f} req/s | {r['errors']} |")

    if chart_name:
        lines += ["", f"![Rust vs Python: cold start, CPU per request, peak RSS, post-processing]({chart_name})"]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def chart(s: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"Rust": "#b7410e", "Python": "#3572a5"}
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), dpi=90)

    def bars(ax, labels, rust, python, title, unit):
        x = range(len(labels))
        w = 0.38
        ax.bar([i - w / 2 for i in x], rust, w, label="Rust", color=colors["Rust"])
        ax.bar([i + w / 2 for i in x], python, w, label="Python", color=colors["Python"])
        ax.set_xticks(list(x), labels, fontsize=8)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit, fontsize=9)
        for i, (r, p) in enumerate(zip(rust, python)):
            ax.annotate(f"×{p / r:.0f}" if p / r >= 10 else f"×{p / r:.1f}", (i, max(r, p)),
                        ha="center", va="bottom", fontsize=8)
        ax.grid(axis="y", alpha=0.3, which="both")

    if "cold" in s:
        c = s["cold"]
        bars(axes[0][0], ["spawn → first response", "CPU (init + first)"],
             [c["rust"]["wall_ms"], c["rust"]["cpu_ms"]], [c["python"]["wall_ms"], c["python"]["cpu_ms"]],
             "1. Cold start (median)", "ms")
        axes[0][0].legend(fontsize=8)
    if "warm" in s:
        rows = s["warm"]
        bars(axes[0][1],
             [f"{w['classes']}\nk={_k(w['k'], w['classes'])}\n{_bytes(w['image_bytes'])}" for w in rows],
             [w["rust"]["cpu_us"] for w in rows], [w["python"]["cpu_us"] for w in rows],
             "2. CPU per warm request (median)", "µs")
    if "rss" in s:
        items = list(s["rss"].items())
        bars(axes[1][0], [f"{int(c):,} classes" if c.isdigit() else c.replace(", ", "\n") for c, _ in items],
             [v["rust"]["vmhwm_kib"] / 1024 for _, v in items],
             [v["python"]["vmhwm_kib"] / 1024 for _, v in items], "3. Peak RSS", "MiB")
    if "postprocess" in s:
        rows = [p for p in s["postprocess"] if p["what"] == "postprocess"]
        bars(axes[1][1], [f"{p['classes']:,}\n{p['k']}" for p in rows],
             [p["rust_ns"] / 1e3 for p in rows], [p["median_ns"] / 1e3 for p in rows],
             "5. Post-processing: parse + top-k (median)", "µs")
    fig.suptitle("sagefront: Rust Lambda vs the original's Python handler (same machine, same run)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def splice(markdown: Path, section: str) -> None:
    """Replaces our heading and the text between the markers; appends them the first time."""
    text = markdown.read_text() if markdown.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        before = text[: text.index(BEGIN)].rstrip()
        if before.endswith(HEADING):
            before = before[: -len(HEADING)].rstrip()
        after = text[text.index(END) + len(END) :].lstrip("\n")
        text = before + "\n\n" + section + ("\n" + after if after else "")
    else:
        text = text.rstrip() + "\n\n" + section
    markdown.write_text(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--markdown", type=Path, required=True)
    ap.add_argument("--chart", type=Path)
    args = ap.parse_args(argv)
    s = summarize(args.results)
    chart_name = None
    if args.chart and any(k in s for k in ("cold", "warm", "rss", "postprocess")):
        chart(s, args.chart)
        chart_name = str(args.chart.resolve().relative_to(args.markdown.resolve().parent))
    splice(args.markdown, render(s, chart_name))
    s.pop("decode", None)  # tuple keys
    (args.results / "summary.json").write_text(json.dumps(s, indent=1, default=str))
    print(f"[report] wrote {args.markdown}" + (f" and {args.chart}" if chart_name else ""))


if __name__ == "__main__":
    main()

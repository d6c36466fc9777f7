"""Runs one cargo build for the local stack: the compiler's output goes to a log file, progress to
the terminal, and the built binaries' paths to stdout.

A cold build of the stack is ~400 compile units and takes minutes on a small machine; cargo's own
output is hundreds of `Compiling` lines with long silent stretches while one big crate compiles.
This prints one line per PROGRESS_EVERY seconds instead (units built, elapsed time, what is
compiling now), read from cargo's progress bar, which cargo writes even when stderr is not a
terminal if `term.progress.when = always`. The binaries are taken from cargo's JSON messages, so
the caller starts exactly what this build produced (`cargo test --no-run` puts its binaries in
the same place as `cargo build`, but only the JSON says so for sure).

Usage: python3 cargo_build.py LOG_FILE CARGO_ARGS...   (e.g. build -p sagefront-function)
stdout: one `NAME PATH` line per binary built; stderr: progress; exit status: cargo's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time

PROGRESS_EVERY = 20.0  # seconds between progress lines: no silent stretch longer than that
# `    Building [=====>     ] 180/412: candle-core, gemm-f16(build)`
PROGRESS = re.compile(r"Building \[[^\]]*\] (\d+)/(\d+)(?::\s*(.*))?")


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class Progress:
    """The latest state of cargo's progress bar, shared between the reader thread and the ticker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = 0
        self.total = 0
        self.current = ""
        self.fresh = True  # nothing compiled yet: the build may turn out to be a no-op

    def update(self, done: int, total: int, current: str) -> None:
        with self.lock:
            self.done, self.total, self.current = done, total, current.strip()

    def line(self, started: float) -> str:
        with self.lock:
            if not self.total:
                return f"    {elapsed(time.monotonic() - started)}: resolving and starting the build"
            now = f" (compiling {self.current})" if self.current else ""
            return f"    {elapsed(time.monotonic() - started)}: built {self.done}/{self.total} crates and build scripts{now}"


def pump_stderr(stream, log, progress: Progress) -> None:
    """Copies cargo's human output to the log, minus the progress bar, which it parses instead."""
    buffer = b""
    while chunk := stream.read1(65536):
        buffer += chunk
        *pieces, buffer = re.split(rb"[\r\n]", buffer)
        for piece in pieces:
            text = piece.decode(errors="replace")
            match = PROGRESS.search(text)
            if match:
                progress.update(int(match[1]), int(match[2]), match[3] or "")
            elif text.strip():
                if text.lstrip().startswith("Compiling"):
                    progress.fresh = False
                if "Blocking waiting for file lock" in text:  # another cargo command is building
                    print(f"    {text.strip()} (another cargo command holds it; this waits)", file=sys.stderr, flush=True)
                log.write(text + "\n")
                log.flush()
    if buffer.strip():
        log.write(buffer.decode(errors="replace") + "\n")


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    log_path, cargo_args = sys.argv[1], sys.argv[2:]
    env = {
        **os.environ,
        "CARGO_TERM_PROGRESS_WHEN": "always",
        "CARGO_TERM_PROGRESS_WIDTH": "200",  # room for the names of the crates compiling now
        "CARGO_TERM_COLOR": "never",  # the log is read in an editor, not a terminal
    }
    command = ["cargo", *cargo_args, "--message-format=json-render-diagnostics"]
    started = time.monotonic()
    progress = Progress()
    with open(log_path, "w") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        reader = threading.Thread(target=pump_stderr, args=(proc.stderr, log, progress), daemon=True)
        reader.start()
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(PROGRESS_EVERY):
                print(progress.line(started), file=sys.stderr, flush=True)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        binaries: dict[str, str] = {}
        try:
            for raw in proc.stdout:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                target = message.get("target") or {}
                if (message.get("reason") == "compiler-artifact" and "bin" in target.get("kind", [])
                        and not message.get("profile", {}).get("test") and message.get("executable")):
                    binaries[target["name"]] = message["executable"]
            status = proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            raise
        finally:
            stop.set()
            reader.join()
    if status != 0:
        print(f"    the build failed after {elapsed(time.monotonic() - started)}; its output is in {log_path}:",
              file=sys.stderr)
        with open(log_path) as log:
            tail = log.read().splitlines()[-40:]
        for text in tail:
            print(f"    | {text}", file=sys.stderr)
        return status
    if not progress.fresh:
        print(f"    built in {elapsed(time.monotonic() - started)}", file=sys.stderr)
    for name, path in sorted(binaries.items()):
        print(name, path)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

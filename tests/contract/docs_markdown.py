"""Reading the repository's Markdown the way GitHub renders it: headings and their anchors,
relative links, and fenced shell blocks with their `<!-- test: ... -->` markers.

Shared by the docs tests (tests/contract/test_docs.py) and the test that runs the documented
commands (tests/e2e/test_docs_commands.py).
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
# The comment on the line before a fence that says whether the block runs (see Block).
MARKER = re.compile(r"^\s*<!--\s*test:\s*(.*?)\s*-->\s*$")
SHELLS = {"sh", "bash", "shell", "console"}


def markdown_files(root: Path = ROOT) -> list[Path]:
    """Every Markdown file git would put in a clone, plus new ones it does not ignore."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.md"],
                         cwd=root, capture_output=True, check=True).stdout
    return sorted({root / p for p in out.decode().split("\0") if p and (root / p).is_file()})


def _without_fences(lines: list[str]) -> list[str]:
    """The lines outside fenced code blocks (inside ones are blanked, keeping line numbers)."""
    kept, fence = [], None
    for line in lines:
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            kept.append("")
        elif fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                fence = None
            kept.append("")
        else:
            kept.append(line)
    return kept


def _plain(inline: str) -> str:
    """A heading's text as rendered: code spans, links, images and emphasis reduced to text."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", inline)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "")
    return re.sub(r"(\*\*|__|\*|_)(\S(?:.*?\S)?)\1", r"\2", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading (github-slugger): lower case, only letters, digits, marks,
    `-` and `_` kept, each space a `-`."""
    text = _plain(heading).strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page offers: its headings (duplicates get -1, -2, ...) and explicit
    `<a id>` / `<a name>` tags."""
    seen: dict[str, int] = {}
    found = set()
    for line in _without_fences(text.splitlines()):
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    found.update(re.findall(r"<a\s+[^>]*?(?:id|name)=\"([^\"]+)\"", text))
    return found


LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_LINK = re.compile(r"<(?:a|img)\s[^>]*?(?:href|src)=\"([^\"]+)\"")


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link and image outside code."""
    found = []
    for number, line in enumerate(_without_fences(text.splitlines()), start=1):
        line = re.sub(r"(`+).*?\1", "", line)  # code spans
        found += [(number, t) for t in LINK.findall(line)]
        found += [(number, t) for t in HTML_LINK.findall(line)]
        m = REF_DEF.match(line)
        if m:
            found.append((number, m.group(1)))
    return found


def is_external(target: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)) or target.startswith("//")


def git_ignored(path: Path, root: Path = ROOT) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", "--", str(path)], cwd=root).returncode == 0


def broken_links(page: Path, text: str, root: Path = ROOT, ignored=git_ignored) -> list[str]:
    """Why each relative link of `page` would not work in a clone of the repository."""
    problems = []
    for number, target in links(text):
        if is_external(target):
            continue
        where = f"{page.relative_to(root)}:{number}: {target}"
        path_part, _, anchor = target.partition("#")
        dest = page if not path_part else (page.parent / unquote(path_part)).resolve()
        if not dest.is_relative_to(root):
            problems.append(f"{where} points outside the repository")
        elif not dest.exists():
            problems.append(f"{where}: no such file")
        elif ignored(dest, root):
            problems.append(f"{where} points at a file git ignores (not in a clone)")
        elif anchor:
            if dest.is_dir():
                problems.append(f"{where}: a folder has no anchors")
            elif dest.suffix.lower() == ".md":
                if unquote(anchor) not in anchors(text if not path_part else dest.read_text()):
                    problems.append(f"{where}: {dest.name} has no heading with anchor #{anchor}")
            elif not re.fullmatch(r"L\d+(-L\d+)?", anchor):
                problems.append(f"{where}: only line anchors (#L12) work on {dest.name}")
    return problems


@dataclass
class Block:
    """A fenced code block and, when the line before its fence is `<!-- test: ... -->`, that
    marker's text: the answers the block prints (it runs against the local stack), or `no, ...`
    with the reason it does not run."""

    page: Path
    line: int
    lang: str
    code: str
    marker: str | None

    @property
    def runnable(self) -> bool:
        return self.marker is not None and not re.match(r"no\b", self.marker)

    @property
    def answers(self) -> list[str]:
        return self.marker.split() if self.runnable else []

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path, text: str | None = None) -> list[Block]:
    lines = (page.read_text() if text is None else text).splitlines()
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2).lower(), i
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and not lines[j].strip().strip(fence[0])):
            j += 1
        prev = start - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        marker = MARKER.match(lines[prev]) if prev >= 0 else None
        found.append(Block(page, start + 1, lang, "\n".join(lines[start + 1:j]) + "\n",
                           marker.group(1) if marker else None))
        i = j + 1
    return found


def shell_blocks(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.lang in SHELLS]


def documentation() -> list[Path]:
    """The pages whose commands a reader copies: README.md and docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]

"""The docs work for someone who clones the repository: every relative link and anchor resolves
inside it, the shell commands do not put a photo on the command line, and every command that
calls the API says whether the docs test runs it (tests/e2e/test_docs_commands.py runs the ones
that do)."""

import re

import pytest

import docs_markdown as md
from docs_markdown import ROOT


def test_every_relative_link_in_the_markdown_resolves_inside_the_repository():
    pages = md.markdown_files()
    assert ROOT / "README.md" in pages and ROOT / "docs" / "api.md" in pages, "expected the docs among the pages"
    problems = [p for page in pages for p in md.broken_links(page, page.read_text())]
    assert not problems, "broken links:\n" + "\n".join(problems)


# The checker itself must be able to fail: each of these links is broken in its own way.
@pytest.mark.parametrize("link, reason", [
    ("[seed](../sibling-checkout/seed/)", "outside the repository"),
    ("[gone](docs/no-such-page.md)", "no such file"),
    ("[anchor](docs/api.md#no-such-heading)", "no heading with anchor"),
    ("[here](#not-a-heading-here)", "no heading with anchor"),
    ("[built](bench/)", "git ignores"),
    ("[ref]: ../../etc/passwd", "outside the repository"),
    ('<a href="docs/missing.md">x</a>', "no such file"),
])
def test_link_checker_reports_a_broken_link(link, reason):
    page = ROOT / "README.md"
    ignored = lambda path, root: path == root / "bench"  # noqa: E731  (as if bench/ were git-ignored)
    problems = md.broken_links(page, f"# Title\n\n{link}\n", ignored=ignored)
    assert len(problems) == 1 and reason in problems[0], problems


def test_link_checker_accepts_good_links_and_skips_code():
    page = ROOT / "docs" / "api.md"
    text = ("# Calling the API\n## Limits\n## Limits\n"
            "[a](#limits) [b](#limits-1) [c](../openapi.yaml) [d](deploy.md#configuration-cdkjson)\n"
            "[e](https://example.com/x) [f](../labels/) `[g](nowhere.md)`\n"
            "```md\n[h](nowhere.md)\n```\n")
    assert md.broken_links(page, text, ignored=lambda path, root: False) == []


@pytest.mark.parametrize("heading, anchor", [
    ("Configuration (`cdk.json`)", "configuration-cdkjson"),
    ("The first `scripts/dev`", "the-first-scriptsdev"),
    ("Bootstrap (once per account and region)", "bootstrap-once-per-account-and-region"),
    ("1. Cold start (20 each, alternating)", "1-cold-start-20-each-alternating"),
    ("POST /predictions", "post-predictions"),
    ("model-server: EfficientNet-Lite0 inference", "model-server-efficientnet-lite0-inference"),
])
def test_anchors_are_the_ones_github_renders(heading, anchor):
    assert md.slug(heading) == anchor


def test_no_command_puts_a_photo_on_the_command_line():
    """`-d "{\\"image\\": \\"$(base64 -w0 photo.jpg)\\"}"` fails over ~96 KB (one argument is at
    most 128 KiB on Linux), and `-w0` is GNU-only: bodies are built on a pipe instead."""
    bad = re.compile(r"\$\(\s*base64|base64\s+-w|`base64")
    found = [f"{b}: {line.strip()}" for page in md.markdown_files() for b in md.blocks(page)
             for line in b.code.splitlines() if bad.search(line)]
    assert not found, "\n".join(found)


def test_every_documented_api_call_says_whether_the_docs_test_runs_it():
    calls = re.compile(r"(curl|scripts/predict|scripts/smoke-test)\b.*\$\{?API_URL")
    unmarked = [str(b) for page in md.documentation() for b in md.shell_blocks(page)
                if calls.search(b.code) and b.marker is None]
    assert not unmarked, ("shell blocks calling the API need `<!-- test: ANSWER... -->` (run by "
                          "tests/e2e/test_docs_commands.py) or `<!-- test: no, REASON -->`:\n" + "\n".join(unmarked))
    runnable = [b for page in md.documentation() for b in md.shell_blocks(page) if b.runnable]
    assert len(runnable) >= 8, f"expected the local examples to be runnable, found {len(runnable)}"


def test_the_construct_example_in_the_deploy_guide_is_the_file_a_test_compiles():
    """docs/deploy.md quotes infra/examples/existing-endpoint.ts, which infra/test/package.test.ts
    compiles against the packed library: the quote must stay that file."""
    example = ROOT / "infra" / "examples" / "existing-endpoint.ts"
    quoted = [b.code for b in md.blocks(ROOT / "docs" / "deploy.md") if b.lang == "ts"]
    assert quoted == [example.read_text()], "docs/deploy.md's TypeScript example differs from " + str(example)


def test_the_stage_example_in_the_deploy_guide_is_the_file_jest_synthesizes():
    """docs/deploy.md quotes infra/examples/llm-stage.json, which infra/test/invocations.test.ts
    validates and synthesizes: the quote must stay that file."""
    example = ROOT / "infra" / "examples" / "llm-stage.json"
    quoted = [b.code for b in md.blocks(ROOT / "docs" / "deploy.md") if b.lang == "json"]
    assert example.read_text() in quoted, "docs/deploy.md does not quote " + str(example) + " as it is"

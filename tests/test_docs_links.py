"""The README and docs/ hold together: links resolve, no docs page is orphaned, the README stays short,
and every public plugin API name is documented in the README's "Writing a method".

Fast and offline: reads Markdown files and imports the public API modules only.
"""
from __future__ import annotations

import re
from pathlib import Path

import lidcbench.method
import lidcbench.params
import lidcbench.testing

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 200

FENCE = re.compile(r"^\s*(```|~~~)")
# [text](target) or ![alt](target), with an optional "title"; the text may hold code spans.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def _links(path: Path) -> list[tuple[int, str]]:
    return [(number, match.group(1)) for number, line in _prose_lines(path) for match in LINK.finditer(line)]


def _local_target(target: str) -> str | None:
    """The file part of a relative link, or None for web links, mail links and same-page anchors."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):  # http:, https:, mailto:, ...
        return None
    return target.split("#", 1)[0].split("?", 1)[0]


def test_relative_links_resolve():
    assert DOCS.is_dir(), "docs/ is missing"
    broken = []
    for page in _pages():
        for number, target in _links(page):
            local = _local_target(target)
            if local is None:
                continue
            if local.startswith("/") or not (page.parent / local).exists():
                broken.append(f"{page.relative_to(ROOT)}:{number}: [{target}] -> {local} does not exist")
    assert not broken, "broken relative links:\n" + "\n".join(broken)


def test_readme_links_every_docs_page():
    linked = {(README.parent / local).resolve()
              for _, target in _links(README) if (local := _local_target(target))}
    orphans = [str(page.relative_to(ROOT)) for page in sorted(DOCS.glob("*.md")) if page.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link to: {', '.join(orphans)}"


def test_readme_is_short():
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count <= README_MAX_LINES, f"README.md has {count} lines; keep it to {README_MAX_LINES} (move detail to docs/)"


def _public_plugin_names() -> list[str]:
    names = [*lidcbench.method.__all__, *lidcbench.params.__all__,
             *(name for name in lidcbench.testing.__all__ if name != "CHECKS")]
    assert names, "no public names found"
    return names


def test_readme_documents_the_public_plugin_api():
    in_backticks = {match.group(1).strip()
                    for _, line in _prose_lines(README) for match in CODE_SPAN.finditer(line)}
    missing = [name for name in _public_plugin_names() if name not in in_backticks]
    assert not missing, ("public plugin API names not in README.md in backticks (add them to "
                         f"'Writing a method'): {', '.join(missing)}")

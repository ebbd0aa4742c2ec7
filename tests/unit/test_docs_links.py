"""The README and docs/ stay self-contained: every relative link points at a file of the
repository (and at a heading that exists, for `#anchor` links), and nothing points at notes
outside the repository."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
# Written on another branch at the same time; the link is right once both are merged.
PENDING = {REPO / "docs" / "deploying.md"}

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
OUTSIDE_NOTES = ("/work/shared", "apis.md", "apis-addendum", "apis-evidence", "DESIGN.md")


def prose_lines(page: Path) -> list[str]:
    """The page without its fenced code blocks."""
    lines, fenced = [], False
    for line in page.read_text().splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    for line in prose_lines(page):
        if line.startswith("#"):
            base = slug(line.lstrip("#"))
            found.add(f"{base}-{seen[base]}" if seen[base] else base)
            seen[base] += 1
    return found


def links(page: Path) -> list[str]:
    return [m for line in prose_lines(page) for m in LINK.findall(line)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if linked in PENDING:
            continue
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == [], f"{page.relative_to(REPO)}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_page_points_at_notes_outside_the_repository(page: Path) -> None:
    text = page.read_text()
    assert [name for name in OUTSIDE_NOTES if name in text] == []


def test_slugs_follow_github() -> None:
    assert slug("R20 POST /orders/{n}/cancel") == "r20-post-ordersncancel"
    assert slug("S4 GET /products?sku_code=") == "s4-get-productssku_code"
    assert slug("`KAFKA_*` (KafkaSettings)") == "kafka_-kafkasettings"

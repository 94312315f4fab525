"""The built book as a reader meets it, in Chromium at phone, tablet and desktop width.

Opt-in (`-m browser`, see the README): it builds the book (incrementally: a few seconds when
`_build` is current) and drives Debian's chromium through Playwright; nothing is downloaded.
Each test asserts what is visible where the reader looks, not what the HTML contains.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from faultfirst.build.generate import lessons
from faultfirst.repository import find_repo_root

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]  # a cold build executes every lesson

ROOT = find_repo_root()
PHONE, TABLET, DESKTOP = 390, 900, 1400
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
# A lesson with solutions, so that every check below has something to look at.
LESSON = next(lesson.name.as_posix() for lesson in lessons(ROOT) if MARKERS[0] in lesson.source.read_text("utf-8"))


def _chromium() -> str | None:
    """Debian's chromium (Playwright's own browser download is not used), or FAULTFIRST_CHROMIUM."""
    return os.environ.get("FAULTFIRST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def html() -> Path:
    """_build/html, brought up to date by the strict build the README gives (a no-op build takes ~5 s)."""
    if _chromium() is None:
        pytest.skip("no chromium on PATH: install it (`apt-get install chromium`, as .ci/run does) "
                    "or point FAULTFIRST_CHROMIUM at a Chromium binary")
    pytest.importorskip("playwright", reason="the browser group is not installed: "
                        "run `uv run --group browser pytest -m browser -n 0`")
    build = [str(Path(sys.executable).with_name("jupyter-book")), "build", ".",
             "--warningiserror", "--nitpick", "--keep-going"]
    done = subprocess.run(build, cwd=ROOT, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, f"the strict book build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return ROOT / "_build" / "html"


@pytest.fixture(scope="module")
def browser(html: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # A container's /dev/shm is often 64 MB, too small for Chromium's shared memory: use /tmp instead.
        chromium = playwright.chromium.launch(executable_path=_chromium(), timeout=30_000,
                                              args=["--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def open_lesson(browser, html: Path) -> Iterator[Callable[..., object]]:
    """Open the lesson page at a width; every Playwright wait gives up after 10 s instead of hanging."""
    pages = []

    def open_at(width: int, page_name: str = f"book/{LESSON}"):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.set_default_timeout(10_000)
        page.goto((html / f"{page_name}.html").as_uri())
        pages.append(page)
        return page

    yield open_at
    for page in pages:
        page.close()


@pytest.mark.parametrize("width", [PHONE, TABLET])
def test_the_menu_opens_with_the_table_of_contents_and_its_links_work(open_lesson, width):
    """At phone and tablet width ☰ opens the book's table of contents, and a lesson in it opens."""
    from playwright.sync_api import expect

    page = open_lesson(width)
    menu = page.locator("#pst-primary-sidebar-modal")
    expect(menu).to_be_hidden()
    page.locator(".primary-toggle:visible").click()
    expect(menu).to_be_visible()
    other = menu.locator("nav.bd-docs-nav a.reference.internal", has_text="Fallbacks")
    expect(other).to_be_visible()
    other.click()
    page.wait_for_url("**/book/tier2/fallbacks.html")
    expect(page).to_have_title(re.compile("^Fallbacks"))


@pytest.mark.parametrize("width", [PHONE, TABLET])
def test_the_contents_button_opens_this_pages_sections(open_lesson, width):
    """The 'contents' button (secondary toggle) opens the page's own table of contents."""
    from playwright.sync_api import expect

    page = open_lesson(width)
    contents = page.locator("#pst-secondary-sidebar-modal")
    page.locator(".secondary-toggle:visible").click()
    expect(contents).to_be_visible()
    expect(contents.locator("nav#pst-page-toc-nav a").first).to_be_visible()


def test_on_desktop_the_menu_button_collapses_and_restores_the_sidebar(open_lesson):
    """At desktop width ☰ hides the sidebar in place (no dialog), and a second click brings it back."""
    from playwright.sync_api import expect

    page = open_lesson(DESKTOP)
    sidebar, toggle = page.locator("#pst-primary-sidebar"), page.locator(".primary-toggle:visible")
    expect(sidebar).to_be_visible()
    toggle.click()
    expect(sidebar).to_be_hidden()
    expect(page.locator("#pst-primary-sidebar-modal")).to_be_hidden()
    toggle.click()
    expect(sidebar).to_be_visible()


# The characters of a code block that lie under its copy button (whitespace does not count).
_UNDER_COPY_BUTTON = """block => {
  const button = block.querySelector("button.copybtn").getBoundingClientRect();
  const under = [], walker = document.createTreeWalker(block.querySelector("pre"), NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent;
    for (let i = 0; i < text.length; i++) {
      if (!text[i].trim()) continue;
      range.setStart(walker.currentNode, i); range.setEnd(walker.currentNode, i + 1);
      const r = range.getBoundingClientRect();
      if (r.top > button.bottom) return under.join("");
      if (r.left < button.right && r.right > button.left && r.bottom > button.top) under.push(text[i]);
    }
  }
  return under.join("");
}"""


@pytest.mark.parametrize("width", [PHONE, TABLET, DESKTOP])
def test_a_solution_opens_to_its_code_without_markers_clear_of_the_copy_button(open_lesson, width):
    """A solution dropdown shows its code: no BEGIN/END SOLUTION lines, wrapped to fit (but on a phone), no line under
    the copy button."""
    from playwright.sync_api import expect

    page = open_lesson(width)
    solution = page.locator("div.solution.dropdown").first
    code = solution.locator("div.cell_input pre").first
    expect(code).to_be_hidden()
    solution.locator("button.toggle-button").click()  # the title's own text links back to the exercise
    expect(code).to_be_visible()
    shown = code.inner_text()
    assert "def " in shown or "class " in shown, shown[:200]
    assert not any(marker in shown for marker in MARKERS), shown
    if width != PHONE:  # on a phone code scrolls in its block by design (_static/code-blocks.css says why)
        assert code.evaluate("pre => pre.scrollWidth <= pre.clientWidth"), "the solution's code scrolls sideways"
    block = solution.locator("div.cell_input div.highlight").first
    block.hover()
    expect(block.locator("button.copybtn")).to_be_visible()
    covered = block.evaluate(_UNDER_COPY_BUTTON)
    assert covered == "", f"the copy button covers {covered!r} of the first line"


@pytest.mark.parametrize("width", [TABLET, DESKTOP])
def test_no_code_cell_scrolls_sideways(open_lesson, width):
    """From tablet width up every code cell fits: long lines wrap instead of hiding their end."""
    page = open_lesson(width)
    scrolling = page.locator("div.cell_input pre").evaluate_all(
        "pres => pres.filter(p => p.offsetParent && p.scrollWidth > p.clientWidth).map(p => p.innerText.slice(0, 80))")
    assert scrolling == [], f"code cells that scroll sideways at {width} px: {scrolling}"


def test_on_a_phone_only_code_blocks_scroll_sideways_not_the_page(open_lesson):
    """At phone width the page fits the screen; a long code line scrolls inside its own block."""
    page = open_lesson(PHONE)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE


def test_on_a_phone_no_page_of_the_book_scrolls_sideways(browser, html: Path):
    """Every page in _toc.yml fits a 390 px screen: an unbreakable inline code span or a wide table would make the
    whole page scroll sideways. The culprits named are the elements inside the article that reach past the edge."""
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    pages = re.findall(r"file: (book/[\w/-]+)", toc) + ["book/index"]
    page = browser.new_page(viewport={"width": PHONE, "height": 900})
    page.set_default_timeout(10_000)
    too_wide = {}
    try:
        for name in pages:
            page.goto((html / f"{name}.html").as_uri())
            if page.evaluate("document.scrollingElement.scrollWidth") > PHONE:
                too_wide[name] = page.evaluate(f"""() => [...document.querySelectorAll('article *')]
                    .filter(e => e.offsetParent && e.getBoundingClientRect().right > {PHONE} + 1
                                 && !e.closest('pre, .table-wrapper, .MathJax, mjx-container'))
                    .slice(0, 3).map(e => e.tagName + ' ' + (e.innerText || '').slice(0, 60))""")
    finally:
        page.close()
    assert len(pages) == len(set(pages)) > 10 and too_wide == {}, f"pages wider than a phone: {too_wide}"


def test_the_header_download_menu_offers_the_learners_notebook(open_lesson, html: Path):
    """The header's download menu offers this lesson's learner notebook (notebooks/...), the same file as committed."""
    from playwright.sync_api import expect

    page = open_lesson(PHONE)
    page.locator(".dropdown-download-buttons > button.dropdown-toggle").click()
    link = page.locator(".dropdown-download-buttons a.btn-download-notebook-button")
    expect(link).to_be_visible()
    expect(link).to_contain_text(".ipynb")
    href = link.get_attribute("href")
    assert href is not None and href.endswith(f"/{Path(LESSON).name}.ipynb"), href
    served = (html / f"book/{LESSON}.html").parent / href
    committed = ROOT / "notebooks" / f"{LESSON}.ipynb"
    assert json.loads(served.read_text("utf-8")) == json.loads(committed.read_text("utf-8"))


def test_on_desktop_one_search_field_and_no_second_header_bar(open_lesson):
    """pydata-sphinx-theme's own sticky header bar (a second search field over the sidebar) is gone."""
    from playwright.sync_api import expect

    page = open_lesson(DESKTOP)
    expect(page.locator(".bd-header")).to_be_hidden()
    expect(page.locator(".search-button-field:visible")).to_have_count(1)
    expect(page.locator(".bd-sidebar-primary .search-button-field")).to_be_visible()

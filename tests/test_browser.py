"""The drawing page in Debian's headless chromium: draw digits with real mouse events, read the answer."""

from __future__ import annotations

import shutil

import pytest
from recognition_support import running_server

from mnistlab.recognition.server import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Strokes in pad coordinates (the pad is 280 x 280 px), drawn the way a person would.
SEVEN = [[(80, 70), (200, 70), (130, 220)]]
ONE = [[(150, 50), (140, 230)]]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(fastcnn_run):
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian's chromium package)")
    with running_server(create_app(fastcnn_run)) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url):
    from playwright.sync_api import sync_playwright  # the dev extra: missing is a failure, not a skip

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 600})
            page.requested = []  # every URL the page asks for
            page.on("request", lambda request: page.requested.append(request.url))
            page.goto(base_url)
            yield page
        finally:
            browser.close()


def draw(page, strokes) -> None:
    """Press, move in small steps, release: the mouse events a person's hand makes."""
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=12)
        page.mouse.up()


def answer_after_drawing(page, strokes) -> str:
    page.click("#clear")
    assert page.text_content("#label") == "?"
    draw(page, strokes)
    # The last stroke's answer arrives within a request or two; wait until the bars show it.
    page.wait_for_function("document.querySelector('.bar.best') !== null", timeout=15000)
    page.wait_for_timeout(500)  # let a request still in flight land
    return page.text_content("#label")


def test_drawn_seven_and_one_are_recognized(page, base_url, tmp_path):
    assert answer_after_drawing(page, SEVEN) == "7"
    best = page.locator(".bar.best")
    assert best.get_attribute("data-digit") == "7"
    confidence = float(page.text_content("#confidence").rstrip("%"))
    assert confidence > 50
    page.wait_for_timeout(300)  # the bars grow over 120 ms
    filled = page.eval_on_selector(".bar.best .fill", "bar => bar.getBoundingClientRect().width")
    track = page.eval_on_selector(".bar.best .track", "bar => bar.getBoundingClientRect().width")
    assert filled == pytest.approx(track * confidence / 100, abs=3)  # the bar chart shows it too
    page.screenshot(path=str(tmp_path / "drawn_seven.png"))

    assert answer_after_drawing(page, ONE) == "1"
    page.screenshot(path=str(tmp_path / "drawn_one.png"))
    assert (tmp_path / "drawn_one.png").stat().st_size > 1000

    # Self-contained: the page fetched nothing but its own server.
    assert page.requested and all(url.startswith(base_url) for url in page.requested)


def test_clear_resets_the_answer(page):
    answer_after_drawing(page, ONE)
    page.click("#clear")
    assert page.text_content("#label") == "?"
    assert page.locator(".bar.best").count() == 0

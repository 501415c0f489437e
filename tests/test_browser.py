"""The drawing page in Debian's headless chromium: draw digits with real mouse events, read the answer."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from recognition_support import running_server

from mnistlab import explanation
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


# A number on the wide pad (720 x 240 px in number mode): a 1, then a 7 beside it, then a 4.
NUMBER = [
    [(110, 40), (100, 200)],
    [(190, 50), (300, 50), (230, 200)],
    [(420, 40), (380, 140), (480, 140)],
    [(455, 70), (450, 210)],
]
# Hatching over the whole square pad: ink, but no digit.
HATCHING = [[(30 + 40 * k, 250), (70 + 40 * k, 30)] for k in range(6)] + [[(30, 140), (250, 150)]]


def test_number_mode_reads_the_digits_and_boxes_them(page):
    page.click("#mode-number")
    try:
        assert page.text_content("#title") == "Write a number"
        assert page.eval_on_selector("#pad", "pad => [pad.width, pad.height]") == [720, 240]
        draw(page, NUMBER)
        page.wait_for_function("document.querySelectorAll('#digits .read-digit').length === 3", timeout=20000)
        # answers to the half-drawn number may land first: wait until the finished drawing's has
        page.wait_for_function("document.body.dataset.busy === 'false'", timeout=20000)
        assert page.text_content("#label") == "174"
        read = page.eval_on_selector_all("#digits .read-digit", "items => items.map(i => i.dataset.digit)")
        assert read == ["1", "7", "4"]
        # the boxes are drawn on the overlay: green pixels where the pad has none
        green = page.eval_on_selector(
            "#overlay",
            """canvas => {
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let count = 0;
                for (let i = 0; i < data.length; i += 4) count += data[i + 3] > 0 && data[i + 1] > data[i];
                return count;
            }""",
        )
        assert green > 300
        page.click("#clear")
        assert page.locator("#digits .read-digit").count() == 0 and page.text_content("#label") == "?"
    finally:
        page.click("#mode-digit")
    assert page.eval_on_selector("#pad", "pad => [pad.width, pad.height]") == [280, 280]


def test_an_uploaded_number_is_shown_on_the_pad_with_what_was_read(page, mnist_dir, tmp_path):
    from recognition_support import load_benchmark_module, mnist_split

    images, labels = mnist_split(mnist_dir, "t10k")
    bench = load_benchmark_module("bench_read")
    digits = [images[np.flatnonzero(labels == d)[0]] for d in (2, 0, 2, 6)]
    photo = tmp_path / "year.png"
    photo.write_bytes(bench.render(bench.compose(digits, height=60), np.random.default_rng(0)))
    page.click("#mode-number")
    try:
        page.set_input_files("#upload", str(photo))
        page.wait_for_function("document.querySelectorAll('#digits .read-digit').length > 0", timeout=20000)
        assert page.text_content("#label") == "2026"
        # the photo is drawn on the pad, so the boxes have something under them
        inked = page.eval_on_selector(
            "#pad",
            """canvas => {
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let count = 0;
                for (let i = 0; i < data.length; i += 4) count += data[i + 3] > 0 && data[i] < 128;
                return count;
            }""",
        )
        assert inked > 500
    finally:
        page.click("#mode-digit")


def test_hatching_is_refused_with_its_reason(page):
    page.click("#clear")
    draw(page, HATCHING)
    refused = "document.querySelector('#status').textContent.startsWith('Not read')"
    page.wait_for_function(refused, timeout=15000)
    page.wait_for_timeout(500)
    assert page.text_content("#label") == "?"
    assert "not a digit" in page.text_content("#status")
    assert page.locator(".bar.best").count() == 0


FOUR = [[(170, 40), (90, 160), (210, 160)], [(170, 40), (170, 240)]]  # a 4 leans on its ink: a clear map
PREVIEW_PIXELS = """canvas => Array.from(
    canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data)"""
ASK_WITH_EXPLAIN = """() => new Promise(resolve => document.getElementById('pad').toBlob(async blob => {
    const form = new FormData();
    form.append('file', blob, 'drawing.png');
    resolve(await (await fetch('/predict?explain=true', {method: 'POST', body: form})).json());
}, 'image/png'))"""


def expected_preview(answer: dict) -> np.ndarray:
    """The preview the page should draw for an answer: RGB (28, 28, 3), as explanation.overlay colours."""

    seen = np.array(answer["seen"], dtype=np.float64)[..., None]
    heat = np.array(answer["explanation"], dtype=np.float64)
    strength = np.clip(heat / max(explanation.MIN_SHOWN_DROP, np.abs(heat).max()), -1, 1)[..., None]
    colour = np.where(strength >= 0, explanation.EVIDENCE_FOR, explanation.EVIDENCE_AGAINST)
    alpha = explanation.MAX_ALPHA * np.abs(strength)
    return (255 - explanation.INK_SHADE * seen) * (1 - alpha) + colour * alpha


def test_explain_toggle_draws_the_map_over_what_the_model_saw(page):
    page.click("#clear")
    assert page.locator("#explanation-view").is_hidden()
    page.click("#explain")
    try:
        assert page.get_attribute("#explain", "aria-pressed") == "true"
        assert answer_after_drawing(page, FOUR) == "4"
        page.wait_for_selector("#explanation-view", state="visible", timeout=15000)
        drawn = np.array(page.eval_on_selector("#explanation", PREVIEW_PIXELS)).reshape(28, 28, 4)
        answer = page.evaluate(ASK_WITH_EXPLAIN)  # the same pad again: the answer that was drawn
        # a map to see: some patch moves the answer by more than the drop shown in full colour
        assert (
            np.abs(answer["explanation"]).max() > explanation.MIN_SHOWN_DROP and (drawn[..., 3] == 255).all()
        )
        np.testing.assert_allclose(drawn[..., :3], expected_preview(answer), atol=1)  # as the PNGs draw it
        red = (drawn[..., 0] > drawn[..., 1] + 40) & (drawn[..., 0] > drawn[..., 2] + 40)
        assert (drawn[..., :3].max(axis=-1) < 160).sum() > 20 and red.sum() > 5  # dark ink, partly red
        shown = page.locator("#explanation").bounding_box()
        assert shown["width"] == pytest.approx(140, abs=1)  # enlarged on the page
        page.click("#clear")
        draw(page, HATCHING)  # a refusal has no map: the preview goes
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Not read')")
        page.wait_for_timeout(500)
        assert page.locator("#explanation-view").is_hidden()
        assert answer_after_drawing(page, ONE) == "1"
        page.wait_for_selector("#explanation-view", state="visible", timeout=15000)
    finally:
        page.click("#explain")
    assert page.get_attribute("#explain", "aria-pressed") == "false"
    assert page.locator("#explanation-view").is_hidden()  # off: no map
    answer_after_drawing(page, SEVEN)
    page.wait_for_timeout(500)
    assert page.locator("#explanation-view").is_hidden()

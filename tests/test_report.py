"""The written evaluation: valid PNG pictures, and one self-contained, escaped report.html.

The browser test opens the report in Debian's headless chromium through Playwright and checks that every
picture renders and that the page makes no request beyond itself and its data: URIs.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image
from test_evaluation import EVAL_SPLIT, build_keras_run

from mnistlab.evaluation.evaluation import evaluate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM = "/usr/bin/chromium"
PICTURE_COUNT = 11  # every picture the report can hold (report.PICTURES)


@pytest.fixture(scope="session")
def keras_run(tmp_path_factory, mnist_dir):
    return build_keras_run(tmp_path_factory.getbasetemp() / "keras-run", mnist_dir)


@pytest.fixture(scope="module")
def written(keras_run, mnist_dir, tmp_path_factory):
    """An evaluation written to a folder, with a hostile string in the run config to test escaping, and the
    robustness table measured (on 200 digits) so that every picture the report can hold is in it."""
    result = evaluate(keras_run, split=EVAL_SPLIT, data_dir=mnist_dir)
    result.measure_robustness(limit=200)
    result.classifier.config = {**result.config, "note": "<script>alert('x')</script>"}
    out_dir = tmp_path_factory.mktemp("written")
    return result, result.write(out_dir)


class _Resources(HTMLParser):
    """Every URL-bearing attribute and every tag in a page."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action") and value is not None:
                self.urls.append((tag, value))


def test_pictures_are_valid_pngs(written):
    _, paths = written
    expected = {
        "confusion_matrix",
        "misclassified",
        "samples",
        "per_class_accuracy",
        "class_distribution",
        "training_curves",
        "feature_maps",
        "reliability",
        "robustness",
        "robustness_examples",
    }
    assert expected <= set(paths)
    for name in expected:
        data = paths[name].read_bytes()
        assert data.startswith(PNG_MAGIC), name
        with Image.open(paths[name]) as image:
            image.verify()
        with Image.open(paths[name]) as image:
            assert image.width > 200 and image.height > 150, name
            # not a blank canvas: a real picture has many distinct colours
            assert len(np.unique(np.asarray(image.convert("L")))) > 20, name
    assert not list(paths["report"].parent.glob(".*"))  # no temporary files left behind


def test_metrics_json_matches_the_evaluation(written):
    result, paths = written
    saved = json.loads(paths["metrics"].read_text())
    assert saved["accuracy"] == result.accuracy
    assert saved["confusion_matrix"] == result.confusion_matrix.tolist()
    assert saved["split"] == EVAL_SPLIT and saved["dataset"] == "mnist"
    assert saved["calibration"] == {"temperature": 1.0, "ece": result.metrics["calibration_error"],
                                    "ece_before": result.metrics["calibration_error"]}  # fmt: skip
    assert saved["robustness"] == result.robustness and saved["robustness"]["examples"] == 200
    np.testing.assert_array_equal(np.load(paths["probabilities"]), result.probabilities)


def test_pictures_come_before_the_config_and_model_tables(written):
    from mnistlab.evaluation.report import PICTURES

    assert len(PICTURES) == PICTURE_COUNT
    html = written[1]["report"].read_text()
    body = html[html.index('<h2 id="summary">') :]
    positions = [body.index(f'<h2 id="{name}">') for name in PICTURES]
    assert 0 < min(positions) and max(positions) < body.index('<h2 id="config">') < body.index(
        '<h2 id="model">'
    )
    # the robustness table sits with its picture, and says which tfds corruptions it leaves out
    table = body.index('id="robustness-table"')
    assert body.index('<h2 id="robustness">') < table < body.index('<h2 id="robustness_examples">')
    assert "not covered here" in body and "glass_blur" in body and "canny_edges" in body
    for row in written[0].robustness["corruptions"]:
        assert f"<td>{row['name']}</td>" in body


def test_report_is_self_contained_and_escaped(written):
    result, paths = written
    html = paths["report"].read_text()
    parser = _Resources()
    parser.feed(html)
    images = [url for tag, url in parser.urls if tag == "img"]
    assert len(images) == PICTURE_COUNT
    assert all(url.startswith("data:image/png;base64,") for url in images)
    external = [url for _, url in parser.urls if not url.startswith(("data:", "#"))]
    assert external == []
    assert "script" not in parser.tags and "link" not in parser.tags
    assert "@import" not in html and "url(" not in html and "http://" not in html and "https://" not in html
    # the hostile config value is shown as text, not run
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    for text in (
        "conv_a",
        "Conv2D",
        "MaxPooling2D",
        f"{result.accuracy:.2%}",
        "2.5 s",
        "Most frequent confusions",
        "macro average",
    ):
        assert text in html, text
    top = result.metrics["top_confusions"][0]
    assert f'<td>{top["true"]}</td><td>{top["predicted"]}</td><td class="num">{top["count"]}</td>' in html


@pytest.mark.browser
def test_report_renders_in_chromium_without_requests(written):
    from playwright.sync_api import sync_playwright

    _, paths = written
    page_url = paths["report"].resolve().as_uri()
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(page_url, wait_until="load")
            sizes = page.eval_on_selector_all(
                "img",
                "images => images.map(image => [image.complete, image.naturalWidth, image.naturalHeight])",
            )
            title = page.title()
        finally:
            browser.close()
    assert len(sizes) == PICTURE_COUNT
    assert all(complete and width > 0 and height > 0 for complete, width, height in sizes), sizes
    assert "tiny_cnn" in title
    outside = [url for url in requested if not (url.startswith("data:") or url == page_url)]
    assert outside == []
    assert page_url in requested

"""zoo serve's page in a real headless browser (Playwright and Debian's chromium).

The server is ``zoo serve`` started for real on a free loopback port, with the release
models; pictures are uploaded through the page's file inputs, and what the page shows must
be what ``POST /time`` and ``POST /classify`` answer for the same file. Errors must show,
in words, next to the control that failed; at a phone's width (390 CSS pixels) nothing may
reach past the screen's edge. The test skips, saying why, where Playwright or chromium is
missing (``make test`` installs both; chromium needs root for apt-get).
"""

import re

import pytest

import page_browser
from conftest import ROOT

RELEASE = ROOT / "serve" / "release"
MODELS = ("clock", "faces", "mnist", "cifar10")

pytestmark = [
    pytest.mark.skipif(not all((RELEASE / f"{name}.onnx").is_file() for name in MODELS),
                       reason="the release models are not built (make release)"),
    pytest.mark.skipif(page_browser.unavailable() is not None, reason=str(page_browser.unavailable())),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from serve.http.loadtest import ServerProcess

    with ServerProcess(["--quiet"], log_path=tmp_path_factory.mktemp("page") / "serve.log") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with page_browser.Browser() as opened:
        yield opened


@pytest.fixture(scope="module")
def tab(server, browser):
    with page_browser.Page(server.url, browser=browser) as opened:
        yield server, opened


@pytest.fixture(scope="module")
def phone(server, browser):
    with page_browser.Page(server.url, page_browser.PHONE, browser) as opened:
        yield server, opened


def test_every_served_model_is_offered_in_plain_words(tab):
    server, page = tab
    listed = page.page.inner_text("#model-list")
    for title in ("Clock reader", "Digit reader", "Photo sorter", "Face maker"):
        assert title in listed, listed
    for card in ("clock-card", "mnist-card", "cifar10-card", "faces-card", "walk-card"):
        assert page.page.is_visible("#" + card), card
    # The faces are said to be made up, where they are.
    assert "do not exist" in page.page.inner_text("#faces-card")
    text = page.page.inner_text("body").lower()
    for jargon in ("minutes past twelve", "spherical", "seed", "endpoint"):
        assert jargon not in text, jargon
    assert page.errors == []


def test_only_the_models_the_server_runs_are_offered(browser, tmp_path):
    from serve.http.loadtest import ServerProcess

    with ServerProcess(["--quiet", "--model", "mnist"], log_path=tmp_path / "serve.log") as running, \
            page_browser.Page(running.url, browser=browser) as page:
        assert page.page.inner_text("#status") == "This server runs one model:"
        assert page.page.inner_text("#model-list").startswith("Digit reader")
        assert page.page.is_visible("#mnist-card")
        for card in ("clock-card", "cifar10-card", "faces-card", "walk-card"):
            assert not page.page.is_visible("#" + card), card
        assert page.errors == []


@pytest.mark.parametrize("size, seed, scenes", [(128, 11, "classic"), (320, 2, "world")])
def test_the_page_shows_the_reading_post_time_gives(tab, tmp_path, size, seed, scenes):
    server, page = tab
    path = tmp_path / "clock.png"
    data = page_browser.render_clock(path, size=size, seed=seed, scenes=scenes)
    reading, detail, box = page.read_clock(path)
    answer = page_browser.post_time(server.url, data)  # the page reads with find=1 (its box is ticked)
    assert reading == answer["time"] + ("" if answer["sure"] else " (unsure)"), (reading, answer)
    assert f"(confidence {page_browser.percent(answer['confidence'])})" in detail, (detail, answer)
    assert detail.startswith("The model is fairly sure" if answer["sure"] else "The model is not sure"), detail
    # The red circle is drawn over the dial found, in the photo's pixels (to a pixel of rounding).
    assert box is not None and max(abs(drawn - given) for drawn, given in zip(box, answer["box"])) < 2.0, (box, answer)
    assert page.errors == []


@pytest.mark.parametrize("model", ["mnist", "cifar10"])
def test_the_classifiers_show_what_post_classify_gives(tab, tmp_path, model):
    server, page = tab
    path = tmp_path / "picture.png"
    data = page_browser.digit_png(path) if model == "mnist" else page_browser.photo_png(path)
    shown, detail = page.classify(model, path)
    answer = page_browser.post_classify(server.url, data, model)
    assert shown == answer["class"], (shown, answer)
    others = ", ".join(f"{guess['class']} ({page_browser.percent(guess['probability'])})" for guess in answer["top"][1:])
    assert detail == f"The model is {page_browser.percent(answer['probability'])} sure. Its next guesses: {others}.", \
        (detail, answer)
    assert page.page.is_visible(f"#{model}-preview") and page.visible_error(f"{model}-error") is None
    assert page.errors == []


def test_a_digit_written_in_the_box_is_read(tab):
    server, page = tab
    shown, detail = page.write_digit(page_browser.FOUR)
    assert re.fullmatch("[0-9]", shown) and detail.startswith("The model is "), (shown, detail)
    assert page.visible_error("mnist-error") is None
    page.page.click("#mnist-clear")
    page.page.click("#mnist-read")  # nothing written: said so, next to the button
    assert page.visible_error("mnist-error") == "Nothing to read: write a digit in the box first."
    assert page.errors == []


def test_errors_show_in_words_next_to_the_control(tab, tmp_path):
    server, page = tab
    # Too many faces: the server's one-line message, under the faces' controls, the field marked.
    error = page.draw_faces(100000)
    assert error == "Could not make the faces: count must be between 1 and 256; received 100000.", error
    assert page.page.get_attribute("#count", "aria-invalid") == "true"
    button = page.page.locator("#draw").bounding_box()
    shown = page.page.locator("#faces-error").bounding_box()
    assert 0 <= shown["y"] - (button["y"] + button["height"]) < 120, (button, shown)
    assert shown["width"] > 100 and shown["height"] > 10
    colour = page.page.evaluate("getComputedStyle(document.getElementById('faces-error')).color")
    assert colour != "rgb(255, 255, 255)" and colour != "rgba(0, 0, 0, 0)", colour
    # Fixed, it goes away.
    assert page.draw_faces(16) is None
    assert page.page.get_attribute("#count", "aria-invalid") is None
    # A file that is no picture, given to a classifier and to the clock reader.
    junk = tmp_path / "notes.txt"
    junk.write_text("not a picture")
    shown, _ = page.classify("cifar10", junk)
    assert shown == "" and page.visible_error("cifar10-error") == \
        "Could not classify the picture: not an image (or a format Pillow cannot read).", page.visible_error("cifar10-error")
    page.read_clock(junk)
    assert page.visible_error("clock-error").startswith("Could not read the time: not an image")
    assert page.errors == []


def test_faces_and_the_walk_are_drawn(tab):
    server, page = tab
    width, height = page.page.evaluate("[document.getElementById('grid').naturalWidth, "
                                       "document.getElementById('grid').naturalHeight]")
    assert width == height > 64 * 4  # 16 faces of 64 pixels, 4x4 with padding
    assert "made-up faces" in page.page.get_attribute("#grid", "alt")
    assert page.walk_to(9) == "10 of 16"
    # The canvas shows one face of the strip: not blank.
    spread = page.page.evaluate("""() => {
        const canvas = document.getElementById('walk-face');
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let low = 255, high = 0;
        for (let index = 0; index < pixels.length; index += 4) { low = Math.min(low, pixels[index]); high = Math.max(high, pixels[index]); }
        return high - low;
    }""")
    assert spread > 50
    assert page.errors == []


def test_nothing_runs_off_a_phone_screen(phone, tmp_path):
    server, page = phone
    scroll_width, width, wide = page.overflow()
    assert width == 390 and scroll_width <= width and wide == [], (scroll_width, wide)
    # Used: a wide clock photo, a classified photo, a big grid of faces, an error.
    photo = tmp_path / "clock.png"
    page_browser.render_clock(photo, size=480, seed=2, scenes="world")
    page.read_clock(photo)
    page_browser.photo_png(tmp_path / "photo.png", size=600)
    page.classify("cifar10", tmp_path / "photo.png")
    assert page.draw_faces(64) is None  # 8 x 8 faces: 530 pixels
    scroll_width, width, wide = page.overflow()
    assert scroll_width <= width and wide == [], (scroll_width, wide)
    grid = page.page.locator("#grid").bounding_box()
    assert grid["width"] > 250 and grid["x"] + grid["width"] <= width  # scaled to the screen, not hidden
    assert page.draw_faces(256000) is not None  # a long error wraps too
    scroll_width, width, wide = page.overflow()
    assert scroll_width <= width and wide == [], (scroll_width, wide)
    assert page.errors == []


def test_screenshots_are_small_pngs(tab, tmp_path):
    server, page = tab
    for ids in (("drop",), ("grid", "walk")):
        data = page_browser.small_png(page.section_png(*ids))
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < page_browser.SHOT_LIMIT
    data = page_browser.small_png(page.page_png())
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < page_browser.SHOT_LIMIT

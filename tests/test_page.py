"""zoo serve's page in a real headless browser (Playwright and Debian's chromium).

The server is ``zoo serve`` started for real on a free loopback port; a clock PNG is
uploaded through the page's file input, and the reading the page shows must be what
``POST /time`` answers for the same file. The test skips, saying why, where Playwright
or chromium is missing (``make test`` installs both; chromium needs root for apt-get).
"""

import pytest

import page_browser
from conftest import ROOT

RELEASE = ROOT / "serve" / "release"

pytestmark = [
    pytest.mark.skipif(not (RELEASE / "clock.onnx").is_file() or not (RELEASE / "faces.onnx").is_file(),
                       reason="the release models are not built (make release)"),
    pytest.mark.skipif(page_browser.unavailable() is not None, reason=str(page_browser.unavailable())),
]


@pytest.fixture(scope="module")
def tab(tmp_path_factory):
    from serve.http.loadtest import ServerProcess

    with ServerProcess(["--quiet"], log_path=tmp_path_factory.mktemp("page") / "serve.log") as server, \
            page_browser.Page(server.url) as opened:
        yield server, opened


@pytest.mark.parametrize("size, seed, scenes", [(128, 11, "classic"), (320, 2, "world")])
def test_the_page_shows_the_reading_post_time_gives(tab, tmp_path, size, seed, scenes):
    server, page = tab
    path = tmp_path / "clock.png"
    data = page_browser.render_clock(path, size=size, seed=seed, scenes=scenes)
    reading, detail, box = page.read_clock(path)
    answer = page_browser.post_time(server.url, data)  # the page reads with find=1 (its box is ticked)
    assert reading == answer["time"] + ("" if answer["sure"] else " (unsure)"), (reading, answer)
    assert detail.startswith(f"confidence {answer['confidence']:.2f}, {answer['minutes']:.1f} minutes past twelve")
    # The red circle is drawn over the dial found, in the photo's pixels (to a pixel of rounding).
    assert box is not None and max(abs(drawn - given) for drawn, given in zip(box, answer["box"])) < 2.0, (box, answer)
    assert page.errors == []


def test_faces_and_the_walk_are_drawn(tab):
    server, page = tab
    width, height = page.page.evaluate("[document.getElementById('grid').naturalWidth, "
                                       "document.getElementById('grid').naturalHeight]")
    assert width == height > 64 * 4  # 16 faces of 64 pixels, 4x4 with padding
    assert page.walk_to(9) == "face 10 of 16"
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


def test_screenshots_are_small_pngs(tab, tmp_path):
    server, page = tab
    for ids in (("drop",), ("grid", "walk")):
        data = page_browser.small_png(page.section_png(*ids))
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < page_browser.SHOT_LIMIT


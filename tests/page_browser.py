"""zoo serve's page in a real headless browser: Playwright driving Debian's chromium.

Used by tests/test_page.py, and run as a script to take the docs' screenshots
(``make page-screenshots``)::

    .venv/bin/python tests/page_browser.py docs/     # writes docs/page-phone.png, docs/page-desktop.png
    .venv/bin/python tests/page_browser.py docs/ --cifar ../shared/datasets/cifar10-jpg.zip

The server is ``zoo serve`` started for real on a free loopback port
(:class:`serve.http.loadtest.ServerProcess`); the browser is the system's chromium
(``$ZOO_CHROMIUM``, else ``chromium`` on the PATH): Playwright drives it through its
bundled driver, so nothing is downloaded.
"""

import io
import json
import os
import pathlib
import shutil
import sys
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SHOT_LIMIT = 300_000  # bytes: the docs' screenshots stay small
VIEWPORT = {"width": 900, "height": 1000}
PHONE = {"width": 390, "height": 844}  # a phone held upright (CSS pixels)
DESKTOP = {"width": 1280, "height": 900}


def chromium_path():
    """The chromium executable, or None."""
    configured = os.environ.get("ZOO_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return next((found for found in map(shutil.which, BROWSERS) if found), None)


def unavailable():
    """Why the page cannot be driven here (a sentence), or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (make test installs it: pip install playwright)"
    if chromium_path() is None:
        return ("no chromium on this machine (make test installs Debian's chromium with apt-get when it runs as "
                "root; or set ZOO_CHROMIUM to a Chrome or Chromium executable)")
    return None


def render_clock(path, size=128, seed=11, scenes="classic"):
    """One rendered clock, written as a PNG at ``path``; returns its bytes."""
    from PIL import Image

    from zoo.clocks import clockface

    pictures, _ = clockface.render_batch(1, seed=seed, size=size, scenes=scenes)
    Image.fromarray(pictures[0]).save(path)
    return pathlib.Path(path).read_bytes()


def digit_png(path, digit=7):
    """A small dark digit on white (28x28, as a photo of a written digit would be), written
    at ``path``; returns its bytes."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (28, 28), 255)
    strokes = {7: [(8, 6), (20, 6), (12, 22)], 1: [(14, 5), (14, 23)], 4: [(17, 23), (17, 5), (7, 17), (21, 17)]}
    ImageDraw.Draw(image).line(strokes[digit], fill=0, width=3)
    image.save(path)
    return pathlib.Path(path).read_bytes()


def photo_png(path, size=96):
    """A small made-up photo (a dark shape on a sky), written at ``path``; returns its bytes."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    for row in range(size):  # a sky, lighter at the horizon
        shade = 120 + 100 * row // size
        draw.line([(0, row), (size, row)], fill=(shade - 60, shade - 20, 235))
    draw.polygon([(size * 0.1, size * 0.55), (size * 0.9, size * 0.45), (size * 0.9, size * 0.52),
                  (size * 0.1, size * 0.6)], fill=(90, 90, 100))
    draw.polygon([(size * 0.45, size * 0.5), (size * 0.6, size * 0.25), (size * 0.66, size * 0.27),
                  (size * 0.58, size * 0.5)], fill=(80, 80, 90))
    image.save(path)
    return pathlib.Path(path).read_bytes()


def cifar_photo(archive, path, member="test/horse/0007.jpg"):
    """One CIFAR-10 test photo out of ``archive`` (cifar10-jpg.zip's layout), written at ``path``."""
    import zipfile

    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        chosen = member if member in names else next(name for name in names if name.endswith(".jpg"))
        pathlib.Path(path).write_bytes(opened.read(chosen))
    return pathlib.Path(path).read_bytes()


def percent(probability):
    """A probability as the page words it (app.js's ``percent``)."""
    value = probability * 100
    return ("over 99" if value >= 99.5 else "under 1" if value < 1 else f"{value:.0f}") + "%"


def post(url, path, data, content_type="image/png"):
    """``POST url+path`` with ``data``: the status and the JSON answer."""
    call = urllib.request.Request(url + path, data=data, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(call, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post_classify(url, data, model, top=3):
    """What ``POST /classify?model=MODEL&top=3`` answers for ``data`` (as the page asks)."""
    status, answer = post(url, f"/classify?model={model}&top={top}", data)
    assert status == 200, answer
    return answer


def post_time(url, data, find=True):
    """What ``POST /time`` answers for ``data`` (the page sends find=1 when its box is ticked)."""
    call = urllib.request.Request(f"{url}/time?find={int(find)}", data=data, method="POST",
                                  headers={"Content-Type": "image/png"})
    with urllib.request.urlopen(call, timeout=60) as answer:
        return json.loads(answer.read())


class Browser:
    """Headless chromium driven by Playwright; one per thread (Playwright's sync API runs
    one at a time). Use as a context manager; :class:`Page` opens tabs in it."""

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            # --no-sandbox: chromium refuses its sandbox as root (CI runs as root).
            self.browser = self._playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                                            args=["--no-sandbox"])
        except BaseException:
            self._playwright.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.browser.close()
        self._playwright.stop()


class Page:
    """A chromium tab on zoo serve's page, ``viewport`` CSS pixels, in ``browser`` (a
    :class:`Browser`; default: its own). Use as a context manager."""

    def __init__(self, url, viewport=VIEWPORT, browser=None):
        self.url, self.viewport, self._browser = url, viewport, browser

    def __enter__(self):
        self._own = self._browser is None
        if self._own:
            self._browser = Browser().__enter__()
        try:
            self.context = self._browser.browser.new_context(viewport=self.viewport, device_scale_factor=1)
            self.page = self.context.new_page()
            self.page.set_default_timeout(30_000)
            self.errors = []
            self.page.on("pageerror", lambda error: self.errors.append(str(error)))
            self.page.goto(self.url + "/", wait_until="load")
            # The page asks which models the server runs, then draws the faces and the walk.
            self.page.wait_for_function("document.body.dataset.ready === 'true'")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        context = getattr(self, "context", None)
        if context is not None:
            context.close()
        if self._own:
            self._browser.__exit__()

    def _wait_for_answer(self, answer_id, error_id):
        """Wait until ``answer_id`` shows an answer or ``error_id`` is shown."""
        self.page.wait_for_function(
            """([answer, error]) => {
                const text = document.getElementById(answer).textContent;
                return (text !== '' && !text.endsWith('…')) || !document.getElementById(error).hidden;
            }""", arg=[answer_id, error_id])

    def read_clock(self, path):
        """Upload ``path`` through the clock's file input; the reading and detail it shows,
        and the dial circle's box in the photo's pixels (or None)."""
        self.page.set_input_files("#file", str(path))
        self._wait_for_answer("reading", "clock-error")
        if self.page.is_visible("#dial"):
            self.page.wait_for_function("document.getElementById('photo').complete")
        reading = self.page.inner_text("#reading")
        detail = self.page.inner_text("#reading-detail")
        box = self.page.evaluate("""() => {
            const dial = document.getElementById('dial'), photo = document.getElementById('photo');
            if (dial.style.display !== 'block') return null;
            const scale = photo.naturalWidth / photo.clientWidth;
            return [dial.offsetLeft * scale, dial.offsetTop * scale,
                    (dial.offsetLeft + dial.offsetWidth) * scale, (dial.offsetTop + dial.offsetHeight) * scale];
        }""")
        return reading, detail, box

    def classify(self, model, path):
        """Upload ``path`` through ``model``'s file input (``mnist``, ``cifar10``); the class
        and the detail the page shows ("" for both when it shows an error)."""
        self.page.set_input_files(f"#{model}-file", str(path))
        return self._classified(model)

    def _classified(self, model):
        self._wait_for_answer(f"{model}-class", f"{model}-error")
        return self.page.inner_text(f"#{model}-class"), self.page.inner_text(f"#{model}-detail")

    def write_digit(self, strokes):
        """Write on the digit box with the mouse (``strokes``: lists of (x, y) in 0..1 of the
        box), press "Read my digit"; the class and the detail the page shows."""
        self.page.click("#mnist-clear")
        box = self.page.locator("#digit-pad").bounding_box()
        for points in strokes:
            (x, y), rest = points[0], points[1:]
            self.page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
            self.page.mouse.down()
            for x, y in rest:
                self.page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
            self.page.mouse.up()
        self.page.click("#mnist-read")
        return self._classified("mnist")

    def draw_faces(self, count, seed=0):
        """Ask for ``count`` faces of set ``seed`` ("Make faces"); the error shown, or None."""
        before = self.page.evaluate("document.getElementById('grid').src")
        self.page.fill("#count", str(count))
        self.page.fill("#seed", str(seed))
        self.page.click("#draw")
        self.page.wait_for_function(
            "(before) => !document.getElementById('faces-error').hidden || "
            "(!document.getElementById('grid').hidden && document.getElementById('grid').src !== before "
            "&& document.getElementById('grid').complete)", arg=before)
        return self.visible_error("faces-error")

    def visible_error(self, error_id):
        """The text of the error box ``error_id`` when it is shown and visible, else None."""
        locator = self.page.locator("#" + error_id)
        return locator.inner_text() if locator.is_visible() else None

    def walk_to(self, step):
        """Move the walk's slider to ``step`` (0-based); the caption it shows."""
        self.page.fill("#walk", str(step))
        self.page.wait_for_function(f"document.getElementById('walk-step').textContent.startsWith('{step + 1} ')")
        return self.page.inner_text("#walk-step")

    def overflow(self):
        """``(scrollWidth, viewport width, [elements reaching past the viewport's right edge])``."""
        return self.page.evaluate("""() => {
            const width = document.documentElement.clientWidth;
            const wide = [];
            for (const element of document.body.querySelectorAll('*')) {
                const box = element.getBoundingClientRect();
                if (box.width > 0 && box.right > width + 0.5)
                    wide.push((element.id ? '#' + element.id : element.tagName.toLowerCase()) + ' ' + Math.round(box.right));
            }
            return [document.documentElement.scrollWidth, width, wide];
        }""")

    def section_png(self, *ids):
        """A PNG of the page's cards holding the elements ``ids`` (``drop``: the clock,
        ``grid``: the faces, ``walk``: the walk)."""
        # In the page's coordinates (bounding boxes are the viewport's, which scrolls).
        left, top, right, bottom = self.page.evaluate("""(ids) => {
            const boxes = ids.map((id) => document.getElementById(id).closest('section').getBoundingClientRect());
            return [Math.min(...boxes.map((box) => box.left)) + window.scrollX,
                    Math.min(...boxes.map((box) => box.top)) + window.scrollY,
                    Math.max(...boxes.map((box) => box.right)) + window.scrollX,
                    Math.max(...boxes.map((box) => box.bottom)) + window.scrollY];
        }""", list(ids))
        return self.page.screenshot(clip={"x": left, "y": top, "width": right - left, "height": bottom - top},
                                    full_page=True)

    def page_png(self):
        """A PNG of the whole page, top to bottom."""
        self.page.evaluate("window.scrollTo(0, 0)")
        return self.page.screenshot(full_page=True)


def small_png(data, limit=SHOT_LIMIT):
    """``data`` (a PNG) as it is when under ``limit`` bytes, else with a 256-colour palette."""
    if len(data) <= limit:
        return data
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# A 4 written with the mouse, in 0..1 of the digit box: down and across, then the upright.
FOUR = [[(0.42, 0.15), (0.28, 0.58), (0.72, 0.58)], [(0.6, 0.3), (0.6, 0.88)]]


def use_page(tab, scratch, cifar=None):
    """Try every card the way a visitor would: a clock photo, a written digit, a photo, faces."""
    photo = pathlib.Path(scratch) / "clock.png"
    render_clock(photo, size=320, seed=2, scenes="world")  # off-centre, on a wall: the dial drawn shows it
    reading, _, _ = tab.read_clock(photo)
    tab.write_digit(FOUR)
    picture = pathlib.Path(scratch) / ("photo.jpg" if cifar else "photo.png")
    cifar_photo(cifar, picture) if cifar else photo_png(picture)
    tab.classify("cifar10", picture)
    tab.draw_faces(12, seed=7)
    tab.walk_to(6)
    return reading


def screenshots(folder, cifar=None):
    """Write ``folder``/page-phone.png (390 CSS pixels wide) and ``folder``/page-desktop.png
    (1280): the whole page after a clock photo was read, a digit written and read, a photo
    sorted (a CIFAR-10 test photo out of ``cifar``, cifar10-jpg.zip, else a made-up one)
    and 12 faces made."""
    import tempfile

    from serve.http.loadtest import ServerProcess

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="zoo-page-") as scratch, ServerProcess(["--quiet"]) as server, \
            Browser() as browser:
        for name, viewport in (("page-phone.png", PHONE), ("page-desktop.png", DESKTOP)):
            with Page(server.url, viewport, browser) as tab:
                reading = use_page(tab, scratch, cifar)
                scroll_width, width, wide = tab.overflow()
                if scroll_width > width:
                    raise SystemExit(f"Error: at {width} px the page is {scroll_width} px wide: {wide[:5]}")
                data = small_png(tab.page_png())
            (folder / name).write_bytes(data)
            written.append(f"{folder / name} ({len(data) // 1000} KB)")
    print(f"read {reading}; wrote " + ", ".join(written))


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description="zoo serve's page in headless chromium: the docs' screenshots")
    parser.add_argument("folder", nargs="?", default=ROOT / "docs")
    parser.add_argument("--cifar", help="cifar10-jpg.zip: its photo goes on the photo sorter (else a made-up one)")
    arguments = parser.parse_args()
    reason = unavailable()
    if reason:
        sys.exit(f"Error: {reason}")
    screenshots(arguments.folder, arguments.cifar)

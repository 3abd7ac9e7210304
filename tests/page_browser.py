"""zoo serve's page in a real headless browser: Playwright driving Debian's chromium.

Used by tests/test_page.py, and run as a script to take the docs' screenshots
(``make page-screenshots``)::

    .venv/bin/python tests/page_browser.py docs/     # writes docs/page-clock.png, docs/page-faces.png

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
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SHOT_LIMIT = 300_000  # bytes: the docs' screenshots stay small
VIEWPORT = {"width": 900, "height": 1000}


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


def post_time(url, data, find=True):
    """What ``POST /time`` answers for ``data`` (the page sends find=1 when its box is ticked)."""
    call = urllib.request.Request(f"{url}/time?find={int(find)}", data=data, method="POST",
                                  headers={"Content-Type": "image/png"})
    with urllib.request.urlopen(call, timeout=60) as answer:
        return json.loads(answer.read())


class Page:
    """A chromium tab on zoo serve's page. Use as a context manager."""

    def __init__(self, url):
        self.url = url

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            # --no-sandbox: chromium refuses its sandbox as root (CI runs as root).
            self.browser = self._playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                                            args=["--no-sandbox"])
            self.page = self.browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            self.errors = []
            self.page.on("pageerror", lambda error: self.errors.append(str(error)))
            self.page.goto(self.url + "/", wait_until="load")
            # The page lists the models it found, then draws the faces and the walk.
            self.page.wait_for_function("document.getElementById('models').textContent.includes('clock')")
            self.page.wait_for_function("document.getElementById('grid').naturalWidth > 0")
            self.page.wait_for_function("document.getElementById('walk-step').textContent.startsWith('face ')")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        browser = getattr(self, "browser", None)
        if browser is not None:
            browser.close()
        self._playwright.stop()

    def read_clock(self, path):
        """Upload ``path`` through the page's file input; the reading and detail it shows,
        and the dial circle's box in the photo's pixels (or None)."""
        self.page.set_input_files("#file", str(path))
        self.page.wait_for_function(
            "(() => { const text = document.getElementById('reading').textContent;"
            " return /^\\d\\d:\\d\\d/.test(text) || document.getElementById('reading').className === 'error'; })()")
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

    def walk_to(self, step):
        """Move the walk's slider to ``step`` (0-based); the caption it shows."""
        self.page.fill("#walk", str(step))
        self.page.wait_for_function(f"document.getElementById('walk-step').textContent.startsWith('face {step + 1} ')")
        return self.page.inner_text("#walk-step")

    def section_png(self, *ids):
        """A PNG of the page's sections holding the elements ``ids`` (``drop``: the clock,
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


def small_png(data, limit=SHOT_LIMIT):
    """``data`` (a PNG) as it is when under ``limit`` bytes, else with a 256-colour palette."""
    if len(data) <= limit:
        return data
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def screenshots(folder):
    """Write ``folder``/page-clock.png (a clock photo read, its dial drawn) and
    ``folder``/page-faces.png (a face grid and the walk's slider)."""
    import tempfile

    from serve.http.loadtest import ServerProcess

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zoo-page-") as scratch, ServerProcess(["--quiet"]) as server, \
            Page(server.url) as tab:
        photo = pathlib.Path(scratch) / "clock.png"
        render_clock(photo, size=320, seed=2, scenes="world")  # off-centre, on a wall: the dial drawn shows it
        reading, _, _ = tab.read_clock(photo)
        tab.page.fill("#count", "12")
        tab.page.fill("#seed", "7")
        tab.page.click("#draw")
        # 12 faces are a 3x4 grid (16 were 4x4): wait for the new picture.
        tab.page.wait_for_function("document.getElementById('grid').naturalHeight < "
                                   "document.getElementById('grid').naturalWidth")
        tab.walk_to(6)
        written = []
        for name, ids in (("page-clock.png", ("drop",)), ("page-faces.png", ("grid", "walk"))):
            data = small_png(tab.section_png(*ids))
            (folder / name).write_bytes(data)
            written.append(f"{folder / name} ({len(data) // 1000} KB)")
    print(f"read {reading}; wrote " + ", ".join(written))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    reason = unavailable()
    if reason:
        sys.exit(f"Error: {reason}")
    screenshots(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs")

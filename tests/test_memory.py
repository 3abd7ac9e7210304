"""serve.memory: the pixel budget that queues big pictures, and memory handed back after them."""

import threading
import time

from PIL import Image

from serve import images, memory


def test_pixel_budget_queues_pictures_that_would_overrun_it():
    budget = memory.PixelBudget(10, release_over=1)
    inside, most = [0], [0]
    lock = threading.Lock()

    def read(pixels):
        pixels_held = min(pixels, budget.capacity)  # a picture over the budget holds all of it
        with budget.hold(pixels):
            with lock:
                inside[0] += pixels_held
                most[0] = max(most[0], inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= pixels_held

    threads = [threading.Thread(target=read, args=(6,)) for _ in range(4)]
    threads += [threading.Thread(target=read, args=(50,))]  # bigger than the budget: waits for all of it
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert most[0] <= 10 and budget.used == 0


def test_decoding_holds_the_pictures_area_from_its_header(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("L", (300, 200), 255).save(path)
    assert images.header_pixels(path) == 60_000
    assert images.header_pixels(tmp_path / "missing.png") == 0
    (tmp_path / "text.png").write_text("not a picture")
    assert images.header_pixels(tmp_path / "text.png") == 0
    with images.decoding(path):
        assert images.DECODING.used == 60_000
    assert images.DECODING.used == 0


def test_freed_memory_can_be_handed_back():
    # On glibc both take effect; elsewhere they are no-ops. Neither may raise.
    memory.map_big_allocations()
    memory.release_freed()

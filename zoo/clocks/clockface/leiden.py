"""Clock data sets on disk in the Leiden "tell the time" format.

The format is ``images.npy`` of shape (N, H, W) uint8 grayscale plus
``labels.npy`` (N, 2) ``[hour 0-11, minute 0-59]``; :func:`write_dataset`
renders one, :func:`load_leiden` reads one (also the original Leiden set).
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from zoo.clocks.clockface import backgrounds as photo_backgrounds
from zoo.clocks.clockface import batches, rendering, surface

RENDERERS = ("zoo", "matplotlib", "skia")
"""What clocks can be drawn with: :mod:`zoo.clocks.clockface` (the renderer every reader
trains on), or the held-out :mod:`zoo.clocks.heldout.mplclocks` and
:mod:`zoo.clocks.heldout.skiaclocks`, written apart from it so that readers can be
scored on clocks from a renderer they never saw."""


def write_dataset(
    out_dir,
    count,
    seed,
    size=150,
    png=False,
    include=None,
    exclude=None,
    progress=None,
    overwrite=False,
    chunk=500,
    renderer="zoo",
    scenes="classic",
    backgrounds=None,
):
    """Render a data set to disk in the Leiden format.

    Writes ``images.npy`` (count, size, size) uint8 and ``labels.npy``
    (count, 2) int64, plus ``render_info.json`` (the arguments, for
    provenance). With ``png=True`` also ``png/00000.png``... and
    ``labels.csv`` with columns ``file,hour,minute`` where ``file`` is the
    path relative to ``out_dir`` (``png/00000.png``).

    Everything is written into a temporary sibling directory that is renamed
    into place at the end, so an interrupted run leaves nothing half-written
    at ``out_dir``. Images are streamed into a memory-mapped ``.npy`` file,
    so large data sets do not need to fit in memory.

    Args:
        out_dir: Destination directory.
        count: Number of images.
        seed: Non-negative integer seed (same meaning as in
            :func:`~zoo.clocks.clockface.batches.render_batch`).
        size: Output width and height in pixels.
        png: Also write PNG files and labels.csv.
        include: Style tags to restrict to.
        exclude: Style tags to avoid.
        progress: Optional callable receiving the number of images done so
            far, called after every chunk.
        overwrite: Replace an existing non-empty ``out_dir``.
        chunk: Images rendered per step (progress granularity).
        renderer: ``"zoo"`` (:mod:`zoo.clocks.clockface`), or a held-out renderer
            (``"matplotlib"``, ``"skia"``; :mod:`zoo.clocks.heldout`), which has no style tags.
        scenes: The zoo renderer's scene profile, ``"classic"`` or ``"world"``
            (see :func:`~zoo.clocks.clockface.batches.render_batch`).
        backgrounds: For the world scenes, None or a folder or .zip of photos.

    Returns:
        ``pathlib.Path`` of the written directory.

    Raises:
        ValueError: If ``out_dir`` exists and is non-empty and ``overwrite``
            is false, if it is a file, or on bad arguments.
    """
    count = batches.check_count(count)
    seed = batches.check_seed(seed)
    size = rendering.check_size(size)
    scenes, _ = batches.check_scenes(scenes, backgrounds)
    include, exclude = batches._check_tags(scenes, include, exclude)
    chunk = batches.check_count(chunk, "chunk")
    if chunk == 0:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be callable or None, got {progress!r}")
    if renderer in ("matplotlib", "skia"):
        if scenes != "classic":
            raise ValueError(f"the {renderer} renderer has no scene profiles: drop scenes and backgrounds")
        if include or exclude:
            raise ValueError(f"the {renderer} renderer has no style tags: drop include and exclude")
        import importlib

        held_out = importlib.import_module(
            "zoo.clocks.heldout." + ("mplclocks" if renderer == "matplotlib" else "skiaclocks"))

        def batch(step, start):
            return held_out.render(step, seed, size, start=start)[:2]
    elif renderer == "zoo":
        # Check the styles can be sampled before writing anything.
        batches.batch_styles(1, 0, include, exclude, scenes=scenes, backgrounds=backgrounds)

        def batch(step, start):
            return batches.render_batch(step, seed, size, include, exclude, start=start, scenes=scenes,
                                        backgrounds=backgrounds)
    else:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, got {renderer!r}")
    out_path = Path(out_dir)
    if out_path.exists():
        if not out_path.is_dir():
            raise ValueError(f"out_dir must be a directory, got the file {str(out_path)!r}")
        if any(out_path.iterdir()) and not overwrite:
            raise ValueError(
                f"out_dir {str(out_path)!r} exists and is not empty; pass overwrite=True to replace it"
            )
    out_path.parent.mkdir(parents=True, exist_ok=True)

    temporary = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.partial-", dir=out_path.parent))
    # mkdtemp makes the directory private (0700); the data set is not.
    os.chmod(temporary, 0o755)
    try:
        images = np.lib.format.open_memmap(
            temporary / "images.npy", mode="w+", dtype=np.uint8, shape=(count, size, size)
        )
        labels = np.empty((count, 2), dtype=np.int64)
        digits = max(5, len(str(max(count - 1, 0))))
        if png:
            (temporary / "png").mkdir()
        done = 0
        while done < count:
            step = min(chunk, count - done)
            batch_images, batch_labels = batch(step, done)
            images[done : done + step] = batch_images
            labels[done : done + step] = batch_labels
            if png:
                for offset in range(step):
                    name = f"{done + offset:0{digits}d}.png"
                    Image.fromarray(batch_images[offset]).save(temporary / "png" / name)
            done += step
            if progress is not None:
                progress(done)
        images.flush()
        del images
        np.save(temporary / "labels.npy", labels)
        if png:
            lines = ["file,hour,minute"]
            lines += [f"png/{index:0{digits}d}.png,{hour},{minute}" for index, (hour, minute) in enumerate(labels)]
            (temporary / "labels.csv").write_text("\n".join(lines) + "\n")
        # The generator names are the renderers' former module paths, kept so
        # that existing data sets and the files written now read the same.
        info = {
            "generator": {"matplotlib": "zoo.mplclocks", "skia": "zoo.clocks.heldout.skiaclocks"}.get(
                renderer, "zoo.clockface"),
            "count": count,
            "seed": seed,
            "size": size,
            "include": sorted(include),
            "exclude": sorted(exclude),
            "supersample": surface.SUPERSAMPLE,
        }
        if scenes != "classic":
            # Classic data sets keep the provenance they always had.
            info["scenes"] = scenes
            info["backgrounds"] = None if backgrounds is None else str(backgrounds)
            info["backgrounds_digest"] = photo_backgrounds.backgrounds_digest(backgrounds)
        (temporary / "render_info.json").write_text(json.dumps(info, indent=2) + "\n")

        # Swap into place; an old directory is moved aside first and only
        # deleted once the new one is in place.
        previous = None
        if out_path.exists():
            if any(out_path.iterdir()):
                previous = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.old-", dir=out_path.parent))
                previous.rmdir()
                os.replace(out_path, previous)
            else:
                out_path.rmdir()
        os.replace(temporary, out_path)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return out_path


def _to_grey(images):
    """(N, H, W, 3) uint8 -> (N, H, W) uint8 with PIL's RGB -> L weights."""
    out = np.empty(images.shape[:3], dtype=np.uint8)
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    for begin in range(0, images.shape[0], 1024):
        block = images[begin : begin + 1024].astype(np.float32) @ weights
        out[begin : begin + 1024] = np.clip(np.round(block), 0, 255).astype(np.uint8)
    return out


def load_leiden(path):
    """Load a Leiden-format clock data set.

    Args:
        path: Directory holding ``images.npy`` (N, H, W) uint8, also accepted
            as (N, H, W, 1) or RGB (N, H, W, 3), which are converted to
            grayscale, and ``labels.npy`` (N, 2) integer
            ``[hour 0-11, minute 0-59]``.

    Returns:
        ``(images, labels)``: uint8 (N, H, W) and int64 (N, 2).

    Raises:
        ValueError: If the folder or a file is missing, a shape, dtype or
            label range is wrong, or the counts differ.

    Example:
        >>> images, labels = load_leiden("data/leiden")  # doctest: +SKIP
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"path must be a directory holding images.npy and labels.npy, got {str(path)!r}")
    arrays = {}
    for name in ("images", "labels"):
        file = folder / f"{name}.npy"
        if not file.is_file():
            raise ValueError(f"path {str(path)!r} has no {name}.npy")
        try:
            arrays[name] = np.load(file, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValueError(f"{file} is not a readable .npy array: {error}") from error
    images = arrays["images"]
    labels = arrays["labels"]

    if images.ndim == 4 and images.shape[-1] in (1, 3):
        pass
    elif images.ndim != 3:
        raise ValueError(
            f"images.npy must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3), got {images.shape}"
        )
    if images.dtype != np.uint8:
        if np.issubdtype(images.dtype, np.integer) and images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(f"images.npy must hold uint8 pixels, got {images.dtype} with values outside 0-255")
        if not np.issubdtype(images.dtype, np.integer):
            raise ValueError(f"images.npy must hold uint8 pixels, got dtype {images.dtype}")
        images = images.astype(np.uint8)
    if images.ndim == 4:
        images = images[..., 0].copy() if images.shape[-1] == 1 else _to_grey(images)

    if labels.ndim != 2 or labels.shape[1] != 2:
        raise ValueError(f"labels.npy must have shape (N, 2) [hour, minute], got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        whole = np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels))
        if whole and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise ValueError(f"labels.npy must hold whole numbers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"images.npy holds {images.shape[0]} images but labels.npy holds {labels.shape[0]} labels"
        )
    if labels.size:
        hours, minutes = labels[:, 0], labels[:, 1]
        if hours.min() < 0 or hours.max() > 11:
            raise ValueError(f"labels.npy hours must lie in 0-11, got values from {hours.min()} to {hours.max()}")
        if minutes.min() < 0 or minutes.max() > 59:
            raise ValueError(
                f"labels.npy minutes must lie in 0-59, got values from {minutes.min()} to {minutes.max()}"
            )
    return images, labels

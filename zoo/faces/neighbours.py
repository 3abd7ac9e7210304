"""Does a face generator copy its training faces? Nearest training faces of generated ones.

``zoo faces-neighbours`` generates faces from an exported (ONNX) generator, seeded as
``zoo generate-faces --seed S`` is, and finds each face's nearest training faces by L2
distance between pixels scaled to [0, 1] (64x64x3 values; identical faces are at 0).
The training faces are the training split of :mod:`zoo.faces.data`, the very faces
the generator saw (with the ``--limit`` a card's training record implies).

A distance means little alone, so the held-out real faces of the same split, which the
generator never saw, are measured against the training set too: a generator that
copies puts its faces nearer to training faces than real unseen faces are. A
generated face nearer than all but :data:`NEAR_PERCENTILE` % of the held-out real
faces is flagged for a look at the gallery: CelebA lists some photos twice, under
two names and in both splits, so that percentile is about the distance between two
copies of one photo. Pixel distances favour smooth images, so a blurry generator sits
a little nearer than real faces without copying anything.

The metric network's feature space (:mod:`zoo.faces.features`) is not used: it is a
Keras model, not shipped, and this check runs without TensorFlow.

Everything here is numpy, Pillow, onnxruntime (through :mod:`serve`) and matplotlib.
"""

import numpy as np

from zoo import errors
from zoo.common import files
from zoo.faces import data

NEIGHBOURS = 3
# Training faces turned into float32 at a time: 1,024 faces of 64x64x3 are 50 MB.
CHUNK = 1024
# Candidates kept per query by the fast float32 search, re-measured exactly after.
EXTRA_CANDIDATES = 4
NEAR_PERCENTILE = 1.0
# A 256-colour palette keeps a 16-row gallery of photos well under 400 KB; the
# distances are measured on the original pixels.
PALETTE_COLOURS = 256
DISTANCE = "L2 between pixels scaled to [0, 1]"


def _flat(images):
    """uint8 faces as float32 rows in [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def nearest(queries, pool, k=NEIGHBOURS, index=None, chunk=CHUNK, progress=None):
    """The ``k`` nearest faces of ``pool[index]`` to each query, by L2 on [0, 1] pixels.

    The pool is read ``chunk`` faces at a time (memory stays bounded by the chunk and
    the queries). The float32 search ranks ``k + EXTRA_CANDIDATES`` candidates by
    ``|q|^2 + |t|^2 - 2 q.t`` (fast, but loses about 1e-2 near 0 to cancellation);
    those are then measured exactly in float64, so a copy is at 0.0.

    Args:
        queries: uint8 (Q, H, W, C).
        pool: uint8 (N, H, W, C), the same image shape.
        k: neighbours per query.
        index: positions of ``pool`` to search (None: all of it).
        chunk: pool faces per step.
        progress: optional callable, called with the pool faces done after each step.

    Returns:
        ``(distances, positions)``: float64 (Q, k) ascending, and int64 (Q, k)
        positions into ``pool``.

    Example:
        >>> faces = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
        >>> distances, positions = nearest(faces[3:4], faces, k=2)
        >>> int(positions[0, 0]), float(distances[0, 0])
        (3, 0.0)
    """
    queries, pool = np.asarray(queries), np.asarray(pool)
    if queries.shape[1:] != pool.shape[1:]:
        raise errors.ZooError(
            f"faces of shape {queries.shape[1:]} cannot be compared with faces of shape {pool.shape[1:]}"
        )
    index = np.arange(len(pool)) if index is None else np.asarray(index)
    if len(index) < 1 or len(queries) < 1:
        raise errors.ZooError("nothing to compare: no queries or no faces to search")
    keep = min(k + EXTRA_CANDIDATES, len(index))
    flat_queries = _flat(queries)
    query_norms = np.einsum("ij,ij->i", flat_queries, flat_queries)
    best_squares = np.full((len(queries), 0), np.inf, np.float32)
    best_positions = np.empty((len(queries), 0), np.int64)
    for start in range(0, len(index), chunk):
        positions = index[start:start + chunk]
        block = _flat(pool[positions])
        squares = query_norms[:, None] + np.einsum("ij,ij->i", block, block)[None, :] - 2.0 * (flat_queries @ block.T)
        squares = np.concatenate([best_squares, squares], axis=1)
        candidates = np.concatenate([best_positions, np.broadcast_to(positions, (len(queries), len(positions)))],
                                    axis=1)
        if squares.shape[1] > keep:
            chosen = np.argpartition(squares, keep - 1, axis=1)[:, :keep]
        else:
            chosen = np.broadcast_to(np.arange(squares.shape[1]), squares.shape)
        best_squares = np.take_along_axis(squares, chosen, axis=1)
        best_positions = np.take_along_axis(candidates, chosen, axis=1)
        if progress is not None:
            progress(len(positions))
    exact = np.empty(best_positions.shape, np.float64)
    for row, query in enumerate(queries.reshape(len(queries), -1)):
        query = query.astype(np.float64) / 255.0
        candidates = pool[best_positions[row]].reshape(keep, -1).astype(np.float64) / 255.0
        exact[row] = np.sqrt(np.sum((candidates - query) ** 2, axis=1))
    order = np.argsort(exact, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(exact, order, axis=1), np.take_along_axis(best_positions, order, axis=1)


def summary(distances):
    """Minimum, 1st and 5th percentiles, median, mean and maximum of some distances."""
    distances = np.asarray(distances, np.float64)
    return {
        "count": int(len(distances)),
        "min": float(np.min(distances)),
        "p01": float(np.percentile(distances, 1)),
        "p05": float(np.percentile(distances, 5)),
        "median": float(np.median(distances)),
        "mean": float(np.mean(distances)),
        "max": float(np.max(distances)),
    }


def verdict(generated, real):
    """Compare the nearest-neighbour distances of generated and of held-out real faces.

    Args:
        generated: each generated face's distance to its nearest training face.
        real: each held-out real face's distance to its nearest training face.

    Returns:
        ``(flags, threshold, text)``: per generated face whether it is nearer than all
        but :data:`NEAR_PERCENTILE` % of the real faces; that distance; one sentence.
    """
    generated, real = np.asarray(generated, np.float64), np.asarray(real, np.float64)
    threshold = float(np.percentile(real, NEAR_PERCENTILE))
    flags = generated < threshold
    closest, median = float(np.min(generated)), float(np.median(real))
    if flags.any():
        judged = (f"{int(flags.sum())} of {len(generated)} generated faces are nearer their training neighbour than "
                  f"{100 - NEAR_PERCENTILE:g}% of held-out real faces (< {threshold:.2f}): "
                  "possible copies, look at them")
    else:
        judged = (f"no generated face is nearer its training neighbour than {100 - NEAR_PERCENTILE:g}% of held-out "
                  f"real faces (< {threshold:.2f}): no sign of copying")
    nearer_real = float(np.mean(real < closest))
    text = (f"closest generated face at distance {closest:.2f} vs median real-to-train distance {median:.2f} "
            f"({nearer_real:.1%} of held-out real faces are nearer still); {judged}")
    return flags, threshold, text


def training_faces(faces, card):
    """The training and held-out positions of ``faces`` for a generator with ``card``.

    A card whose training record counts fewer training faces than the split holds was
    trained with ``--limit``: the same limit is applied. Counts that cannot come from
    this data give a note (the search still runs on this data's split).

    Returns:
        ``(train_index, heldout_index, notes)``.
    """
    recorded = ((card.get("training") or {}).get("data") or {})
    trained, tested = recorded.get("train"), recorded.get("test")
    train_index, test_index = data.training_split(len(faces.images))
    limit = None
    if isinstance(trained, int) and 2 <= trained < len(train_index):
        limit = trained
        train_index, test_index = data.training_split(len(faces.images), limit)
    notes = []
    if isinstance(trained, int) and (trained != len(train_index)
                                     or (isinstance(tested, int) and tested != len(test_index))):
        notes.append(f"the card records {trained} training and {tested} test faces from {recorded.get('source')}; "
                     f"this data's split has {len(train_index)} and {len(test_index)}: "
                     "is it the data the generator trained on?")
    if limit:
        notes.append(f"the card's {limit} training faces: the first {limit} of the split, "
                     f"as `zoo train --limit {limit}`")
    return train_index, test_index, notes


def check(model, session, faces, count=8, seed=0, k=NEIGHBOURS, real_count=None, progress=None):
    """Generate ``count`` faces and measure them, and held-out real faces, against the training set.

    Args:
        model: the generator's :class:`serve.models.ServedModel`.
        session: its onnxruntime session.
        faces: :class:`zoo.faces.data.Faces` loaded at the generator's image size.
        count: generated faces (``zoo generate-faces --count COUNT --seed SEED``'s faces).
        seed: the seed of their latent vectors.
        k: training neighbours per face.
        real_count: held-out real faces to measure (None: all; else a fixed random sample).
        progress: optional callable(faces done) over the training faces searched.

    Returns:
        ``(report, generated)``: the JSON-able report and the uint8 generated faces.
    """
    from serve import generate
    from zoo.common import imagegrid

    shape = generate.image_shape(model)
    if tuple(faces.images.shape[1:]) != shape:
        raise errors.ZooError(f"the generator makes faces of {shape}; the data was loaded at {faces.images.shape[1:]}")
    train_index, heldout_index, notes = training_faces(faces, model.card)
    if real_count is not None and real_count < len(heldout_index):
        heldout_index = np.sort(np.random.default_rng(0).choice(heldout_index, real_count, replace=False))
    z = imagegrid.latent_samples(count, generate.latent_dim(model), seed=seed)
    generated = generate.generate(session, model, z)
    # One pass over the training faces serves the generated and the real queries alike.
    queries = np.concatenate([generated, faces.images[heldout_index]])
    distances, positions = nearest(queries, faces.images, k=k, index=train_index, progress=progress)
    generated_nearest, real_nearest = distances[:count, 0], distances[count:, 0]
    flags, threshold, text = verdict(generated_nearest, real_nearest)
    rows = []
    for face in range(count):
        rows.append({
            "face": face,
            "nearest": float(distances[face, 0]),
            "nearer_than_real": bool(flags[face]),
            "neighbours": [{"file": faces.names[position], "position": int(position), "distance": float(distance)}
                           for distance, position in zip(distances[face], positions[face])],
        })
    report = {
        "model": model.name,
        "entry": model.entry,
        "seed": seed,
        "count": count,
        "data": faces.source,
        "image_shape": list(shape),
        "crop": faces.crop,
        "distance": f"{DISTANCE} ({int(np.prod(shape))} values)",
        "train_faces": int(len(train_index)),
        "heldout_faces": int(len(heldout_index)),
        "generated": rows,
        "generated_to_train": summary(generated_nearest),
        "real_to_train": summary(real_nearest),
        "near_threshold": threshold,
        "possible_copies": int(flags.sum()),
        "verdict": text,
        "notes": notes,
    }
    return report, generated


def gallery_png(generated, faces, report):
    """The gallery as PNG bytes: a row per generated face, then its nearest training
    faces with their distances under them; more than 8 rows go in two blocks side by side."""
    import io

    from PIL import Image

    from zoo.plots import plt

    rows = report["generated"]
    k = len(rows[0]["neighbours"])
    blocks = 2 if len(rows) > 8 else 1
    per_block = -(-len(rows) // blocks)
    width_ratios = []
    for block in range(blocks):
        width_ratios += [1.0] * (k + 1) + ([0.25] if block < blocks - 1 else [])
    figure, axes = plt.subplots(per_block, len(width_ratios), figsize=(1.05 * sum(width_ratios), 1.2 * per_block + 0.7),
                                squeeze=False, gridspec_kw={"width_ratios": width_ratios})
    for axis in axes.ravel():
        axis.axis("off")
    for number, row in enumerate(rows):
        block, line = divmod(number, per_block)
        left = block * (k + 2)
        cells = [(generated[row["face"]], f"generated {row['face']}" + (" (!)" if row["nearer_than_real"] else ""))]
        cells += [(faces.images[item["position"]], f"{item['distance']:.2f}  {item['file'].rsplit('/', 1)[-1]}")
                  for item in row["neighbours"]]
        for column, (image, caption) in enumerate(cells):
            axis = axes[line, left + column]
            axis.imshow(image, vmin=0, vmax=255)
            axis.text(0.5, -0.03, caption, transform=axis.transAxes, ha="center", va="top", fontsize=6.5,
                      color="firebrick" if column == 0 and row["nearer_than_real"] else "black")
    real = report["real_to_train"]
    figure.suptitle(
        f"{report['model']}: generated faces (seed {report['seed']}) and their {k} nearest of {report['train_faces']} "
        f"training faces ({DISTANCE})\nheld-out real faces to training: median {real['median']:.2f}, "
        f"1st percentile {real['p01']:.2f} (n={real['count']}); closest generated "
        f"{report['generated_to_train']['min']:.2f}; (!) nearer than {100 - NEAR_PERCENTILE:g}% of real faces",
        fontsize=8)
    figure.tight_layout(rect=(0, 0, 1, 0.97), h_pad=1.2, w_pad=0.2)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    picture = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    quantized = picture.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
    output = io.BytesIO()
    quantized.save(output, format="PNG", optimize=True)
    return output.getvalue()


def write(out, generated, faces, report):
    """Write the gallery ``out`` (PNG) and the report beside it (``.json``), each atomically.

    Returns:
        ``(png path, json path)``.
    """
    import pathlib

    out = pathlib.Path(out)
    json_path = out.with_suffix(".json")
    report = {**report, "gallery": str(out)}
    png = gallery_png(generated, faces, report)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = files.temporary_path(out)
    try:
        temporary.write_bytes(png)
        files.write_json(json_path, report)
        temporary.replace(out)
    finally:
        temporary.unlink(missing_ok=True)
    return out, json_path

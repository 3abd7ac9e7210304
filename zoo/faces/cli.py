"""``zoo faces-sample``: look at a trained face model (Keras run folder);
``zoo faces-neighbours``: check that an exported generator does not copy its training faces.

The serve package has its own commands for exported (ONNX) generators; faces-sample
reads a training run, so it also draws a VAE's reconstructions. TensorFlow is
imported inside faces-sample, never when the CLI starts; faces-neighbours never
imports it (onnxruntime, numpy, Pillow, matplotlib).
"""

import json
import sys

import click


@click.command("faces-sample")
@click.option("--model", "model_dir", type=click.Path(), required=True, help="A face_gan or face_vae run folder.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The PNG to write.")
@click.option("--kind", type=click.Choice(["grid", "interpolation", "reconstructions"]), default="grid",
              show_default=True, help="Samples from N(0, I), latent interpolations, or VAE reconstructions.")
@click.option("--count", type=int, default=64, show_default=True, help="Images in a grid or reconstructions.")
@click.option("--columns", type=click.IntRange(min=1), default=None, help="Images per row [default: square grid].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latent vectors.")
@click.option("--steps", type=int, default=10, show_default=True, help="Images per interpolation row.")
@click.option("--pairs", type=int, default=2, show_default=True,
              help="Interpolation endpoint pairs (each a linear and a spherical row).")
@click.option("--data", type=click.Path(), default=None,
              help="The faces (for --kind reconstructions): img_align_celeba.zip or a folder.")
def faces_sample(model_dir, out, kind, count, columns, seed, steps, pairs, data):
    """Draw samples of a trained face model into a PNG.

    \b
    Examples:
      zoo faces-sample --model artifacts/face_gan --out grid.png
      zoo faces-sample --model artifacts/face_gan --out walk.png --kind interpolation --steps 12 --seed 7
      zoo faces-sample --model artifacts/face_vae --out recon.png --kind reconstructions --data celeba-subset.zip
    """
    from zoo.common import commands

    commands.quiet_tensorflow()
    from zoo.faces import entries

    path = entries.write_samples(
        model_dir, out, kind=kind, count=count, seed=seed, columns=columns, steps=steps, pairs=pairs, data=data,
    )
    click.echo(f"[zoo] wrote {path}")


@click.command("faces-neighbours")
@click.option("--model", "model_spec", default=None, metavar="PATH",
              help="The generator: a release name, a model.onnx, an export folder or a run folder with export/ "
                   "[default: the release face generator].")
@click.option("--data", type=click.Path(), default=None,
              help="The faces it trained on: img_align_celeba.zip, celeba-subset.zip or a folder "
                   "[default: $ZOO_DATA_DIR].")
@click.option("--count", type=int, default=8, show_default=True, help="Generated faces to check.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of their latent vectors: the faces of `zoo generate-faces --seed S`.")
@click.option("--neighbours", "k", type=int, default=3, show_default=True, help="Nearest training faces per face.")
@click.option("--real", "real_count", type=int, default=None,
              help="Held-out real faces to measure for the reference [default: all of the test split].")
@click.option("--out", type=click.Path(dir_okay=False), default=None, metavar="GALLERY.png",
              help="Write the gallery here and the report beside it (GALLERY.json).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def faces_neighbours(model_spec, data, count, seed, k, real_count, out, as_json):
    """Find the nearest training faces of generated faces: does the generator copy?

    Generates COUNT faces as `zoo generate-faces --seed SEED` does and finds each
    one's nearest faces in the training split the generator trained on (the face
    data's fixed split), by L2 distance between pixels in [0, 1]. For reference, the
    held-out real faces of that split, which the generator never saw, are measured
    against the training set too: generated faces much nearer their training
    neighbours than real unseen faces are would be copies. Prints the closest
    generated face's distance against the median real-to-train distance.

    \b
    Examples:
      zoo faces-neighbours --data celeba-subset.zip
      zoo faces-neighbours --data celeba-subset.zip --count 16 --seed 1 --out neighbours.png
      zoo faces-neighbours --model artifacts/face_gan --data img_align_celeba/ --json
    """
    import pathlib

    from serve import generate, models
    from zoo import errors
    from zoo.faces import data as face_data
    from zoo.faces import neighbours

    if out is not None and (pathlib.Path(out).suffix.lower() != ".png" or pathlib.Path(out).is_dir()):
        raise errors.ZooError(f"--out must name a .png file to write; received {out!r}")
    if seed < 0:
        raise errors.ZooError(f"--seed must be non-negative (numpy's default_rng); received {seed}")
    if k < 1:
        raise errors.ZooError(f"--neighbours must be at least 1; received {k}")
    if real_count is not None and real_count < 1:
        raise errors.ZooError(f"--real must be at least 1; received {real_count}")
    model, session = models.load(model_spec, default="faces", provider="auto", require="image")
    generate.check_count(count, model)
    height, width, channels = generate.image_shape(model)
    if height != width or channels != 3:
        raise errors.ZooError(f"--model {model.name} makes {height}x{width}x{channels} images; faces are square RGB")
    recorded = ((model.card.get("training") or {}).get("data") or {})
    faces = face_data.load_faces(data, image_size=height, crop=recorded.get("crop") or "auto")
    train_count = len(neighbours.training_faces(faces, model.card)[0])
    if k > train_count:
        raise errors.ZooError(f"--neighbours {k} is more than the {train_count} training faces")
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=train_count, unit="face", desc="training faces searched", file=sys.stderr, leave=False)
    try:
        report, generated = neighbours.check(model, session, faces, count=count, seed=seed, k=k,
                                             real_count=real_count, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    for note in report["notes"]:
        click.echo(f"Note: {note}", err=True)
    if out is not None:
        try:
            png_path, json_path = neighbours.write(out, generated, faces, report)
        except OSError as error:
            raise errors.ZooError(f"cannot write {error.filename or out}: {error.strerror or error}") from None
        report["gallery"] = str(png_path)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"{report['count']} faces of {report['model']} (seed {seed}) against {report['train_faces']} training "
               f"faces of {report['data']} ({neighbours.DISTANCE}):")
    for row in report["generated"]:
        near = "   ".join(f"{item['file'].rsplit('/', 1)[-1]} {item['distance']:.2f}" for item in row["neighbours"])
        click.echo(f"  face {row['face']:>3}{' (!)' if row['nearer_than_real'] else '    '}  {near}")
    real = report["real_to_train"]
    click.echo(f"{real['count']} held-out real faces to the training set: min {real['min']:.2f}, "
               f"1st percentile {real['p01']:.2f}, median {real['median']:.2f}, max {real['max']:.2f}")
    click.echo(report["verdict"])
    if out is not None:
        click.echo(f"wrote {png_path} and {json_path}")


COMMANDS = [faces_sample, faces_neighbours]

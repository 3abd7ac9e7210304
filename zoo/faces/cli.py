"""``zoo faces-sample``: look at a trained face model (Keras run folder).

The serve package has its own commands for exported (ONNX) generators; this one
reads a training run, so it also draws a VAE's reconstructions. TensorFlow is
imported inside the command, never when the CLI starts.
"""

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
@click.option("--pairs", type=int, default=2, show_default=True, help="Interpolation endpoint pairs (each a linear and a spherical row).")
@click.option("--data", type=click.Path(), default=None, help="The faces (for --kind reconstructions): img_align_celeba.zip or a folder.")
def faces_sample(model_dir, out, kind, count, columns, seed, steps, pairs, data):
    """Draw samples of a trained face model into a PNG.

    \b
    Examples:
      zoo faces-sample --model artifacts/face_gan --out grid.png
      zoo faces-sample --model artifacts/face_gan --out walk.png --kind interpolation --steps 12 --seed 7
      zoo faces-sample --model artifacts/face_vae --out recon.png --kind reconstructions --data celeba-subset.zip
    """
    from zoo import cli

    cli.quiet_tensorflow()
    from zoo.faces import entries

    path = entries.write_samples(
        model_dir, out, kind=kind, count=count, seed=seed, columns=columns, steps=steps, pairs=pairs, data=data,
    )
    click.echo(f"[zoo] wrote {path}")


COMMANDS = [faces_sample]

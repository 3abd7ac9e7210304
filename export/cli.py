"""``zoo export``: a thin click command over :func:`export.exporter.export_entry`.

Imports nothing heavy at import time, so ``zoo --help`` stays fast.
"""

import pathlib

import click


@click.command("export")
@click.argument("entry")
@click.option("--model", "model_dir", type=click.Path(), default=None,
              help="The run folder (or its model.keras) [default: artifacts/ENTRY].")
@click.option("--out", type=click.Path(), default=None, help="The export folder [default: MODEL/export].")
@click.option("--opset", type=int, default=17, show_default=True, help="ONNX opset (13 to 18).")
@click.option("--quantize", type=click.Choice(["int8"]), default=None,
              help="Also make an int8 model (onnxruntime quantisation), kept only if accurate enough.")
@click.option("--quantize-method", type=click.Choice(["auto", "static", "static-qdq", "dynamic"]), default="auto",
              show_default=True,
              help="auto tries static (calibrated QLinearConv/QLinearMatMul), static-qdq and dynamic, "
              "and keeps the fastest acceptable one.")
@click.option("--max-accuracy-drop", type=float, default=1.0, show_default=True,
              help="Classifiers: the largest int8 test-accuracy drop, in points, that is kept.")
@click.option("--max-output-error", type=float, default=1.0, show_default=True,
              help="Other tasks: the largest mean int8 output error, in percent of the output range, that is kept.")
@click.option("--min-speedup", type=click.FloatRange(min=0.0), default=1.05, show_default=True,
              help="The int8 model is kept only if at least this much faster than float32 at batch 1 (0: any).")
@click.option("--data", type=click.Path(), default=None,
              help="Dataset for the parity inputs, the test-set check and calibration "
              "[default: the run's own data, then the usual places].")
@click.option("--no-data", is_flag=True, help="Use no dataset: parity on random inputs, no test-set check.")
def export_command(entry, model_dir, out, opset, quantize, quantize_method, max_accuracy_drop, max_output_error,
                   min_speedup, data, no_data):
    """Export a trained ENTRY to ONNX and SavedModel, check it, and write its model card.

    Writes MODEL/export/ (or --out): model.onnx (the card in its metadata),
    saved_model/, card.json, SHA256SUMS and, with --quantize int8, model.int8.onnx.
    Nothing is written unless every gate passes (onnx.checker, an onnxruntime
    session, Keras/ONNX/SavedModel parity, the same classes on the test set).

    \b
    Examples:
      zoo export mnist_cnn
      zoo export mnist_cnn --model runs/mnist_cnn --out release/mnist_cnn --quantize int8
      zoo export face_vae --opset 17 --no-data
    """
    from export import convert
    from zoo import errors
    from zoo.common import commands

    # Checked before TensorFlow loads, so a typo costs no start-up time.
    convert.check_opset(opset)
    if data is not None and no_data:
        raise errors.ZooError("give --data or --no-data, not both")
    model_dir = pathlib.Path(model_dir) if model_dir else pathlib.Path("artifacts") / entry
    out = pathlib.Path(out) if out else (model_dir if model_dir.suffix != ".keras" else model_dir.parent) / "export"
    # Missing files are reported before TensorFlow loads (seconds saved per typo).
    if not model_dir.exists():
        raise errors.ZooError(f"no model at {model_dir} (train one with `zoo train {entry} --out DIR`)")
    if data is not None and not pathlib.Path(data).exists():
        raise errors.ZooError(f"--data {data} does not exist")
    commands.quiet_tensorflow()
    from export import exporter

    card = exporter.export_entry(
        entry, model_dir, out, opset=opset, quantize=quantize, data=False if no_data else data,
        quantize_method=quantize_method, max_accuracy_drop=max_accuracy_drop, max_output_error=max_output_error,
        min_speedup=min_speedup,
    )
    click.echo(f"[zoo] {entry}: {out / card['onnx_file']} sha256 {card['onnx_sha256'][:16]}...; "
               f"card {out / 'card.json'}")


COMMANDS = [export_command]

"""``zoo results``: the committed results tables, and the command that prints them."""

import csv
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, assert_one_line_error, run_zoo
from zoo import results

MACHINES = {"epyc-avx2", "xeon-avx512", "epyc-avx512"}


def write_table(folder, rows, columns=results.COLUMNS):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "figures.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return folder


def test_every_committed_table_parses_with_the_columns_and_numbers():
    from zoo import registry

    files = sorted((ROOT / "results").glob("*.csv"))
    assert results.RESULTS_DIR == ROOT / "results" and files
    for path in files:
        with open(path, newline="") as handle:
            assert tuple(next(csv.reader(handle))) == results.COLUMNS, path
    rows = results.read_table()
    assert {row["source"] for row in rows} == {path.name for path in files}
    names = set(registry.names())
    for row in rows:
        where = f"{row['source']}: {row['entry']} {row['metric']} {row['value']}"
        assert row["entry"].removeprefix("report:") in names, where
        assert isinstance(row["value"], float) and row["metric"], where
        assert row["train_seconds"] is None or row["train_seconds"] > 0, where
        if row["entry"].startswith("report:"):
            continue  # the student report's figures: no machine, date or command of ours
        assert row["machine"] in MACHINES, where
        assert re.fullmatch(r"2026-\d\d-\d\d", row["date"]), where
        if "within_1" in row["metric"]:
            assert 0.0 <= row["value"] <= 1.0, where  # a share, not a percentage


def test_results_work_without_artifacts_and_without_tensorflow(tmp_path):
    code = (
        "import sys; from zoo import cli\n"
        "try:\n"
        f"    cli.cli.main(['results', '--root', {str(tmp_path / 'none')!r}, '--entry', 'clock_polar'],"
        " prog_name='zoo', standalone_mode=False)\n"
        "except SystemExit as exit:\n"
        "    print('exit', exit.code)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "False False"
    assert lines[0].split()[:3] == ["entry", "metric", "value"]
    entries = [line.split()[0] for line in lines[2:-1]]
    assert entries and set(entries) == {"clock_polar"}


def test_results_from_a_folder_given_with_filters_and_json(tmp_path):
    folder = write_table(tmp_path / "tables", [
        ("mnist_mlp", "MNIST", "test_accuracy", "0.98", "120", "epyc-avx2", "2026-11-27", "zoo train mnist_mlp", "a"),
        ("report:mnist_mlp", "MNIST", "test_accuracy", "0.9821", "", "", "", "", "report"),
        ("clock_polar", "2,000 matplotlib test clocks", "test_cse_mean", "15.8", "", "epyc-avx512", "2026-12-04",
         "", ""),
        ("clock_polar", "2,000 test clocks", "test_cse_mean_turns", "12.1", "2500", "epyc-avx512", "2026-12-04",
         "", ""),
    ])
    args = ("results", "--results", folder, "--root", tmp_path / "no-runs")
    shown = run_zoo(*args, "--entry", "mnist_mlp")
    assert shown.returncode == 0, shown.stderr
    assert [line.split()[0] for line in shown.stdout.splitlines()[2:]] == ["mnist_mlp", "report:mnist_mlp"]
    picked = json.loads(run_zoo(*args, "--json", "--data", "MATPLOTLIB").stdout)
    assert [(row["value"], row["train_seconds"], row["source"]) for row in picked] == [(15.8, None, "figures.csv")]
    by_metric = json.loads(run_zoo(*args, "--json", "--metric", "test_cse_mean").stdout)
    assert [row["metric"] for row in by_metric] == ["test_cse_mean", "test_cse_mean_turns"]
    assert_one_line_error(run_zoo(*args, "--entry", "face_gan"), "no figures match")


@pytest.mark.parametrize("rows, columns, fragment", [
    ([("mnist_mlp", "MNIST", "test_accuracy", "high", "", "", "", "", "")], results.COLUMNS, "value must be a number"),
    ([("mnist_mlp", "MNIST", "0.98")], ("entry", "data", "value"), "columns must be"),
])
def test_a_broken_table_or_a_missing_folder_is_one_line(tmp_path, rows, columns, fragment):
    folder = write_table(tmp_path / "tables", rows, columns)
    assert_one_line_error(run_zoo("results", "--results", folder, "--root", tmp_path / "none"), fragment)
    assert_one_line_error(run_zoo("results", "--results", tmp_path / "absent", "--root", tmp_path / "none"),
                          "no results tables")


def test_finished_runs_become_rows_of_the_same_columns(tmp_path, monkeypatch):
    assert not results.has_runs(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}")
    assert results.has_runs(tmp_path)
    collected = [{"run": str(tmp_path / "run"), "entry": "mnist_mlp", "metric": "test_accuracy", "value": 0.98,
                  "report": 0.9821, "report_source": "Task 1.1 MLP", "epochs": 12, "train_minutes": 2.0,
                  "samples_per_second": 5000.0, "jit_compile": False, "command": "zoo train mnist_mlp --epochs 12",
                  "metrics": {}, "data": "mnist.npz", "machine": {"processor": "x86_64", "cpu_count": 2},
                  "finished": "2026-12-05T10:00:00+0000"}]
    monkeypatch.setattr(results, "collect", lambda root: collected)
    (row,) = results.run_rows(tmp_path)
    assert set(row) == {*results.COLUMNS, "source"}
    assert (row["train_seconds"], row["date"], row["machine"]) == (120.0, "2026-12-05", "x86_64 x2")
    assert "0.9821 (Task 1.1 MLP)" in row["notes"]
    assert "mnist_mlp  test_accuracy" in results.table([row], width=120)

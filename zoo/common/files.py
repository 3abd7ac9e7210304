"""Atomic writes and checksums: a reader never sees half a file, and a failed write
leaves the previous file in place."""

import csv
import hashlib
import io
import json
import os
import pathlib
import shutil
import threading


def _jsonable(value):
    """numpy scalars as numbers, anything else unknown as its text."""
    try:
        return value.item()
    except AttributeError:
        return str(value)


def temporary_path(path):
    """A sibling of ``path`` private to this process and thread, to write and then rename."""
    path = pathlib.Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.partial")


def write_text(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        temporary.write_text(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_json(path, data, indent=2):
    """Write ``data`` as JSON through a temporary file (numpy scalars become numbers)."""
    text = json.dumps(data, indent=indent, default=_jsonable)
    return write_text(path, text + ("\n" if indent is not None else ""))


def publish_folder(partial, out):
    """Put the finished folder ``partial`` in place of ``out``. A previous ``out`` is moved
    aside first and deleted only once the new one is in place (put back if that fails), so
    at every moment ``out`` is the old folder or the new one, never half of either."""
    out = pathlib.Path(out)
    if not out.exists():
        os.replace(partial, out)
        return out
    old = out.with_name(f".{out.name}.old-{os.getpid()}-{threading.get_ident()}")
    os.replace(out, old)
    try:
        os.replace(partial, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    return out


def sha256_of(path, chunk_size=1 << 20):
    """The hex SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_rows(rows, out, stem):
    """``<stem>.json`` and ``<stem>.csv`` (every key any row has) of a list of dicts, each
    written through a temporary file."""
    out = pathlib.Path(out)
    write_json(out / f"{stem}.json", rows)
    columns = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / f"{stem}.csv", table.getvalue())

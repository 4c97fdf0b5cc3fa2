"""Snapshot files: a finished run saved on one machine (a remote GPU box) and opened on another.

A snapshot is a zip holding ``snapshot.json`` (format name, version, environment, the run record,
the source text of the user's files) and, when tensors were kept, ``tensors.safetensors``.
Neither can run code when opened: JSON is data, safetensors is a header plus raw bytes. No
pickle is written or read anywhere; a file holding a pickle member is refused before anything
in it is parsed.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Optional

from . import record_codec
from .environment import environment_block
from .events import StepFigures
from .record import RunRecord
from .steps import StepHistory

FORMAT = "torchlens-gui snapshot"
VERSION = 1
MANIFEST = "snapshot.json"
TENSORS = "tensors.safetensors"
SUMMARIES = "summaries.safetensors"  # the numbers of the record's summary table
SUFFIX = ".tlsnap"
# Source files larger than this are left out of a snapshot (a generated file, not a model).
MAX_SOURCE_BYTES = 2 * 2**20
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin", ".npy", ".joblib")
_ZIP_MAGIC = b"PK\x03\x04"


class SnapshotError(Exception):
    """A file that cannot be opened as a snapshot; the message says why, for a person."""


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot says about itself; set as ``record.snapshot`` on a record read back."""

    path: str
    version: int
    saved_at: str
    environment: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    tensors_skipped: int = 0

    @property
    def recorded_on(self) -> str:
        """"gpu-box-3 (NVIDIA H100, cuda 12.4)" style: where the run happened."""
        env = self.environment
        host = env.get("host") or "an unknown machine"
        devices = ", ".join(env.get("devices") or ()) or "CPU"
        return f"{host} ({devices})"


def _plain_steps(record: RunRecord) -> Optional[dict]:
    """Every training step's figures (record.steps), the module lists written once."""
    from dataclasses import asdict

    steps = record.steps
    if not len(steps):
        return None
    module_lists: list[tuple[str, ...]] = []
    index: dict[tuple[str, ...], int] = {}
    figures = []
    for step in range(1, len(steps) + 1):
        modules = steps.modules(step)
        if modules not in index:
            index[modules] = len(module_lists)
            module_lists.append(modules)
        figures.append([asdict(steps.figures(step)), index[modules]])
    return {"modules": [list(m) for m in module_lists], "figures": figures}


def _steps_from_plain(plain: dict) -> StepHistory:
    history = StepHistory()
    module_lists = [tuple(m) for m in plain["modules"]]
    for values, modules in plain["figures"]:
        values = dict(values)
        for name in ("lr", "module_grad_norms", "module_update_ratios"):
            values[name] = tuple(values.get(name) or ())
        history.add(StepFigures(**values), module_lists[modules], None)
    return history


def _sources(record: RunRecord) -> dict[str, str]:
    files = [record.file] + [d.file for d in record.diagnostics]
    if record.snapshot is not None:  # re-saving an opened snapshot keeps its text
        return dict(record.snapshot.sources)
    out = {}
    for path in files:
        if not path or path in out or not os.path.isfile(path):
            continue
        try:
            if os.path.getsize(path) <= MAX_SOURCE_BYTES:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    out[path] = fh.read()
        except OSError:
            continue
    return out


def save_snapshot(record: RunRecord, path: str, *, tensors: bool = True,
                  command: Optional[list[str]] = None, tensors_skipped: int = 0) -> int:
    """Write ``record`` to ``path`` (replaced atomically) and return the file's size in bytes.

    ``tensors`` includes the tensors the session kept (``record.tensors``). Raises OSError when
    the file cannot be written.
    """
    env = record.snapshot.environment if record.snapshot is not None \
        else environment_block(command)
    plain, arrays = record_codec.record_to_plain(record)
    manifest = {
        "format": FORMAT, "version": VERSION, "saved_at": env.get("time", ""),
        "environment": env, "sources": _sources(record),
        "tensors_skipped": tensors_skipped, "record": plain, "steps": _plain_steps(record),
    }
    payload = json.dumps(manifest, separators=(",", ":")).encode("utf-8")
    tensor_bytes = _tensor_payload(record) if tensors and record.tensors else None
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.part")
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, payload)
            archive.writestr(SUMMARIES, _array_payload(arrays))
            if tensor_bytes is not None:
                archive.writestr(TENSORS, tensor_bytes)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return os.path.getsize(path)


def _array_payload(arrays: dict) -> bytes:
    from safetensors.numpy import save

    return save(arrays, metadata={"format": FORMAT})


def _read_arrays(data: bytes, name: str) -> dict:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        return load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise SnapshotError(f"{name}: the recorded figures are damaged ({exc}).") from None


def _tensor_payload(record: RunRecord) -> bytes:
    from safetensors.torch import save

    named = {}
    for (path, call_index, role, name), tensor in record.tensors.items():
        if tensor.is_complex():  # safetensors has no complex dtype
            continue
        named[json.dumps([path, call_index, role, name])] = tensor
    return save(named, metadata={"format": FORMAT})


# ---- reading ------------------------------------------------------------------------------


def looks_like_snapshot(path: str) -> bool:
    """Whether opening ``path`` means reading a snapshot rather than running a model file:
    decided by content (a zip; no Python file starts like one), or by the .tlsnap name. A
    damaged snapshot counts too, so that opening it says what is wrong with it."""
    if path.endswith(SUFFIX):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == _ZIP_MAGIC
    except OSError:
        return False


def load_snapshot(path: str) -> RunRecord:
    """Read a snapshot into a RunRecord equal to the one saved, with ``record.snapshot`` set.

    Raises SnapshotError with a readable reason for anything else: a file that is not a
    snapshot, a truncated or damaged one, one from a newer version, one holding a pickle.
    Nothing in the file is executed.
    """
    name = os.path.basename(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise SnapshotError(f"Cannot read {name}: {exc.strerror or exc}") from None
    if head != _ZIP_MAGIC:
        raise SnapshotError(f"{name} is not a torchlens-gui snapshot (it is not a zip file). "
                            "Snapshots are written by `check --save` or File > Save snapshot.")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_archive(archive, path)
    except zipfile.BadZipFile as exc:
        raise SnapshotError(f"{name} is truncated or damaged ({exc}); save or copy it again.") \
            from None
    except (EOFError, OSError, zlib.error) as exc:
        raise SnapshotError(f"{name} is truncated or damaged ({type(exc).__name__}: {exc}); "
                            "save or copy it again.") from None


def _read_archive(archive: zipfile.ZipFile, path: str) -> RunRecord:
    name = os.path.basename(path)
    members = archive.namelist()
    for member in members:  # refused before anything is parsed
        if member.lower().endswith(_PICKLE_SUFFIXES) or _is_pickle(archive, member):
            raise SnapshotError(
                f"{name} holds a pickle member ({member}) and was not opened: a pickle can run "
                "code when it is loaded. torchlens-gui snapshots never contain one.")
    if MANIFEST not in members:
        raise SnapshotError(f"{name} is a zip file but not a torchlens-gui snapshot "
                            f"(it has no {MANIFEST}).")
    try:
        with record_codec.no_collection():
            manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{name}: {MANIFEST} is damaged ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError(f"{name} is not a torchlens-gui snapshot (unknown format).")
    version = manifest.get("version")
    if not isinstance(version, int) or version < 1:
        raise SnapshotError(f"{name} has no valid version field.")
    if version > VERSION:
        raise SnapshotError(
            f"{name} was written by a newer torchlens-gui (snapshot version {version}; this "
            f"one reads up to {VERSION}). Update torchlens-gui to open it.")
    if SUMMARIES not in members:
        raise SnapshotError(f"{name} is incomplete (it has no {SUMMARIES}).")
    arrays = _read_arrays(archive.read(SUMMARIES), name)
    try:
        record = record_codec.record_from_plain(manifest["record"], arrays)
    except (record_codec.RecordFormatError, KeyError) as exc:
        raise SnapshotError(f"{name}: {exc}") from None
    if TENSORS in members:
        record.tensors = _read_tensors(archive.read(TENSORS), name)
    if manifest.get("steps"):
        try:
            record.steps = _steps_from_plain(manifest["steps"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise SnapshotError(f"{name}: the training steps are damaged ({exc}).") from None
    sources = manifest.get("sources") or {}
    record.snapshot = SnapshotInfo(
        path=os.path.abspath(path), version=version, saved_at=str(manifest.get("saved_at", "")),
        environment=dict(manifest.get("environment") or {}),
        sources={str(k): str(v) for k, v in sources.items()},
        tensors_skipped=int(manifest.get("tensors_skipped") or 0))
    return record


def _is_pickle(archive: zipfile.ZipFile, member: str) -> bool:
    """A pickle of protocol 2+ starts with the PROTO opcode (0x80) and its protocol number."""
    with archive.open(member) as fh:
        head = fh.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _read_tensors(data: bytes, name: str) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        named = load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise SnapshotError(f"{name}: the kept tensors are damaged ({exc}).") from None
    out = {}
    for key, tensor in named.items():
        try:
            path, call_index, role, label = json.loads(key)
            out[(str(path), int(call_index), str(role), str(label))] = tensor
        except (ValueError, TypeError):
            continue  # a key we did not write: not ours to show
    return out

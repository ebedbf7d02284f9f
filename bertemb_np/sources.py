"""Where a model's files come from: a local folder, or a Hugging Face Hub repo id.

A hub id goes through `huggingface_hub.hf_hub_download`, so the HF cache (HF_HOME,
HF_HUB_CACHE), `revision=`, HF_ENDPOINT and HF_HUB_OFFLINE all work as they do in
transformers. huggingface_hub is imported only when a hub id is resolved.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["exists", "is_local", "resolve_file"]


def looks_like_path(model: str) -> bool:
    """A name that can only be a path: absolute, ./ or ../ or ~, or more than one '/'.

    Hub ids are "name" or "owner/name"; a folder that exists is always taken as a folder.
    """
    return (os.path.isabs(model) or model.startswith((".", "~")) or model.count("/") > 1
            or os.sep != "/" and os.sep in model)


def is_local(model: str | os.PathLike, revision: str | None = None) -> bool:
    """True for a local folder, False for a hub repo id; raises for a path that does not exist."""
    name = os.fspath(model)
    if os.path.isdir(name):
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to hub repo ids, but {name!r} is a local folder")
        return True
    if isinstance(model, os.PathLike) or looks_like_path(name):
        raise FileNotFoundError(f"model folder {name} does not exist")
    return False


def resolve_file(model: str | os.PathLike, filename: str, *, revision: str | None = None,
                 required: bool = True) -> Path | None:
    """The local path of `filename` of `model`, downloading it from the Hub if needed.

    Raises FileNotFoundError naming the folder or repo and the file when it is missing,
    unless `required` is False: then a missing file gives None.
    """
    if not is_local(model, revision):
        return download(os.fspath(model), filename, revision=revision, required=required)
    path = Path(model) / filename
    if path.is_file():
        return path
    if required:
        raise FileNotFoundError(f"model folder {os.fspath(model)} has no {filename}")
    return None


def exists(model: str | os.PathLike, filename: str, *, revision: str | None = None) -> bool:
    """Whether `model` has `filename`, without downloading it (a HEAD request for a hub id;
    False when HF_HUB_OFFLINE is set, as nothing can be asked)."""
    if is_local(model, revision):
        return (Path(model) / filename).is_file()
    import huggingface_hub

    if huggingface_hub.constants.HF_HUB_OFFLINE:
        return False
    return huggingface_hub.HfApi().file_exists(os.fspath(model), filename, revision=revision)


def download(repo_id: str, filename: str, *, revision: str | None, required: bool) -> Path | None:
    """hf_hub_download, with errors that name the repo, the revision and the file."""
    import huggingface_hub
    from huggingface_hub.errors import (EntryNotFoundError, HFValidationError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    where = f"hub repo {repo_id!r}" + (f" at revision {revision!r}" if revision else "")
    try:
        return Path(huggingface_hub.hf_hub_download(repo_id, filename, revision=revision))
    except LocalEntryNotFoundError as e:  # not cached, and the Hub not asked (offline) or not reachable
        if not required:
            return None
        why = ("HF_HUB_OFFLINE is set" if huggingface_hub.constants.HF_HUB_OFFLINE
               else "the Hub could not be reached")
        raise FileNotFoundError(f"{filename} of {where} is not in the local cache, and {why}") from e
    except EntryNotFoundError as e:
        if not required:
            return None
        raise FileNotFoundError(f"{filename} not found in {where}: {first_line(e)}") from e
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise FileNotFoundError(f"{where} not found (looking for {filename}): {first_line(e)}") from e
    except HFValidationError as e:
        raise ValueError(f"{repo_id!r} is neither an existing local folder nor a valid hub repo id: "
                         f"{first_line(e)}") from e


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

"""Where a model's files come from: a local folder, or a Hugging Face Hub repo id.

A hub id goes through `huggingface_hub.hf_hub_download`, so the HF cache (HF_HOME,
HF_HUB_CACHE), `revision=`, HF_ENDPOINT and HF_HUB_OFFLINE all work as they do in
transformers. Requests carry `token=` as huggingface_hub takes it, and a user agent naming
bertemb_np and its version. huggingface_hub is imported only when a hub id is resolved.
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
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError("model must be a local folder or a hub repo id (a str or a path), "
                        f"got {model!r}")
    name = os.fspath(model)
    if os.path.isdir(name):
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to hub repo ids, "
                             f"but {name!r} is a local folder")
        return True
    if isinstance(model, os.PathLike) or looks_like_path(name):
        raise FileNotFoundError(f"model folder {name} does not exist")
    return False


def resolve_file(model: str | os.PathLike, filename: str, *, revision: str | None = None,
                 required: bool = True, token: str | bool | None = None) -> Path | None:
    """The local path of `filename` of `model`, downloading it from the Hub if needed.

    Raises FileNotFoundError naming the folder or repo and the file when it is missing,
    unless `required` is False: then a missing file gives None. `token` is huggingface_hub's:
    a token, False for none, None for the saved one (HF_TOKEN, `hf auth login`).
    """
    if not is_local(model, revision):
        return download(os.fspath(model), filename, revision=revision, required=required,
                        token=token)
    path = Path(model) / filename
    if path.is_file():
        return path
    if required:
        raise FileNotFoundError(f"model folder {os.fspath(model)} has no {filename}")
    return None


def exists(model: str | os.PathLike, filename: str, *, revision: str | None = None,
           token: str | bool | None = None) -> bool:
    """Whether `model` has `filename`, without downloading it (a HEAD request for a hub id;
    False when HF_HUB_OFFLINE is set, as nothing can be asked)."""
    if is_local(model, revision):
        return (Path(model) / filename).is_file()
    from huggingface_hub import constants
    from huggingface_hub.errors import (GatedRepoError, RemoteEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    if constants.HF_HUB_OFFLINE:
        return False
    try:  # as HfApi().file_exists does, which cannot name us in its user agent
        file_metadata(os.fspath(model), filename, revision, token)
    except GatedRepoError:  # there, but not for this token: say so rather than "no such file"
        raise
    except (RepositoryNotFoundError, RemoteEntryNotFoundError, RevisionNotFoundError):
        return False
    return True


def download(repo_id: str, filename: str, *, revision: str | None, required: bool,
             token: str | bool | None = None) -> Path | None:
    """hf_hub_download, with errors that name the repo, the revision and the file, and, when the
    repo is not found or the Hub not reached, say that no local folder of that name exists."""
    import huggingface_hub
    from huggingface_hub.errors import (EntryNotFoundError, HFValidationError,
                                        LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    where = f"hub repo {repo_id!r}" + (f" at revision {revision!r}" if revision else "")
    no_folder = f"; and no local folder {repo_id} exists (in {os.getcwd()})"
    # A name whose first part is a local folder ("models/bert_mlm" beside "models/") was most
    # likely meant as a path: if the Hub does not answer at once, look in the cache only, rather
    # than let hf_hub_download retry for some 20 s before giving up.
    cache_only = (os.path.isdir(repo_id.split("/")[0])
                  and not hub_answers(repo_id, filename, revision, token))
    try:
        return Path(huggingface_hub.hf_hub_download(
            repo_id, filename, revision=revision, token=token, local_files_only=cache_only,
            **user_agent()))
    except LocalEntryNotFoundError as e:  # not cached; the Hub not asked (offline) or not reached
        if not required:
            return None
        why = ("HF_HUB_OFFLINE is set" if huggingface_hub.constants.HF_HUB_OFFLINE
               else "the Hub could not be reached")
        raise FileNotFoundError(
            f"{filename} of {where} is not in the local cache, and {why}{no_folder}") from e
    except EntryNotFoundError as e:
        if not required:
            return None
        raise FileNotFoundError(f"{filename} not found in {where}: {first_line(e)}") from e
    except RepositoryNotFoundError as e:
        raise FileNotFoundError(
            f"{where} not found (looking for {filename}): {first_line(e)}{no_folder}") from e
    except RevisionNotFoundError as e:
        raise FileNotFoundError(
            f"{where} not found (looking for {filename}): {first_line(e)}") from e
    except HFValidationError as e:
        raise ValueError(f"{repo_id!r} is neither an existing local folder nor a valid hub repo "
                         f"id: {first_line(e)}") from e


def hub_answers(repo_id: str, filename: str, revision: str | None,
                token: str | bool | None) -> bool:
    """Whether one request for the file's metadata, not retried, gets an answer from the Hub
    other than a server error."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    httpx = http_library()
    try:
        file_metadata(repo_id, filename, revision, token)
    except (httpx.TransportError, OfflineModeIsEnabled):
        return False
    except HfHubHTTPError as e:  # 4xx is an answer, that hf_hub_download will explain; 5xx: down
        return e.response.status_code < 500
    return True


def http_library():
    """The HTTP library huggingface_hub uses, whose errors its calls raise: httpx up to 1.x,
    httpx2 from 2.0 on (which it exports as huggingface_hub.utils.httpx; 1.x has no such name)."""
    try:
        from huggingface_hub.utils import httpx
    except ImportError:  # huggingface_hub 1.x
        import httpx
    return httpx


def file_metadata(repo_id: str, filename: str, revision: str | None, token: str | bool | None):
    """huggingface_hub's HEAD request for a file (no retries): its size, ETag, commit, location."""
    import huggingface_hub

    url = huggingface_hub.hf_hub_url(repo_id, filename, revision=revision)
    return huggingface_hub.get_hf_file_metadata(url, token=token, **user_agent())


def user_agent() -> dict[str, str]:
    """How requests name us to the Hub, as huggingface_hub's calls take it: the user agent
    starts "bertemb_np/<version>; hf_hub/<version>; ..."."""
    from .version import __version__

    return {"library_name": "bertemb_np", "library_version": __version__}


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

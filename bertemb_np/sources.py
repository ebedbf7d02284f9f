"""Where a model's files come from: a local folder, or a Hugging Face Hub repo id.

A hub id goes through `huggingface_hub.hf_hub_download`, so the HF cache (HF_HOME,
HF_HUB_CACHE, or `cache_dir=`), `revision=`, `local_files_only=`, HF_ENDPOINT and HF_HUB_OFFLINE
all work as they do in transformers. Requests carry `token=` as huggingface_hub takes it, and a
user agent naming bertemb_np and its version. huggingface_hub is imported only when a hub id is
resolved.

Without a network, a hub id fails at once: before hf_hub_download, one request for the file's
metadata, not retried, asks whether the Hub can be reached at all (once per process, while it
answers). A name that does not resolve or a refused connection is not retried (hf_hub_download
would retry for some 20 s): the cached file is used if there is one, as hf_hub_download would
use it, else HubUnreachable says so and names the ways forward. Retries stay for what they can
help: a transfer that stalls or breaks off (hub.py), and a Hub that answers 5xx.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal, TypedDict, overload

if TYPE_CHECKING:  # huggingface_hub is imported only when a hub id is resolved
    from huggingface_hub import HfFileMetadata

__all__ = ["HubArgs", "HubUnreachable", "exists", "local_folder", "resolve_file"]

ANSWERED: set[str] = set()  # the endpoints that answered in this process: no more probes there
WAYS_FORWARD = (". Without the network, set HF_HUB_OFFLINE=1 to load models already in the HF "
                "cache without asking the Hub, or pass a local model folder")


class HubUnreachable(ConnectionError):
    """The Hub could not be reached (a name that does not resolve, a connection refused or
    never made) for a file that is not in the local cache."""


def looks_like_path(model: str) -> bool:
    """A name that can only be a path: absolute, ./ or ../ or ~, or more than one '/'.

    Hub ids are "name" or "owner/name"; a folder that exists is always taken as a folder.
    """
    return (os.path.isabs(model) or model.startswith((".", "~")) or model.count("/") > 1
            or os.sep != "/" and os.sep in model)


def local_folder(model: str | os.PathLike[str]) -> Path | None:
    """The local folder `model` names, `~` expanded; for a file (model.safetensors, say), the
    folder it is in. None for a hub repo id; FileNotFoundError for a path that does not exist."""
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError("model must be a local folder or a hub repo id (a str or a path), "
                        f"got {model!r}")
    name = os.fspath(model)
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.is_file():
        return path.parent
    if isinstance(model, os.PathLike) or looks_like_path(name):
        raise FileNotFoundError(f"model folder {name} does not exist")
    return None


class HubArgs(TypedDict):
    """How to ask the Hub, as huggingface_hub takes it: resolve_file's last three arguments."""

    token: str | bool | None
    local_files_only: bool
    cache_dir: str | os.PathLike[str] | None


@overload
def resolve_file(model: str | os.PathLike[str], filename: str, *, revision: str | None = None,
                 required: Literal[True] = True, token: str | bool | None = None,
                 local_files_only: bool = False, cache_dir: str | os.PathLike[str] | None = None
                 ) -> Path: ...
@overload
def resolve_file(model: str | os.PathLike[str], filename: str, *, revision: str | None = None,
                 required: bool, token: str | bool | None = None,
                 local_files_only: bool = False, cache_dir: str | os.PathLike[str] | None = None
                 ) -> Path | None: ...
def resolve_file(model: str | os.PathLike[str], filename: str, *, revision: str | None = None,
                 required: bool = True, token: str | bool | None = None,
                 local_files_only: bool = False, cache_dir: str | os.PathLike[str] | None = None
                 ) -> Path | None:
    """The local path of `filename` of `model`, downloading it from the Hub if needed.

    Raises FileNotFoundError naming the folder or repo and the file when it is missing,
    unless `required` is False: then a missing file gives None. `token` is huggingface_hub's:
    a token, False for none, None for the saved one (HF_TOKEN, `hf auth login`).
    local_files_only: never ask the Hub, use its cache only (as HF_HUB_OFFLINE=1 does);
    cache_dir: the HF cache to use instead of HF_HUB_CACHE. `revision` applies to hub ids only:
    for a local folder it is ignored, as transformers 5.24 ignores it (utils/hub.py,
    cached_files).
    """
    folder = local_folder(model)
    if folder is None:
        return download(os.fspath(model), filename, revision=revision, required=required,
                        token=token, local_files_only=local_files_only, cache_dir=cache_dir)
    path = folder / filename
    if path.is_file():
        return path
    if required:
        raise FileNotFoundError(f"model folder {folder} has no {filename}")
    return None


def exists(model: str | os.PathLike[str], filename: str, *, revision: str | None = None,
           token: str | bool | None = None) -> bool:
    """Whether `model` has `filename`, without downloading it (a HEAD request for a hub id;
    False when HF_HUB_OFFLINE is set, as nothing can be asked)."""
    folder = local_folder(model)
    if folder is not None:
        return (folder / filename).is_file()
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if constants.HF_HUB_OFFLINE:
        return False
    try:  # as HfApi().file_exists does, which cannot name us in its user agent
        file_metadata(os.fspath(model), filename, revision, token)
    except GatedRepoError:  # there, but not for this token: say so rather than "no such file"
        raise
    except (RepositoryNotFoundError, RemoteEntryNotFoundError, RevisionNotFoundError):
        return False
    except Exception as e:
        if cannot_connect(e):
            raise HubUnreachable(f"asking whether hub repo {os.fspath(model)!r} has {filename}: "
                                 f"{not_reached(e)}{WAYS_FORWARD}") from e
        raise
    return True


def download(repo_id: str, filename: str, *, revision: str | None, required: bool,
             token: str | bool | None = None, local_files_only: bool = False,
             cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """hf_hub_download, with errors that name the repo, the revision and the file, and, when the
    repo is not found or the Hub not reached, say that no local folder of that name exists.
    The Hub is asked once, not retried, whether it can be reached (see the module's note)."""
    import huggingface_hub
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    cache = None if cache_dir is None else os.fspath(cache_dir)  # huggingface_hub's: str or Path
    where = f"hub repo {repo_id!r}" + (f" at revision {revision!r}" if revision else "")
    no_folder = f"; and no local folder {repo_id} exists (in {os.getcwd()})"
    offline = offline_reason(local_files_only)
    problem = None if offline else hub_problem(repo_id, filename, revision, token)
    try:
        return Path(huggingface_hub.hf_hub_download(
            repo_id, filename, revision=revision, token=token, cache_dir=cache,
            local_files_only=bool(offline or problem), **user_agent()))
    except LocalEntryNotFoundError as e:  # not cached; the Hub not asked or not reached
        cached = huggingface_hub.try_to_load_from_cache(repo_id, filename, cache_dir=cache,
                                                        revision=revision)
        known_missing = cached is not None and not isinstance(cached, str)  # .no_exist
        if not required and (offline or known_missing):
            return None
        if offline:
            raise FileNotFoundError(
                f"{filename} of {where} is not in the local cache, and {offline}{no_folder}") from e
        raise HubUnreachable(f"{filename} of {where} is not in the local cache, and "
                             f"{problem or not_reached(e.__cause__ or e)}{no_folder}"
                             f"{WAYS_FORWARD}") from e
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


def offline_reason(local_files_only: bool) -> str | None:
    """Why the Hub is not to be asked ("HF_HUB_OFFLINE is set", "local_files_only=True"), or
    None when it may be."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    return "local_files_only=True" if local_files_only else None


def hub_problem(repo_id: str, filename: str, revision: str | None,
                token: str | bool | None) -> str | None:
    """None if hf_hub_download should go on: the Hub answered (now or before in this process),
    or it answered with an error hf_hub_download explains or retries. Otherwise what went wrong,
    for the error message: the Hub could not be reached, or, for a name whose first part is a
    local folder ("models/bert_mlm" beside "models/", most likely meant as a path), it is down."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError

    if constants.ENDPOINT in ANSWERED:
        return None
    try:
        file_metadata(repo_id, filename, revision, token)
    except HfHubHTTPError as e:  # 4xx is an answer, that hf_hub_download will explain
        status = e.response.status_code
        if status >= 500 and os.path.isdir(repo_id.split("/")[0]):
            return f"the Hub ({constants.ENDPOINT}) answered HTTP {status}"
        if status >= 500:
            return None  # down for a moment, maybe: hf_hub_download retries
    except Exception as e:
        if cannot_connect(e):
            return not_reached(e)
        return None  # a stall, say: hf_hub_download retries it, or raises what it is
    ANSWERED.add(constants.ENDPOINT)
    return None


def cannot_connect(error: Exception) -> bool:
    """Whether `error` means no connection could be made to the host: a name that does not
    resolve, a connection refused or never made, a proxy that failed, a scheme httpx cannot
    speak. Not retried; a transfer that stalls or breaks off once connected is."""
    httpx = http_library()
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError,
                              httpx.UnsupportedProtocol))


def http_library() -> ModuleType:
    """The HTTP library huggingface_hub uses, whose errors its calls raise: httpx up to 1.x,
    httpx2 from 2.0 on (which it exports as huggingface_hub.utils.httpx; 1.x has no such name)."""
    from huggingface_hub import utils

    exported = getattr(utils, "httpx", None)  # a module only one of the two versions has
    return exported if exported is not None else importlib.import_module("httpx")


def not_reached(error: BaseException) -> str:
    from huggingface_hub import constants

    return (f"the Hub ({constants.ENDPOINT}) could not be reached "
            f"({type(error).__name__}: {first_line(error)})")


def file_metadata(repo_id: str, filename: str, revision: str | None, token: str | bool | None
                  ) -> HfFileMetadata:
    """huggingface_hub's HEAD request for a file (no retries): its size, ETag, commit, location."""
    import huggingface_hub

    url = huggingface_hub.hf_hub_url(repo_id, filename, revision=revision)
    return huggingface_hub.get_hf_file_metadata(url, token=token, **user_agent())


class UserAgent(TypedDict):
    """The keyword arguments of huggingface_hub's calls that name the library in the user agent."""

    library_name: str
    library_version: str


def user_agent() -> UserAgent:
    """How requests name us to the Hub, as huggingface_hub's calls take it: the user agent
    starts "bertemb_np/<version>; hf_hub/<version>; ..."."""
    from .version import __version__

    return {"library_name": "bertemb_np", "library_version": __version__}


def first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

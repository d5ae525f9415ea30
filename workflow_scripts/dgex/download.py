"""Source downloads: a local mirror first, else HTTP(S) with Range resume, retries with back-off, sha256 check or record.

The bytes go to `<file>.part` (kept across failures, so the next attempt or run resumes it) and are renamed to the final
name only when complete and verified: no partial file ever carries the final name.
"""
from __future__ import annotations

import http.client
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .gctx import HDF5_MAGIC
from .progress import Progress as _Progress
from .provenance import sha256_file

log = logging.getLogger(__name__)
CHUNK = 1 << 20
USER_AGENT = "dgex-workflow/1.0 (+https://github.com/uci-cbcl/D-GEX)"
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
HTML_START = re.compile(rb"^\s*(<!doctype html|<html|<head|<body)", re.IGNORECASE)
GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 4096  # what a content check reads of a file's start


class DownloadError(RuntimeError):
    """A source could not be obtained: the message names the file, the URL and what to do."""


@dataclass
class Source:
    """One source file: where it comes from and its expected sha256 (None: record it)."""

    name: str
    url: str
    filename: str
    sha256: str | None = None


class Progress(_Progress):
    """Progress of a transfer, amounts in bytes (kB, MB, GB)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, fmt=_size, **kwargs)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000.0
    return f"{n:.1f} GB"


def _fsync_replace(tmp: Path, final: Path) -> None:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)


# a source file's name suffix -> what it must hold, and the test of its first bytes (anything else: the gene maps' text)
EXPECTED_CONTENT: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    ".gctx": ("a GCTX file (HDF5 signature)", lambda head: head.startswith(HDF5_MAGIC)),
    ".gct": ("a GCT text file (#1.2 or #1.3 header)", lambda head: head.startswith((b"#1.2", b"#1.3"))),
    ".gz": ("gzip data (magic bytes 1f 8b)", lambda head: head.startswith(GZIP_MAGIC)),
}
TEXT_CONTENT = ("tab-separated text", lambda head: b"\0" not in head and b"\t" in head.split(b"\n", 1)[0])


def content_problem(filename: str, head: bytes) -> str | None:
    """Why a source file whose first bytes are `head` is not what its name says (an HTML page, ...), or None if it is."""
    expected, test = EXPECTED_CONTENT.get(Path(filename).suffix.lower(), TEXT_CONTENT)
    html = bool(HTML_START.match(head))
    if test(head) and not html:
        return None
    snippet = head[:40].decode("utf-8", "replace").replace("\n", " ")
    return f"expected {expected}, found {'an HTML page' if html else 'something else'} starting with {snippet!r}"


def _verify(path: Path, source: Source, origin: str) -> str:
    """sha256 of `path`; if it differs from the configured one, delete `path` and raise."""
    digest = sha256_file(path)
    if source.sha256 and digest.lower() != source.sha256.lower():
        path.unlink()
        raise DownloadError(f"{source.filename}: sha256 mismatch for the file from {origin}: expected {source.sha256}, "
                            f"got {digest} (the file was removed; fix data.download.sources.{source.name}.sha256 "
                            f"or the source)")
    return digest


def from_mirror(source: Source, dest: Path, mirrors: Sequence[str | os.PathLike]) -> Path | None:
    """Copy the source's file from the first mirror folder holding it; None when no mirror has it."""
    for m in mirrors:
        candidate = Path(m) / source.filename
        if candidate.is_file():
            with open(candidate, "rb") as fh:
                problem = content_problem(source.filename, fh.read(HEAD_BYTES))
            if problem:
                raise DownloadError(f"{candidate}: this mirror file of data.download.sources.{source.name} is not its data: "
                                    f"{problem}; replace it with the real file (nothing was copied or recorded)")
            part = dest.with_name(dest.name + ".part")
            progress = Progress(f"{source.filename} (mirror)", candidate.stat().st_size, log=log)
            with open(candidate, "rb") as src, open(part, "wb") as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
                    progress.update(len(chunk))
            progress.close()
            return part
    return None


def _content_range_total(header: str | None) -> int | None:
    m = re.match(r"bytes\s+(?:\d+-\d+|\*)/(\d+)", header or "")
    return int(m.group(1)) if m else None


def _http_attempt(source: Source, part: Path, timeout: float) -> bool:
    """One request, appending to `part` from its current size; True when the file is complete."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(source.url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: complete if the server's size is ours, else start over
            total = _content_range_total(exc.headers.get("Content-Range"))
            if total == have:
                return True
            part.unlink()
            raise _Retry(f"server refused the resume range at byte {have}") from exc
        raise
    with resp:
        status = resp.status
        ctype = resp.headers.get("Content-Type", "")
        if status == 206:
            m = re.match(r"bytes\s+(\d+)-", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != have:
                part.unlink()
                raise _Retry(f"server answered the resume request with the wrong range {resp.headers.get('Content-Range')!r}")
            total = _content_range_total(resp.headers.get("Content-Range"))
            mode = "ab"
        else:  # 200: the whole file (a server without Range support starts over)
            have = 0
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        first = resp.read(HEAD_BYTES)
        problem = content_problem(source.filename, first) if mode == "wb" else None
        if "html" in ctype.lower() or problem:
            what = "an HTML page" if "html" in ctype.lower() or HTML_START.match(first) else "another file"
            snippet = first[:120].decode("utf-8", "replace").replace("\n", " ")
            raise DownloadError(f"{source.filename}: {source.url} served {what} instead of the data file (Content-Type "
                                f"{ctype!r}, starts with {snippet!r}{'; ' + problem if problem else ''}); check "
                                f"data.download.sources.{source.name}.url or use data.download.mirror")
        progress = Progress(source.filename, total, have, log=log)
        with open(part, mode) as out:
            out.write(first)
            progress.update(len(first))
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                progress.update(len(chunk))
        progress.close()
    size = part.stat().st_size
    if total is not None and size < total:
        raise _Retry(f"transfer ended at byte {size} of {total}")
    return True


class _Retry(Exception):
    """A transient failure: try again (resuming) after a back-off."""


def from_http(source: Source, dest: Path, retries: int = 5, backoff: float = 2.0, timeout: float = 60.0,
              sleep: Callable[[float], None] = time.sleep) -> Path:
    """Download the source's URL into `<dest>.part` (resuming what is there); return the complete part file."""
    part = dest.with_name(dest.name + ".part")
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            wait = min(backoff * 2 ** (attempt - 1), 300.0)
            log.warning("%s: attempt %d/%d failed (%s); retrying in %.1f s", source.filename, attempt, retries + 1, last, wait)
            sleep(wait)
        try:
            if _http_attempt(source, part, timeout):
                return part
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.reason}"
            if exc.code not in RETRYABLE_STATUS:
                raise DownloadError(f"{source.filename}: {source.url} answered {last}; check data.download.sources."
                                    f"{source.name}.url or put the file in the folder named by data.download.mirror") from exc
        except (_Retry, urllib.error.URLError, http.client.HTTPException, socket.timeout, ConnectionError, OSError) as exc:
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    raise DownloadError(f"{source.filename}: could not download {source.url} after {retries + 1} attempt(s) ({last}). "
                        f"Offline or behind a firewall? Put {source.filename} in a local folder and set "
                        f"data.download.mirror to it (the partial download {part.name}, if any, resumes next time)")


def fetch(source: Source, dest: str | os.PathLike, mirrors: str | os.PathLike | Sequence[str | os.PathLike] = (),
          retries: int = 5, backoff: float = 2.0, timeout: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Obtain one source file at `dest` (mirror, else URL), verified against or recorded with its sha256."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    mirrors = [mirrors] if isinstance(mirrors, (str, os.PathLike)) else mirrors
    origin = next((str(Path(m) / source.filename) for m in mirrors if (Path(m) / source.filename).is_file()), None)
    if origin is not None:
        part = from_mirror(source, dest, mirrors)
        log.info("%s: copied from the mirror %s", source.filename, origin)
    else:
        if mirrors:
            log.info("%s: not in the mirror folder(s) %s; downloading", source.filename, [str(m) for m in mirrors])
        origin = source.url
        part = from_http(source, dest, retries, backoff, timeout, sleep)
    digest = _verify(part, source, origin)
    size = part.stat().st_size
    _fsync_replace(part, dest)
    if not source.sha256:
        log.warning("%s: no sha256 configured; recorded %s (set data.download.sources.%s.sha256 to pin it)",
                    source.filename, digest, source.name)
    return {"name": source.name, "url": source.url, "origin": origin, "filename": source.filename, "bytes": size,
            "sha256": digest, "sha256_verified": bool(source.sha256)}

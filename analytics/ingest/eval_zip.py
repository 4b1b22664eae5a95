"""Inspect `.eval` files checked as zip archives before inspect-ai reads them.

inspect-ai trusts its input. A truncated download, a file that is not a zip, a member path with `..` or a
decompression bomb must be refused here with one line naming the file, before any reader inflates it, rather
than becoming a traceback or a full disk. Kept apart from the log reader (inspect_logs) because it is about the
container, not the log: it needs no inspect-ai and is tested with hand-made archives.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from analytics.ingest import ImportRefused

# Limits on what is handed to inspect-ai. Real logs are tens of MB; a member that inflates more than
# MAX_RATIO times (beyond RATIO_FLOOR bytes, below which ratios mean nothing) is a zip bomb, not a log.
MAX_FILE_BYTES = 2 * 1024**3
MAX_UNCOMPRESSED_BYTES = 4 * 1024**3
MAX_RATIO = 100
RATIO_FLOOR = 1024**2


def check_eval_zip(path: Path) -> None:
    """Refuse a `.eval` that is not a sound zip of an Inspect log, before any reader inflates it."""
    name = path.name
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImportRefused(f"{name}: {size:,} bytes is larger than the {MAX_FILE_BYTES:,}-byte limit")
    if not zipfile.is_zipfile(path):
        raise ImportRefused(
            f"{name}: not a zip archive, so not an .eval log (truncated or another file type)"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ImportRefused(f"{name}: damaged zip archive ({e})") from None
    if not infos:
        raise ImportRefused(f"{name}: empty zip archive, not an .eval log")
    total = 0
    names = set()
    for info in infos:
        member = info.filename
        parts = member.replace("\\", "/").split("/")
        if member.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", member):
            raise ImportRefused(f"{name}: unsafe path {member!r} inside the archive")
        if info.header_offset + info.compress_size > size:
            raise ImportRefused(
                f"{name}: truncated archive (member {member!r} runs past the end of the file)"
            )
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ImportRefused(
                f"{name}: member {member!r} would inflate {info.file_size / max(info.compress_size, 1):,.0f}"
                f" times (limit {MAX_RATIO}); refusing a likely zip bomb"
            )
        total += info.file_size
        names.add(member)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ImportRefused(f"{name}: would inflate to {total:,} bytes (limit {MAX_UNCOMPRESSED_BYTES:,})")
    if "header.json" not in names and "_journal/start.json" not in names:
        raise ImportRefused(
            f"{name}: wrong structure for an Inspect log (no header.json or _journal/start.json)"
        )

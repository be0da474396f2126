"""A corpus's text kept on disk, not in this process's memory: written batch by batch into an Arrow
file under TMPDIR (CorpusFile), opened memory-mapped as a datasets.Dataset and unlinked at once (the
mapping keeps it readable; the disk space is freed with the dataset). release_pages drops the pages
read so far from the process's resident set after each chunk; they stay in the page cache."""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

MADV_DONTNEED = 4  # Linux: the pages of a file mapping are read again from the file on the next access
SCAN_ROWS = 100_000  # corpus rows scanned at a time by documents_by_id


def documents_by_id(corpus: Any, wanted: set[str]) -> dict[str, str]:
    """The texts of the wanted corpus ids ("title text", as mteb joins them), the corpus scanned in
    batches of ids so that a large one is never held as Python strings."""
    found: dict[str, str] = {}
    if not wanted:
        return found
    has_title = "title" in corpus.column_names
    ids = corpus.select_columns(["id"])
    for start in range(0, len(corpus), SCAN_ROWS):
        for offset, doc in enumerate(ids[start:start + SCAN_ROWS]["id"]):
            if str(doc) in wanted:
                row = corpus[start + offset]
                title = (row.get("title") or "").strip() if has_title else ""
                found[str(doc)] = f"{title} {row['text']}".strip() if title else row["text"]
        if len(found) == len(wanted):
            break
    return found


class CorpusFile:
    """An Arrow stream file being written; finish() gives the Dataset over it."""

    def __init__(self, schema: Any) -> None:
        import pyarrow as pa

        handle, name = tempfile.mkstemp(prefix="bge_eval-corpus-", suffix=".arrow")
        os.close(handle)
        self.path = Path(name)
        self._writer = pa.ipc.new_stream(str(self.path), schema)

    def write(self, table: Any) -> None:
        self._writer.write_table(table)

    def finish(self) -> Any:
        from datasets import Dataset

        try:
            self._writer.close()
            return Dataset.from_file(str(self.path), in_memory=False)
        finally:
            self.path.unlink(missing_ok=True)

    def discard(self) -> None:
        try:
            self._writer.close()
        finally:
            self.path.unlink(missing_ok=True)


def release_pages(dataset: Any) -> bool:
    """Drop a memory-mapped dataset's pages from this process's resident set (Linux); True when done.
    Only a range that lies wholly in read-only mappings of one file is released: never anonymous memory."""
    from datasets.table import MemoryMappedTable

    table = getattr(dataset, "data", None)
    if not sys.platform.startswith("linux") or not isinstance(table, MemoryMappedTable):
        return False
    addresses = [(buffer.address, buffer.address + buffer.size) for column in table.table.columns
                 for chunk in column.chunks for buffer in chunk.buffers() if buffer is not None and buffer.size]
    if not addresses:
        return False
    page = os.sysconf("SC_PAGE_SIZE")
    start = min(a for a, _ in addresses) // page * page
    stop = -(-max(b for _, b in addresses) // page) * page
    if not _one_read_only_file_mapping(start, stop):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(stop - start), MADV_DONTNEED) == 0


def _one_read_only_file_mapping(start: int, stop: int) -> bool:
    """Whether [start, stop) is covered, without a gap, by read-only mappings of one and the same file."""
    inode = None
    covered = start
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        fields = line.split(maxsplit=5)
        low, high = (int(x, 16) for x in fields[0].split("-"))
        if high <= covered or low >= stop:
            continue
        if low > covered or len(fields) < 6 or fields[4] == "0" or "w" in fields[1]:
            return False
        if inode not in (None, (fields[3], fields[4])):
            return False
        inode, covered = (fields[3], fields[4]), high
        if covered >= stop:
            return True
    return False

"""What every stage shares: one atomic write, the output folder's lock, and one pool of
worker processes (the tokenizer processes and the multi-device engine both run on it)."""

from __future__ import annotations

import errno
import fcntl
import json
import multiprocessing as mp
import os
import queue
import shutil
import socket
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import BgeEvalError

LOCK_NAME = ".bge_eval.lock"
POLL_S = 1.0  # how often a waiting side checks that the other is still alive


TEMP_SUFFIX = ".tmp"  # a file being written by atomic_write_bytes; never read, removed when stale


def atomic_write_bytes(path: Path, data: bytes | Sequence[bytes | memoryview]) -> None:
    """Write `data` (bytes, or parts written in turn) to a temporary file in the same folder,
    fsync it, then rename it over `path`: a reader sees the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for part in [data] if isinstance(data, bytes) else data:
                handle.write(part)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False))


def folder_problem(folder: Path) -> str | None:
    """Why `folder` cannot be made or written to as a folder ("F is a file"), or None."""
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                return f"{path} is a file" if path == folder else f"{path}, a folder above it, is a file"
            return None if os.access(path, os.W_OK | os.X_OK) else f"{path} is not writable"
    return None


@contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold an exclusive lock on an output folder (released by the OS if the process dies).
    Folders it had to create are removed again if the run leaves nothing in them."""
    output = Path(output)
    created = [p for p in (output, *output.parents) if not p.exists()]
    lock_existed = (output / LOCK_NAME).exists()
    try:
        output.mkdir(parents=True, exist_ok=True)
        handle = (output / LOCK_NAME).open("a+")
    except OSError as exc:
        raise BgeEvalError(f"--output {output}: {folder_problem(output) or exc.strerror}; choose a folder you can "
                           "write to.") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise BgeEvalError(f"{output}: another bge_eval run (pid {holder}) is writing to this folder; "
                               "wait for it or use another --output.") from exc
        raise
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        try:
            _remove_if_empty(output, created, lock_existed)  # still locked: nobody else is writing here
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def _remove_if_empty(output: Path, created: list[Path], lock_existed: bool) -> None:
    """When `output` holds no file but the lock, a failed run leaves nothing behind: a folder this
    run made goes (with the folders above it made for it); a folder the user made keeps all it
    held (links and empty folders included) and loses only a lock file this run added."""
    if not output.is_dir() or output.is_symlink():
        return
    if any(p.is_file() and not p.is_symlink() and p != output / LOCK_NAME for p in output.rglob("*")):
        return
    if not created:
        if not lock_existed:
            (output / LOCK_NAME).unlink(missing_ok=True)
        return
    shutil.rmtree(output, ignore_errors=True)
    for folder in created[1:]:  # created[0] is output itself
        try:
            folder.rmdir()
        except OSError:
            break


# --- worker processes ---------------------------------------------------------------
# A worker sends ("ready", index, facts) once, then ("done", job_id, result) per job, or
# ("error", index, traceback) and stops. A None in its inbox, or its parent gone, stops it.

Serve = Callable[[Iterator[tuple[int, Any]]], Iterator[tuple[int, Any]]]


def _jobs(inbox: mp.Queue) -> Iterator[tuple[int, Any]]:
    """(job_id, job) from the inbox until a None arrives or the parent process is gone (a
    killed run must not leave workers holding a device or cores)."""
    parent = mp.parent_process()
    while True:
        try:
            job = inbox.get(timeout=POLL_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return
            continue
        if job is None:
            return
        yield job


def _worker_main(index: int, setup: Callable[..., tuple[Any, Serve]], args: tuple, inbox: mp.Queue,
                 outbox: mp.Queue) -> None:
    try:
        facts, serve = setup(*args)
        outbox.put(("ready", index, facts))
        for job_id, result in serve(_jobs(inbox)):
            outbox.put(("done", job_id, result))
    except BaseException:
        outbox.put(("error", index, traceback.format_exc(limit=6)))


class WorkerPool:
    """Spawned worker processes, each with its own inbox and one shared outbox.

    setup: a module-level function (it is pickled by name) called in each worker with that
    worker's args; it returns (facts sent back as the ready message, serve), where serve maps
    the stream of (job_id, job) to a stream of (job_id, result).
    what: how errors name a worker ("tokenizer process", "encoder worker on cuda:1").
    hint: what the user can do when a worker fails."""

    def __init__(self, setup: Callable[..., tuple[Any, Serve]], args_per_worker: list[tuple],
                 names: list[str], hint: str) -> None:
        context = mp.get_context("spawn")  # never fork a process that may hold CUDA
        self.names, self.hint = names, hint
        self._outbox = context.Queue()
        self._inboxes = [context.Queue() for _ in args_per_worker]
        self._processes = [
            context.Process(target=_worker_main, name=f"bge_eval-{name}", daemon=True,
                            args=(index, setup, args, inbox, self._outbox))
            for index, (name, args, inbox) in enumerate(zip(names, args_per_worker, self._inboxes, strict=True))
        ]
        for process in self._processes:
            process.start()
        ready: dict[int, Any] = {}
        while len(ready) < len(self._processes):
            _, index, facts = self._next("ready")
            ready[index] = facts
        self.facts = [ready[i] for i in range(len(self._processes))]  # each worker's ready facts

    def __len__(self) -> int:
        return len(self._processes)

    @property
    def processes(self) -> list:
        """The worker processes (multiprocessing.Process), in worker order."""
        return list(self._processes)

    def send(self, worker: int, job_id: Any, job: Any) -> None:
        self._inboxes[worker].put((job_id, job))

    def receive(self) -> tuple[Any, Any]:
        """The next finished job, from any worker: (job_id, result)."""
        _, job_id, result = self._next("done")
        return job_id, result

    def close(self) -> None:
        for inbox, process in zip(self._inboxes, self._processes, strict=True):
            if process.is_alive():
                inbox.put(None)
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()

    def _next(self, kind: str) -> tuple:
        while True:
            try:
                message = self._outbox.get(timeout=POLL_S)
            except queue.Empty:
                dead = next((i for i, p in enumerate(self._processes) if not p.is_alive()), None)
                if dead is not None:
                    code = self._processes[dead].exitcode
                    self.close()
                    raise BgeEvalError(f"{self.names[dead]} exited with code {code}; see its output above, "
                                       f"or {self.hint}.") from None
                continue
            if message[0] == "error":
                self.close()
                raise BgeEvalError(f"{self.names[message[1]]} failed ({self.hint}):\n{message[2]}")
            if message[0] == kind:
                return message


# --- the Hugging Face hub -------------------------------------------------------------
def env_flag(name: str) -> bool:
    """An on/off environment variable as the Hugging Face libraries read them (HF_HUB_OFFLINE)."""
    return os.environ.get(name, "").lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether huggingface.co answers within `timeout` seconds (never hangs a run offline)."""
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except Exception:  # noqa: BLE001 - OSError, or a test harness that forbids sockets
        return False


MAX_TOML_BYTES = 2**20  # cards, suites and sweep files are a few lines; a larger file is refused unread


def read_toml_as(path: Path, model: Any, what: str) -> Any:
    """A TOML file checked by a pydantic model; a DataError naming the file and the line (bad
    TOML) or the key (a bad value), pointing to where `what` is documented, otherwise."""
    import tomllib

    from pydantic import ValidationError

    from .errors import DataError

    if Path(path).stat().st_size > MAX_TOML_BYTES:
        raise DataError(f"{path}: larger than {MAX_TOML_BYTES // 2**20} MiB; a card, suite or models file is a few "
                        "lines (is it the right file?).")
    try:
        return model(**tomllib.loads(Path(path).read_text(encoding="utf-8")))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML ({exc}).") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        key = "".join(f"{part}: " if i == len(error["loc"]) - 1 else f"{part}." for i, part in enumerate(error["loc"]))
        raise DataError(f"{path}: {key}{error['msg'].removeprefix('Value error, ')}; see {what}.") from exc


# Away from a terminal (CI logs) a progress bar is redrawn as a new line: at most one line this often.
LOG_INTERVAL_S = 10.0


def bar_interval() -> float:
    """tqdm's mininterval for bars on stderr: smooth on a terminal, sparse in a log."""
    return 0.1 if sys.stderr.isatty() else LOG_INTERVAL_S

"""Read a spreadsheet in a child process with a memory limit, so no file can kill a worker.

``read_rows_isolated(path, fmt, ...)`` returns the same :class:`~.reader.SheetData` as
``reader.read_rows``, but the parser (python-calamine, the csv module, the extent check)
runs in a fresh Python process (``python -m <this module>``) under ``RLIMIT_AS`` (memory)
and ``RLIMIT_CPU``. Rows come back over a pipe in batches. A Rust allocation failure
aborts only the child (SIGABRT), a runaway parse only spends the child's CPU limit
(SIGXCPU); the caller gets :class:`~.files.FileRejected` ``reader_failed`` with a Chinese
message, or, when the extent check can say why, its refusal.

The child also reads ahead while the caller validates, on the other core. Batches are
``marshal`` data (no code runs when it is loaded, unlike pickle: a child that a hostile
file took over could send anything) checked for shape. No Django here; limits are
arguments.
"""

from __future__ import annotations

import gc
import json
import marshal
import os
import resource
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from os import PathLike
from pathlib import Path

from . import reader
from .files import MB, FileFormat, FileRejected
from .reader import ReadLimits, SheetData

__all__ = ["read_rows_isolated"]

BATCH_ROWS = 2000
_HEAD = struct.Struct("<cI")
_MAX_FRAME = 256 * MB
STDERR_TAIL = 4096


def _project_root() -> Path:
    depth = len(__name__.split(".")) - 1  # portal.spreadsheets.sandbox -> 2 folders up
    return Path(__file__).resolve().parents[depth]


# The child's entry point. The top package's ``__init__`` belongs to the web app (it loads
# openpyxl and the Celery app: 0.25 s of CPU before the first row, 14% of a 100,000-row
# import); the reader needs neither, so an empty package stands in for it and only this
# module and its siblings (no Django) are imported.
_TOP = __name__.split(".")[0]
_BOOTSTRAP = f"""\
import json, sys, types
package = types.ModuleType({_TOP!r})
package.__path__ = [{str(_project_root() / _TOP)!r}]
sys.modules[{_TOP!r}] = package
from {__name__} import _child
_child(json.loads(sys.argv[1]))
"""


def read_rows_isolated(
    path: str | PathLike[str],
    fmt: FileFormat,
    *,
    limits: ReadLimits | None = None,
    max_memory_bytes: int = 2048 * MB,
    max_cpu_seconds: int = 600,
) -> SheetData:
    """``reader.read_rows`` in a child process: at most ``max_memory_bytes`` of address
    space and ``max_cpu_seconds`` of CPU. Raises FileRejected like read_rows, and
    ``reader_failed`` when the child dies."""
    fmt = FileFormat(fmt)
    limits = limits or ReadLimits()
    request = {
        "path": str(path),
        "format": fmt.value,
        "limits": asdict(limits),
        "memory": int(max_memory_bytes),
        "cpu": int(max_cpu_seconds),
    }
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _Child.close
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(_project_root()),
        "RUST_BACKTRACE": "0",
        "PYTHONHASHSEED": "0",
        "LANG": "C.UTF-8",
    }
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        [sys.executable, "-c", _BOOTSTRAP, json.dumps(request)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        cwd=str(_project_root()),
        bufsize=1 << 20,
    )
    child = _Child(proc, stderr, request, limits)
    try:
        kind, payload = child.frame()
        if kind == b"E":
            raise _rejected(payload)
        if kind != b"M":
            raise child.failure()
        meta = json.loads(payload)
    except BaseException:
        child.close()
        raise
    data = SheetData(
        format=fmt,
        sheet_name=meta["sheet_name"],
        warnings=list(meta["warnings"]),
        encoding=meta["encoding"],
        delimiter=meta["delimiter"],
        total_rows=meta["total_rows"],
    )
    rows = child.rows(data.warnings)
    data._rows = rows
    data._source = _Stream(rows, child)
    return data


class _Stream:
    """What SheetData.close() closes: the row generator (even unstarted) and the child."""

    def __init__(self, rows, child: _Child) -> None:
        self.rows, self.child = rows, child

    def close(self) -> None:
        self.rows.close()
        self.child.close()


def _pairs(batch) -> bool:
    """A batch as the child sends it: a list of ``(int, list)`` tuples. Checked with C loops
    (map, set, zip), not row by row in Python: 1 us a row less on a million rows."""
    if type(batch) is not list:
        return False
    if not batch:
        return True
    if set(map(type, batch)) != {tuple} or set(map(len, batch)) != {2}:
        return False
    numbers, cells = zip(*batch, strict=True)
    return set(map(type, numbers)) == {int} and set(map(type, cells)) == {list}


def _rejected(payload: bytes) -> FileRejected:
    info = json.loads(payload)
    return FileRejected(str(info["code"]), str(info["message"]))


class _Child:
    def __init__(self, proc: subprocess.Popen, stderr, request: dict, limits: ReadLimits):
        self.proc, self.stderr, self.request, self.limits = proc, stderr, request, limits

    def _read(self, n: int) -> bytes:
        data = self.proc.stdout.read(n)
        if len(data) != n:
            raise self.failure()
        return data

    def frame(self) -> tuple[bytes, bytes]:
        kind, size = _HEAD.unpack(self._read(_HEAD.size))
        if size > _MAX_FRAME:
            raise self.failure()
        return kind, self._read(size) if size else b""

    def rows(self, warnings: list[str]) -> Iterator[tuple[int, list[str]]]:
        try:
            while True:
                kind, payload = self.frame()
                if kind == b"R":
                    batch = marshal.loads(payload)  # noqa: S302 - data only, shape checked
                    if not _pairs(batch):
                        raise self.failure()
                    yield from batch
                elif kind == b"W":
                    warnings.append(payload.decode("utf-8", "replace"))
                elif kind == b"E":
                    raise _rejected(payload)
                elif kind == b"D":
                    return
                else:
                    raise self.failure()
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if not self.stderr.closed:
            self.stderr.close()

    def failure(self) -> FileRejected:
        """The child died (or sent garbage): say why, as precisely as we can."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        self.stderr.seek(0, os.SEEK_END)
        self.stderr.seek(max(0, self.stderr.tell() - STDERR_TAIL))
        tail = self.stderr.read().decode("utf-8", "replace")
        # Why: the extent check alone, in another child, names the far cell if that was it.
        if self.request["format"] == FileFormat.XLSX.value and "check" not in self.request:
            reason = _diagnose(self.request)
            if reason is not None:
                return reason
        limit = self.request["memory"] // MB
        if "memory allocation" in tail or "MemoryError" in tail:
            why = f"所需内存超过上限 {limit} MB"
        elif code == -24 or "SIGXCPU" in tail:  # SIGXCPU
            why = f"处理时间超过上限 {self.request['cpu']} 秒"
        elif code < 0:
            why = f"读取进程异常终止（信号 {-code}）"
        else:
            why = f"读取进程异常退出（退出码 {code}）"
        return FileRejected(
            "reader_failed",
            f"无法读取该文件：{why}，未导入任何数据。请检查工作表中是否有远离表格的单元格、"
            "超大的数据区域或损坏的内容，删除或另存为新的 .xlsx 后重新上传；"
            "如文件确实很大，请拆分为多个文件后分批上传",
        )


def _diagnose(request: dict) -> FileRejected | None:
    """Run only the extent check in a child of its own; its refusal, or None."""
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _BOOTSTRAP, json.dumps({**request, "check": True})],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(_project_root())},
        cwd=str(_project_root()),
        timeout=120,
        check=False,
    )
    out = proc.stdout
    if len(out) >= _HEAD.size:
        kind, size = _HEAD.unpack(out[: _HEAD.size])
        if kind == b"E" and len(out) >= _HEAD.size + size:
            return _rejected(out[_HEAD.size : _HEAD.size + size])
    return None


# -- the child --------------------------------------------------------------------------


def _send(out, kind: bytes, payload: bytes = b"") -> None:
    out.write(_HEAD.pack(kind, len(payload)))
    out.write(payload)


def _child(request: dict) -> None:
    # This process only turns cells into rows (lists of str, no reference cycles) and
    # exits: the cyclic garbage collector would only spend its time walking them.
    gc.disable()
    memory, cpu = request["memory"], request["cpu"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    out = sys.stdout.buffer
    limits = ReadLimits(**request["limits"])
    fmt = FileFormat(request["format"])
    try:
        if request.get("check"):
            reader.check_workbook_extent(request["path"], fmt, limits=limits)
            _send(out, b"D")
            return
        sheet = reader.read_rows(request["path"], fmt, limits=limits)
        meta = {
            "sheet_name": sheet.sheet_name,
            "warnings": sheet.warnings,
            "encoding": sheet.encoding,
            "delimiter": sheet.delimiter,
            "total_rows": sheet.total_rows,
        }
        _send(out, b"M", json.dumps(meta, ensure_ascii=False).encode())
        warnings = sheet.warnings
        warned = len(warnings)
        batch: list = []
        for pair in sheet.pairs():  # plain tuples, as marshal takes them
            batch.append(pair)
            if len(warnings) > warned:
                _send(out, b"R", marshal.dumps(batch, 4))
                batch = []
                for warning in warnings[warned:]:
                    _send(out, b"W", warning.encode())
                warned = len(warnings)
            elif len(batch) >= BATCH_ROWS:
                _send(out, b"R", marshal.dumps(batch, 4))
                batch = []
        if batch:
            _send(out, b"R", marshal.dumps(batch, 4))
        _send(out, b"D")
    except FileRejected as exc:
        _send(out, b"E", json.dumps({"code": exc.code, "message": exc.message}).encode())
    except MemoryError:
        sys.stderr.write("MemoryError\n")
        sys.stderr.flush()
        os._exit(3)
    finally:
        try:
            out.flush()
        except BrokenPipeError:  # the parent stopped reading (closed the sheet early)
            os._exit(0)


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))

import sys as _sys

# openpyxl imports numpy whenever it is installed (datasketch, for the abnormal-complaint
# detection, depends on it), only to accept numpy scalars as cell values, which the portal
# never writes: +17 MB in every process that touches a spreadsheet, the reader's child
# included (issue 16's memory goal for hostile files). openpyxl is loaded here with numpy
# hidden; numpy itself stays importable (oversight/abnormal.py).
if "openpyxl" not in _sys.modules and "numpy" not in _sys.modules:
    _sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        import openpyxl  # noqa: F401
    finally:
        del _sys.modules["numpy"]

from .celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)

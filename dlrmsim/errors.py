"""The exception types that mean "the user gave us something wrong", gathered from each package.

The CLI prints these as one line and exits 2; every other exception is a bug.
"""

from __future__ import annotations

import importlib

# (module, class) pairs; a package that is not importable simply contributes nothing.
_USER_ERRORS = (
    ("sim.errors", "DlrmsimInputError"),
    ("traces.errors", "TraceError"),
    ("calibrate.errors", "CalibrationError"),
)


def user_error_types() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module_name, class_name in _USER_ERRORS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        found.append(getattr(module, class_name))
    return tuple(found)

"""A restricted unpickler for dataset pickles (VOCASET/BIWI/FLAME files).

Dataset pickles hold only numpy arrays, dicts, lists, tuples, strings and numbers.  Any other
global (``os.system``, ``builtins.eval``, ...) is refused before it can run, with a one-line
:class:`~histalk_bench.common.errors.UserError` naming the file.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle

import numpy as np

from .errors import UserError

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("__builtin__", "dict"),
    ("__builtin__", "list"),
    ("__builtin__", "tuple"),
    ("builtins", "bytes"),
    ("__builtin__", "bytes"),
    ("builtins", "bytearray"),
    ("_codecs", "encode"),  # Python 2 byte strings re-encoded by protocol 2 pickles
}


class RefusedPickle(UserError):
    """The pickle references something other than plain data."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, handle, path, **kwargs):
        super().__init__(handle, **kwargs)
        self._path = path

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            if module == "_codecs":
                return codecs.encode
            return super().find_class(module.replace("__builtin__", "builtins"), name)
        raise RefusedPickle(
            f"refused to unpickle: it references '{module}.{name}', which is not plain data "
            "(only numpy arrays, dicts, lists, strings and numbers are allowed)",
            self._path,
        )


def _load(handle, path):
    try:
        return _RestrictedUnpickler(handle, path, encoding="latin1").load()
    except RefusedPickle:
        raise
    except Exception as exc:
        raise UserError(f"not a readable pickle ({exc.__class__.__name__}: {exc})", path) from None


def load_pickle(path: str | os.PathLike):
    """Load a dataset pickle (Python 2 or 3) admitting only plain data."""
    if not os.path.exists(path):
        raise UserError("file not found", path)
    with open(path, "rb") as handle:
        return _load(handle, path)


def load_npy_object(path: str | os.PathLike):
    """Load a ``.npy`` file; an object array (a pickled payload) goes through the restricted unpickler."""
    if not os.path.exists(path):
        raise UserError("file not found", path)
    with open(path, "rb") as handle:
        try:
            major, _minor = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            _shape, _fortran, dtype = read_header(handle)
        except Exception as exc:
            raise UserError(f"not a .npy file ({exc})", path) from None
        if dtype.hasobject:
            value = _load(io.BytesIO(handle.read()), path)
            return value
    return np.load(path, allow_pickle=False)

"""ctypes declarations of libLensPipeViews (Sources/ViewSamplerABI/ViewSamplerABI.swift)."""
import ctypes
import os
from pathlib import Path

_NAMES = ["libLensPipeViews.so", "libLensPipeViews.dylib"]


def library_path():
    """Where the library is: $LENSPIPE_VIEWS_LIBRARY, else the copy `pip install ./python` put beside
    this file, else a build of the checkout this file sits in (.build/release, then .build/debug)."""
    env = os.environ.get("LENSPIPE_VIEWS_LIBRARY")
    if env:
        return env
    here = Path(__file__).resolve().parent
    candidates = [here / n for n in _NAMES]
    for build in ("release", "debug"):
        candidates += [here.parent.parent / ".build" / build / n for n in _NAMES]
    for c in candidates:
        if c.exists():
            return str(c)
    raise OSError("libLensPipeViews not found: run `pip install ./python` in a lenspipe checkout, or `swift build -c release "
                  "--product LensPipeViews` and set LENSPIPE_VIEWS_LIBRARY to the .so it writes")


def load():
    lib = ctypes.CDLL(library_path())
    c_float_p, c_int64_p = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int64)
    lib.lenspipe_views_open.restype = ctypes.c_void_p
    lib.lenspipe_views_open.argtypes = [ctypes.c_char_p, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.lenspipe_views_close.restype = None
    lib.lenspipe_views_close.argtypes = [ctypes.c_void_p]
    lib.lenspipe_views_shape.restype = ctypes.c_int32
    lib.lenspipe_views_shape.argtypes = [ctypes.c_void_p, c_int64_p]
    lib.lenspipe_views_make.restype = ctypes.c_int32
    lib.lenspipe_views_make.argtypes = [ctypes.c_void_p, c_float_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.POINTER(ctypes.c_uint8), c_int64_p, ctypes.c_int64, ctypes.c_int64, c_float_p, c_float_p,
                                        ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_size_t]
    lib.lenspipe_views_free_string.restype = None
    lib.lenspipe_views_free_string.argtypes = [ctypes.c_void_p]
    # The recipe side (Sources/ViewSamplerABI/RunABI.swift).
    lib.lenspipe_run_open.restype = ctypes.c_void_p
    lib.lenspipe_run_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_char_p, ctypes.c_size_t]
    lib.lenspipe_run_close.restype = None
    lib.lenspipe_run_close.argtypes = [ctypes.c_void_p]
    lib.lenspipe_run_describe.restype = ctypes.c_int32
    lib.lenspipe_run_describe.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_size_t]
    lib.lenspipe_run_values.restype = ctypes.c_int32
    lib.lenspipe_run_values.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_double), ctypes.c_char_p, ctypes.c_size_t]
    lib.lenspipe_run_order.restype = ctypes.c_int32
    lib.lenspipe_run_order.argtypes = [ctypes.c_void_p, ctypes.c_int64, c_int64_p, ctypes.c_int64, ctypes.c_char_p, ctypes.c_size_t]
    lib.lenspipe_run_token_mask.restype = ctypes.c_int32
    lib.lenspipe_run_token_mask.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.POINTER(ctypes.c_uint8),
                                            ctypes.c_char_p, ctypes.c_size_t]
    lib.lenspipe_run_patch_mask.restype = ctypes.c_int32
    lib.lenspipe_run_patch_mask.argtypes = [ctypes.c_void_p, c_float_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                            c_float_p, ctypes.c_char_p, ctypes.c_size_t]
    return lib

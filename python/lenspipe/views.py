"""ViewSampler: lenspipe's rejection-sampled global and local views of lensing images, made by the
Swift sampler (the same bits as `lenspipe preview --save-views` and the views `lenspipe train` draws)."""
import ctypes
import json
import os
import threading

import numpy as np

from . import _native
from ._native import library_path

_LIB = None
_LOCK = threading.Lock()


def _lib():
    global _LIB
    with _LOCK:
        if _LIB is None:
            _LIB = _native.load()
    return _LIB


class ViewSamplerError(ValueError):
    """Bad input to the sampler, with the library's message (what and where)."""


def _recipe_text(recipe):
    if recipe is None:
        return "", {}
    if isinstance(recipe, dict):
        return json.dumps(recipe), recipe
    if isinstance(recipe, (str, os.PathLike)) and os.path.exists(recipe):
        with open(recipe) as f:
            text = f.read()
        try:
            return text, json.loads(text)
        except json.JSONDecodeError as e:
            raise ViewSamplerError(f"{recipe}: not JSON: {e}") from None
    if isinstance(recipe, str) and recipe.lstrip().startswith("{"):
        return recipe, json.loads(recipe)
    raise ViewSamplerError(f"recipe must be a dict, JSON text or an existing recipe file, not {recipe!r}")


def _metadata_path(metadata):
    """A lenspipe.json path from a file, a shards folder or a split folder inside one (None: none)."""
    if metadata is None:
        return None
    p = os.fspath(metadata)
    if os.path.isdir(p):
        for c in (os.path.join(p, "lenspipe.json"), os.path.join(os.path.dirname(os.path.abspath(p)), "lenspipe.json")):
            if os.path.exists(c):
                return c
        raise ViewSamplerError(f"{p}: no lenspipe.json in it or its parent (the shards' metadata)")
    if not os.path.exists(p):
        raise ViewSamplerError(f"{p}: not found")
    return p


class ViewSampler:
    """recipe: a training recipe (`lenspipe train --print-recipe`'s JSON: a file, JSON text or a dict; its
    `views` are used, unlisted fields keep lenspipe's defaults; None: the defaults). seed: the views'
    seed (default: the recipe's `seed`, as `lenspipe train` uses). metadata: the shards' lenspipe.json (or
    their folder), whose normalisation the lens detection undoes; None for images that carry none.
    threads: threads per `views` call (1 inside DataLoader workers). One sampler may be used from many
    threads at once."""

    def __init__(self, recipe=None, seed=None, metadata=None, threads=1):
        text, parsed = _recipe_text(recipe)
        self.seed = int(parsed.get("seed", 0) if seed is None else seed)
        self.threads = int(threads)
        meta = _metadata_path(metadata)
        err = ctypes.create_string_buffer(2048)
        lib = _lib()
        handle = lib.lenspipe_views_open(text.encode(), ctypes.c_uint64(self.seed & (2**64 - 1)),
                                         meta.encode() if meta else None, err, len(err))
        if not handle:
            raise ViewSamplerError(err.value.decode(errors="replace"))
        self._handle = handle
        shape = (ctypes.c_int64 * 4)()
        if lib.lenspipe_views_shape(handle, shape) != 0:
            lib.lenspipe_views_close(handle)
            self._handle = None
            raise ViewSamplerError("the library could not report the view shapes")
        self.global_views, self.global_size, self.local_views, self.local_size = (int(v) for v in shape)

    def close(self):
        if getattr(self, "_handle", None):
            _lib().lenspipe_views_close(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __getstate__(self):
        raise TypeError("a ViewSampler holds a native handle; make one per process (e.g. in a DataLoader worker_init_fn)")

    def views(self, images, foreground=None, sample_ids=None, epoch=0, boxes=False):
        """images: [N, C, H, W] or [N, H, W] (float32, or anything numpy casts to it); foreground: the
        shards' masks [N, H, W] (bool or uint8) or None to detect the lens; sample_ids: [N] integers that
        key each image's random streams (its index in the data set; default 0..N-1); epoch: the epoch.
        Returns (global [N, G, C, S, S], local [N, L, C, s, s]) float32, and with boxes=True the list of
        per-image view records (`preview`'s boxes.json) as a third item."""
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4:
            raise ViewSamplerError(f"images must be [N, C, H, W] or [N, H, W], not shape {x.shape}")
        x = np.ascontiguousarray(x)
        n, c, h, w = x.shape
        ids = np.arange(n, dtype=np.int64) if sample_ids is None else np.ascontiguousarray(np.asarray(sample_ids, dtype=np.int64))
        if ids.shape != (n,):
            raise ViewSamplerError(f"sample_ids must have one id per image ({n}), not shape {ids.shape}")
        fg = None
        if foreground is not None:
            fg = np.ascontiguousarray(np.asarray(foreground).astype(np.uint8, copy=False))
            if fg.shape != (n, h, w):
                raise ViewSamplerError(f"foreground must be [N, H, W] = {(n, h, w)}, not shape {fg.shape}")
        g = np.zeros((n, self.global_views, c, self.global_size, self.global_size), np.float32)
        l = np.zeros((n, self.local_views, c, self.local_size, self.local_size), np.float32)
        text = ctypes.c_void_p()
        err = ctypes.create_string_buffer(2048)
        fptr = ctypes.POINTER(ctypes.c_float)
        lib = _lib()
        rc = lib.lenspipe_views_make(self._handle, x.ctypes.data_as(fptr), n, c, h, w,
                                     fg.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)) if fg is not None else None,
                                     ids.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), int(epoch), self.threads,
                                     g.ctypes.data_as(fptr), l.ctypes.data_as(fptr), ctypes.byref(text) if boxes else None, err, len(err))
        if rc != 0:
            raise ViewSamplerError(err.value.decode(errors="replace"))
        if not boxes:
            return g, l
        try:
            records = json.loads(ctypes.string_at(text.value).decode()) if text.value else []
        finally:
            lib.lenspipe_views_free_string(text)
        return g, l, records

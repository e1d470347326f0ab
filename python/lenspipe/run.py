"""A run of `lenspipe train`'s recipe driven from Python (examples/pytorch/pretrain_ddp.py): the resolved
recipe, the run's facts, the schedules and SimMIM's patch masks come from lenspipe's own code through
libLensPipeViews, so a PyTorch trainer follows the recipe exactly as `lenspipe train` does.

    from lenspipe.run import TrainingPlan
    plan = TrainingPlan("shards", recipe="recipe.json")          # or a dict, or None for the defaults
    plan.recipe["batch"], plan.run["totalSteps"], plan.config    # the resolved recipe, run.json, the model
    plan.values(step)                                            # {"lr", "weight_decay", "momentum", ...}
    plan.order(epoch)                                            # the train split's sample order, train's
    plan.patch_mask(globals_crop_major, step)                    # [rows, (S/P)^2] float32, 1 = masked
"""
import ctypes
import json

import numpy as np

from .views import ViewSamplerError, _lib, _recipe_text


class TrainingPlan:
    """shards: what `lenspipe train` takes (a lenspipe output with train/, or one MDS folder, local);
    recipe: a recipe file, JSON text, a dict or None (the defaults); total_steps: the run's length (None:
    the recipe's epochs over the train split, as `lenspipe train` without --minutes)."""

    def __init__(self, shards, recipe=None, total_steps=None):
        text, _ = _recipe_text(recipe)
        err = ctypes.create_string_buffer(4096)
        lib = _lib()
        handle = lib.lenspipe_run_open(text.encode(), str(shards).encode(), int(total_steps or 0), err, len(err))
        if not handle:
            raise ViewSamplerError(err.value.decode(errors="replace"))
        self._handle = handle
        out = ctypes.c_void_p()
        if lib.lenspipe_run_describe(handle, ctypes.byref(out), err, len(err)) != 0:
            raise ViewSamplerError(err.value.decode(errors="replace"))
        try:
            d = json.loads(ctypes.string_at(out.value).decode())
        finally:
            lib.lenspipe_views_free_string(out)
        self.recipe = d["recipe"]            # every field, as RUN/recipe.json holds it
        self.config_text = d["config"]       # the model configuration, as a checkpoint's metadata holds it
        self.config = json.loads(d["config"])
        self.hyper_text = d["hyper"]         # the fixed hyper-parameters, as a checkpoint's metadata holds them
        self.run = d["run"]                  # RUN/run.json
        self.normalization = d.get("normalization")  # what the network expects (checkpoint metadata), or None
        self.sky_zero = d.get("sky_zero")
        self.peak_lr = d["peak_lr"]

    def close(self):
        if getattr(self, "_handle", None):
            _lib().lenspipe_run_close(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def values(self, step):
        """The schedules at 0-based step `step`: lr, weight_decay, momentum (teacher EMA),
        teacher_temperature, freeze_last_layer."""
        out = (ctypes.c_double * 5)()
        err = ctypes.create_string_buffer(1024)
        if _lib().lenspipe_run_values(self._handle, int(step), out, err, len(err)) != 0:
            raise ViewSamplerError(err.value.decode(errors="replace"))
        return {"lr": out[0], "weight_decay": out[1], "momentum": out[2], "teacher_temperature": out[3], "freeze_last_layer": out[4] != 0}

    def order(self, epoch):
        """The train split's sample indices in epoch `epoch`'s order, as `lenspipe train` visits them
        (pass `order=plan.order` to ViewBatches to train on the same batches)."""
        n = int(self.run["trainImages"])
        out = np.zeros(n, np.int64)
        err = ctypes.create_string_buffer(1024)
        if _lib().lenspipe_run_order(self._handle, int(epoch), out.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), n, err, len(err)) != 0:
            raise ViewSamplerError(err.value.decode(errors="replace"))
        return out

    def token_mask(self, rows, size, step):
        """The masked-token term's mask of step `step` for the whole batch's `rows` global crops of `size`
        px (crop-major): [rows, g*g] bool, g the final-stage token grid, as `lenspipe train` draws it."""
        depth = len(self.config["depths"])
        g = (int(size) // self.config["patch"]) >> (depth - 1)
        out = np.zeros((int(rows), g * g), np.uint8)
        err = ctypes.create_string_buffer(1024)
        if _lib().lenspipe_run_token_mask(self._handle, int(rows), int(size), int(step), out.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)),
                                          err, len(err)) != 0:
            raise ViewSamplerError(err.value.decode(errors="replace"))
        return out.astype(bool)

    def patch_mask(self, globals_crop_major, step):
        """SimMIM's mask of step `step` for the whole batch's global crops [rows, C, S, S], crop-major
        (every image's first crop, then every image's second), as `lenspipe train` draws it."""
        x = np.ascontiguousarray(np.asarray(globals_crop_major, dtype=np.float32))
        if x.ndim != 4 or x.shape[2] != x.shape[3]:
            raise ViewSamplerError(f"global crops must be [rows, C, S, S], not shape {x.shape}")
        rows, c, s, _ = x.shape
        g = s // self.config["patch"]
        out = np.zeros((rows, g * g), np.float32)
        err = ctypes.create_string_buffer(1024)
        fptr = ctypes.POINTER(ctypes.c_float)
        if _lib().lenspipe_run_patch_mask(self._handle, x.ctypes.data_as(fptr), rows, c, s, int(step), out.ctypes.data_as(fptr),
                                          err, len(err)) != 0:
            raise ViewSamplerError(err.value.decode(errors="replace"))
        return out

"""Compares two lenspipe checkpoints tensor by tensor (every student, teacher and optimizer tensor, the
centres, the running moments, the step), and how far the second moved from a third (the start), as JSON:

    python3 compare_checkpoints.py A B START
    {"max_diff": ..., "worst": "student....", "moved": ..., "max_relative": ..., "worst_relative": ..., "steps": [a, b], ...}

max_relative: the largest ratio, over tensors, of A's difference from B to B's movement from START
(+1e-6): a tensor whose first AdamW updates come from gradients near eps moves little, and the float
noise of its update is then a larger share of that movement.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "pytorch"))
from esvit_model import read_safetensors  # noqa: E402

a, _ = read_safetensors(sys.argv[1])
b, _ = read_safetensors(sys.argv[2])
start, _ = read_safetensors(sys.argv[3])
floats = [k for k in a if a[k].dtype != np.int64]
diffs = {k: float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in floats if k in b}
worst = max(diffs, key=diffs.get)
moved = max(float(np.abs(b[k].astype(np.float64) - start[k]).max()) for k in floats if k.startswith("student."))
relative = {k: diffs[k] / (1e-6 + float(np.abs(b[k].astype(np.float64) - start[k]).max())) for k in diffs}
worst_relative = max(relative, key=relative.get)
index_equal = all(np.array_equal(a[k], b[k]) for k in a if a[k].dtype == np.int64 and k in b)
print(json.dumps({"max_diff": diffs[worst], "worst": worst, "moved": moved, "max_relative": relative[worst_relative], "worst_relative": worst_relative, "steps": [int(a["optimizer.step"][0]), int(b["optimizer.step"][0])],
                  "same_names": set(a) == set(b), "integers_equal": index_equal}))

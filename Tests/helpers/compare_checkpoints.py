"""Compares two lenspipe checkpoints tensor by tensor (every student, teacher and optimizer tensor, the
centres, the step), and how far a third (the start) is from the first, as JSON:

    python3 compare_checkpoints.py A B START
    {"max_diff": ..., "worst": "student....", "moved": ..., "steps": [a, b], "same_names": true}
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
moved = max(float(np.abs(a[k].astype(np.float64) - start[k]).max()) for k in floats if k.startswith("student."))
index_equal = all(np.array_equal(a[k], b[k]) for k in a if a[k].dtype == np.int64 and k in b)
print(json.dumps({"max_diff": diffs[worst], "worst": worst, "moved": moved, "steps": [int(a["optimizer.step"][0]), int(b["optimizer.step"][0])],
                  "same_names": set(a) == set(b), "integers_equal": index_equal}))

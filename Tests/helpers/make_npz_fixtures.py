"""Writes .npz archives with numpy, plus the values lenspipe must read from them.

python3 make_npz_fixtures.py OUT_DIR  ->  OUT_DIR/*.npz, OUT_DIR/manifest.json

Both of numpy's writers are covered: np.savez (members stored) and np.savez_compressed (deflated),
each in the two layouts lenspipe reads: a stack under `x` / `images` with labels and targets, and
one image per key. Each manifest entry names an archive and its layout; `samples` lists, in
lenspipe's order, each sample's id, [C, H, W] shape and float32 bit patterns (numpy's
.astype(np.float32)), with the label and target where there are any.
"""
import json, os, sys
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(11)
entries = []


def bits(chw):
    return np.ascontiguousarray(np.asarray(chw).astype(np.float32)).view(np.uint32).ravel().tolist()


def stack_case(name, writer, key, images, labels_key=None, labels=None, targets=None, extra=None):
    arrays = {key: images}
    if labels is not None:
        arrays[labels_key] = labels
    if targets is not None:
        arrays["targets"] = targets
    arrays.update(extra or {})
    writer(os.path.join(out, name), **arrays)
    chw = images[:, None] if images.ndim == 3 else images  # (N,H,W) -> (N,1,H,W); (N,C,H,W) as is
    samples = []
    for i in range(len(images)):
        s = dict(id=f"{name}:{key}[{i}]", shape=list(chw[i].shape), bits=bits(chw[i]))
        if labels is not None:
            s["label"] = None if labels[i] < 0 else int(labels[i])
        if targets is not None:
            s["target"] = None if np.isnan(targets[i]) else float(targets[i])
        samples.append(s)
    entries.append(dict(file=name, layout="stack", key=key, samples=samples))


def keys_case(name, writer, arrays):
    writer(os.path.join(out, name), **arrays)
    samples = []
    for key, a in arrays.items():
        img = a[0] if a.dtype == object else a  # object array [image, mass]
        chw = img[None] if img.ndim == 2 else img
        s = dict(id=f"{name}:{key}", shape=list(chw.shape), bits=bits(chw))
        if a.dtype == object:
            s["target"] = float(a[1])
        samples.append(s)
    entries.append(dict(file=name, layout="keys", samples=samples))


x = rng.normal(size=(5, 8, 9)).astype(np.float32)
y = np.array([0, 2, 1, 1, 0], dtype=np.int64)
t = np.array([1.5, np.nan, 2.5, 3.5, 4.5])
stack_case("stack_stored.npz", np.savez, "x", x, "y", y, t, extra={"notes": np.arange(3)})
stack_case("stack_compressed.npz", np.savez_compressed, "x", x, "y", y, t)
imgs = rng.integers(-300, 300, size=(4, 2, 6, 7)).astype(">i2")
stack_case("images_compressed.npz", np.savez_compressed, "images", imgs, "labels", np.array([1, 0, -1, 1], dtype=np.int32))

obj = np.empty(2, dtype=object)
obj[0] = rng.normal(size=(6, 5))
obj[1] = 2.5
keys = {
    "first": rng.integers(0, 255, size=(6, 5)).astype(np.uint8),
    "second": rng.normal(size=(1, 6, 5)),
    "third": np.asfortranarray(rng.normal(size=(6, 5)).astype(">f4")),
    "fourth": obj,
}
keys_case("keys_stored.npz", np.savez, keys)
keys_case("keys_compressed.npz", np.savez_compressed, keys)
# Positional arrays get the keys arr_0, arr_1, ... in the order given.
np.savez(os.path.join(out, "positional.npz"), np.ones((4, 4)), np.zeros((4, 4)))
entries.append(dict(file="positional.npz", layout="keys",
                    samples=[dict(id=f"positional.npz:arr_{k}", shape=[1, 4, 4], bits=bits(np.full((1, 4, 4), 1.0 - k))) for k in range(2)]))
# A key holding a stack, in an archive without x: an error that points at the x layout.
np.savez(os.path.join(out, "keys_with_stack.npz"), a=np.ones((5, 5)), b=np.ones((10, 5, 5)))
# A bigger deflated stack (several zlib output pieces, an exact CRC).
big = rng.normal(size=(64, 32, 32)).astype(np.float32)
stack_case("big_compressed.npz", np.savez_compressed, "x", big)

with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(entries, f)

"""Writes NPY and HDF5 test files with numpy and h5py, plus the values lenspipe must read from them.

python3 make_cases.py OUT_DIR  ->  OUT_DIR/*.npy, OUT_DIR/*.h5, OUT_DIR/manifest.json

Each manifest entry names a file, how lenspipe should open it, and the expected image as
float32 bit patterns (what numpy's .astype(np.float32) gives), in [C, H, W] order.
"""
import json, os, sys
import numpy as np

np.seterr(over="ignore")  # float64 max -> float32 inf is an expected value here

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
cases = []


def expect_chw(a, layout):
    a = np.asarray(a)
    if layout == "hw":
        a = a[None]
    elif layout == "hwc":
        a = np.moveaxis(a, -1, 0)
    return np.ascontiguousarray(a.astype(np.float32)).view(np.uint32).ravel().tolist(), list(a.shape)


def add(name, array, layout, kind="image", version=None, **extra):
    path = os.path.join(out, name)
    with open(path, "wb") as f:
        if version is None:
            np.lib.format.write_array(f, array, allow_pickle=True)
        else:
            np.lib.format.write_array(f, array, version=version, allow_pickle=True)
    bits, shape = expect_chw(extra.pop("image", array), layout)
    cases.append(dict(file=name, kind=kind, bits=bits, shape=shape, **extra))


def sample(dtype, shape):
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, shape, dtype=dt.newbyteorder("="), endpoint=True)
        a.flat[0], a.flat[1] = info.min, info.max
        return a.astype(dt)
    a = (rng.standard_normal(shape) * 1000).astype(dt)
    a.flat[0] = np.finfo(dt).max
    a.flat[1] = np.finfo(dt).tiny / 2  # a subnormal
    a.flat[2] = -0.0
    return a


# Every dtype numpy writes, in both byte orders.
for base in ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"]:
    for order in ["<", ">"]:
        if base in ("?", "i1", "u1") and order == ">":
            continue
        dt = np.dtype(order + base if base != "?" else base)
        a = sample(dt, (5, 7))
        add(f"dtype_{dt.str.replace('<', 'le_').replace('>', 'be_').replace('|', '')}.npy", a, "hw", dtype=dt.name)

# Versions 1.0, 2.0, 3.0 (3.0 only differs by allowing UTF-8 in the header).
for v in [(1, 0), (2, 0), (3, 0)]:
    add(f"version_{v[0]}.npy", sample("<f4", (4, 6)), "hw", version=v, dtype="float32")

# Fortran order and the single-image shapes.
add("fortran_hw.npy", np.asfortranarray(sample("<i8", (6, 9))), "hw", dtype="int64")
add("shape_1hw.npy", sample("<f8", (1, 8, 5)), "chw", dtype="float64")
add("shape_hw1.npy", sample("<f4", (8, 5, 1)), "hwc", dtype="float32")
add("shape_chw.npy", sample("<u2", (3, 6, 4)), "chw", dtype="uint16")
add("shape_hwc.npy", sample(">f4", (6, 4, 3)), "hwc", dtype="float32")
add("fortran_hwc.npy", np.asfortranarray(sample("<f8", (6, 5, 3))), "hwc", dtype="float64")

# Object arrays as DeepLense writes them: [image, mass], plus a wrapped image and rows of vectors.
img = rng.poisson(5, (10, 12)).astype(np.int64)
add("object_image_mass.npy", np.array([img, 8.4e-23], dtype=object), "hw", kind="image", image=img, target=8.4e-23,
    dtype="int64")
img2 = rng.standard_normal((9, 9))
add("object_scalar_first.npy", np.array([np.float64(3.5e-24), img2], dtype=object), "hw", image=img2, target=3.5e-24,
    dtype="float64")
img3 = rng.integers(0, 50, (5, 6))
add("object_wrapped.npy", np.array(img3, dtype=object), "hw", image=img3, dtype="float64")
rows = rng.standard_normal((4, 6)).astype(np.float32)
obj_rows = np.empty(4, dtype=object)
for i in range(4):
    obj_rows[i] = rows[i]
add("object_rows.npy", obj_rows, "hw", image=rows, dtype="float64")
# Protocol 2 pickles (bytes via _codecs.encode), as numpy on Python 2 era files.
img4 = rng.standard_normal((3, 5)).astype(np.float32)
path = os.path.join(out, "object_protocol2.npy")
import pickle
arr4 = np.array([img4, 1.25], dtype=object)
with open(path, "wb") as f:
    np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(arr4))
    pickle.dump(arr4, f, protocol=2)
bits, shape = expect_chw(img4, "hw")
cases.append(dict(file="object_protocol2.npy", kind="image", bits=bits, shape=shape, target=1.25, dtype="float32"))

# Stacks.
for name, shape, layout in [("stack_nhw.npy", (5, 6, 7), "nhw"), ("stack_n1hw.npy", (4, 1, 5, 6), "nchw"),
                            ("stack_nhwc.npy", (3, 5, 6, 3), "nhwc")]:
    a = sample("<f8", shape)
    np.save(os.path.join(out, name), a)
    if layout == "nhw":
        chw = a[:, None]
    elif layout == "nhwc":
        chw = np.moveaxis(a, -1, 1)
    else:
        chw = a
    cases.append(dict(file=name, kind="stack", count=shape[0], shape=list(chw.shape[1:]),
                      bits=np.ascontiguousarray(chw.astype(np.float32)).view(np.uint32).ravel().tolist()))
np.save(os.path.join(out, "stack_labels.npy"), np.array([0, 2, 1, 1, 0], dtype=np.int64))
np.save(os.path.join(out, "stack_targets.npy"), np.array([1.5, np.nan, 2.5, 3.5, 4.5]))

# HDF5 in the layouts other simulators write.
try:
    import h5py
    with h5py.File(os.path.join(out, "sim.h5"), "w") as f:
        imgs = rng.integers(0, 1000, (6, 1, 8, 9)).astype(np.int64)
        f.create_dataset("train/images", data=imgs, chunks=(1, 1, 8, 9), compression="gzip")
        f.create_dataset("train/labels", data=np.array([0, 1, 2, 0, 1, 2]))
        f.create_dataset("train/mass", data=np.array([1e-23, np.nan, np.nan, 2e-23, np.nan, np.nan]))
        f.create_dataset("train/names", data=np.array([f"img_{i}".encode() for i in range(6)], dtype="S12"))
        f.create_dataset("f16", data=rng.standard_normal((3, 4, 5)).astype(np.float16))
        f.create_dataset("u8hwc", data=rng.integers(0, 255, (2, 8, 9, 3)).astype(np.uint8))
        f.create_dataset("be_f8", data=rng.standard_normal((2, 3, 4)).astype(">f8"))
        f.create_dataset("flat", data=np.arange(10.0))
    with h5py.File(os.path.join(out, "sim.h5"), "r") as f:
        for ds, layout in [("train/images", "nchw"), ("f16", "nhw"), ("u8hwc", "nhwc"), ("be_f8", "nhw")]:
            a = f[ds][()]
            chw = a[:, None] if layout == "nhw" else (np.moveaxis(a, -1, 1) if layout == "nhwc" else a)
            cases.append(dict(file="sim.h5", dataset="/" + ds, kind="hdf5", count=a.shape[0], shape=list(chw.shape[1:]),
                              bits=np.ascontiguousarray(chw.astype(np.float32)).view(np.uint32).ravel().tolist()))
except ImportError:
    print("h5py missing: pip install h5py", file=sys.stderr)
    sys.exit(3)

json.dump(cases, open(os.path.join(out, "manifest.json"), "w"))
print(len(cases))

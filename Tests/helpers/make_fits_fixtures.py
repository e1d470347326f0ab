"""Writes FITS test files with astropy, plus the values astropy reads from them.

python3 make_fits_fixtures.py OUT_DIR  ->  OUT_DIR/**.fits, OUT_DIR/expected/*.npy, OUT_DIR/manifest.json

Covered: every BITPIX (8, 16, 32, 64, -32, -64) with BSCALE/BZERO and BLANK, astropy's unsigned
types (BZERO 2^(n-1)), NaN and out-of-float32-range values; a multi-extension file (empty primary,
a binary table, a 2-D image, a 3-D cube named SCI); a 3-D cube with labels and targets .npy
arrays, plain and gzip-compressed; a tile-compressed (RICE) image; a file whose last record is
short; a class-folder tree (.fits, .fit, .FTS, .fits.gz, a 3-band image), a flat folder and a
folder that mixes .npy and FITS files.

Each manifest entry names a file, the HDU to read (`ext`: a number, an EXTNAME, or null for the
default), the shape astropy gives, the dtype lenspipe should report, and `expected`: an .npy of
astropy's values (fits.getdata with scaling, BLANK -> NaN) as float64, flattened in numpy order.
"""
import gzip, json, os, shutil, sys
import numpy as np
from astropy.io import fits

out = sys.argv[1]
os.makedirs(os.path.join(out, "expected"), exist_ok=True)
rng = np.random.default_rng(5)
entries = []


def expect(name, file, ext, dtype, kind="image"):
    """Records what astropy reads from `file` (HDU `ext`; None = lenspipe's default choice)."""
    data = fits.getdata(os.path.join(out, file), ext if ext is not None else default_ext(file))
    values = np.asarray(data, dtype=np.float64)
    np.save(os.path.join(out, "expected", name + ".npy"), values.ravel())
    entries.append(dict(name=name, file=file, ext=ext, shape=list(values.shape), dtype=dtype, kind=kind,
                        expected="expected/" + name + ".npy", nan=int(np.isnan(values).sum())))


def default_ext(file):
    with fits.open(os.path.join(out, file)) as hdul:
        for k, h in enumerate(hdul):
            if h.is_image and h.header.get("NAXIS", 0) in (2, 3):
                return k
    raise SystemExit(f"{file}: no image HDU")


def raw_with_scaling(file, raw, bscale=None, bzero=None, blank=None):
    """Stores the integers `raw` as they are, with scaling keywords astropy applies on reading."""
    hdu = fits.PrimaryHDU(raw)
    if bscale is not None:
        hdu.header["BSCALE"] = bscale
    if bzero is not None:
        hdu.header["BZERO"] = bzero
    if blank is not None:
        hdu.header["BLANK"] = blank
    hdu.writeto(os.path.join(out, file), overwrite=True)


# --- Every BITPIX -------------------------------------------------------------------------------
shape = (7, 9)  # 7 rows (NAXIS2) of 9 columns (NAXIS1)
u8 = rng.integers(0, 256, size=shape).astype(np.uint8); u8[2, 3] = 7
raw_with_scaling("bitpix8.fits", u8, blank=7)
expect("bitpix8", "bitpix8.fits", 0, "uint8")

raw_with_scaling("bitpix8_scaled.fits", u8, bscale=0.25, bzero=-3.0)
expect("bitpix8_scaled", "bitpix8_scaled.fits", 0, "float32")

fits.PrimaryHDU(rng.integers(-128, 128, size=shape).astype(np.int8)).writeto(os.path.join(out, "int8.fits"), overwrite=True)
expect("int8", "int8.fits", 0, "int8")  # BITPIX 8, BZERO -128

i16 = rng.integers(-32768, 32768, size=shape).astype(np.int16); i16[0, 0] = -999; i16[6, 8] = -999
raw_with_scaling("bitpix16.fits", i16, bscale=0.5, bzero=10.0, blank=-999)
expect("bitpix16", "bitpix16.fits", 0, "float32")

raw_with_scaling("bitpix16_blank.fits", i16, blank=-999)
expect("bitpix16_blank", "bitpix16_blank.fits", 0, "int16")

fits.PrimaryHDU(rng.integers(0, 65536, size=shape).astype(np.uint16)).writeto(os.path.join(out, "uint16.fits"), overwrite=True)
expect("uint16", "uint16.fits", 0, "uint16")  # BITPIX 16, BZERO 32768

i32 = rng.integers(-2**31, 2**31, size=shape).astype(np.int32); i32[3, 3] = 123456
raw_with_scaling("bitpix32.fits", i32, bscale=2.5, bzero=-3.0, blank=123456)
expect("bitpix32", "bitpix32.fits", 0, "float64")

fits.PrimaryHDU(rng.integers(0, 2**32, size=shape).astype(np.uint32)).writeto(os.path.join(out, "uint32.fits"), overwrite=True)
expect("uint32", "uint32.fits", 0, "uint32")

i64 = rng.integers(-2**62, 2**62, size=shape).astype(np.int64); i64[1, 1] = 42
raw_with_scaling("bitpix64.fits", i64, blank=42)
expect("bitpix64", "bitpix64.fits", 0, "int64")

fits.PrimaryHDU(rng.integers(0, 2**63, size=shape).astype(np.uint64) * 2).writeto(os.path.join(out, "uint64.fits"), overwrite=True)
expect("uint64", "uint64.fits", 0, "uint64")

f32 = rng.normal(size=shape).astype(np.float32); f32[4, 4] = np.nan; f32[5, 5] = np.inf
fits.PrimaryHDU(f32).writeto(os.path.join(out, "bitpix-32.fits"), overwrite=True)
expect("bitpix-32", "bitpix-32.fits", 0, "float32")

f64 = rng.normal(size=shape) * 1e3; f64[0, 1] = np.nan; f64[2, 2] = 1e300; f64[3, 2] = -1e-300
fits.PrimaryHDU(f64).writeto(os.path.join(out, "bitpix-64.fits"), overwrite=True)
expect("bitpix-64", "bitpix-64.fits", 0, "float64")

# --- Multi-extension: empty primary, a table, a 2-D image, a cube named SCI -----------------------
table = fits.BinTableHDU.from_columns([fits.Column(name="flux", format="E", array=np.arange(4, dtype=np.float32))], name="CAT")
img = fits.ImageHDU(rng.normal(size=(6, 8)).astype(np.float32))
sci = fits.ImageHDU(rng.integers(-500, 500, size=(3, 5, 6)).astype(np.int16), name="SCI")
sci.header["BSCALE"] = 0.1
fits.HDUList([fits.PrimaryHDU(), table, img, sci]).writeto(os.path.join(out, "mef.fits"), overwrite=True)
expect("mef_default", "mef.fits", None, "float32", kind="cube")  # HDU 2, the first image
expect("mef_2", "mef.fits", 2, "float32", kind="cube")
expect("mef_3", "mef.fits", 3, "float32", kind="cube")
expect("mef_sci", "mef.fits", "SCI", "float32", kind="cube")

# --- A cube with labels and targets; the same gzip-compressed ------------------------------------
cube = rng.normal(size=(5, 10, 12)).astype(np.float32)
fits.PrimaryHDU(cube).writeto(os.path.join(out, "cube.fits"), overwrite=True)
np.save(os.path.join(out, "cube_labels.npy"), np.array([1, 0, 2, -1, 1]))
np.save(os.path.join(out, "cube_targets.npy"), np.array([0.5, 1.5, np.nan, 2.0, 3.0]))
expect("cube", "cube.fits", None, "float32", kind="cube")
with open(os.path.join(out, "cube.fits"), "rb") as src, gzip.open(os.path.join(out, "cube.fits.gz"), "wb") as dst:
    shutil.copyfileobj(src, dst)
expect("cube_gz", "cube.fits.gz", None, "float32", kind="cube")

# --- Tile-compressed (RICE, lossless for integers) -----------------------------------------------
comp = fits.CompImageHDU(rng.integers(-1000, 1000, size=(16, 20)).astype(np.int16), compression_type="RICE_1")
fits.HDUList([fits.PrimaryHDU(), comp]).writeto(os.path.join(out, "rice.fits"), overwrite=True)
expect("rice", "rice.fits", None, "int16", kind="cube")

# --- A file whose last 2880-byte record is short (some writers leave the padding out) ------------
fits.PrimaryHDU(rng.normal(size=(3, 5)).astype(np.float32)).writeto(os.path.join(out, "short_record.fits"), overwrite=True)
with open(os.path.join(out, "short_record.fits"), "r+b") as f:
    f.truncate(2880 + 3 * 5 * 4)
expect("short_record", "short_record.fits", 0, "float32")

# --- A class-folder tree, a flat folder, a mixed folder ------------------------------------------
for d in ["tree/alpha", "tree/beta", "flat", "mixed"]:
    os.makedirs(os.path.join(out, d), exist_ok=True)
tree = [("tree/alpha/a1.fits", rng.normal(size=(8, 8)).astype(np.float32)),
        ("tree/alpha/a2.fit", rng.integers(0, 65536, size=(8, 8)).astype(np.uint16)),
        ("tree/alpha/bands.fits", rng.normal(size=(3, 8, 8))),
        ("tree/beta/b1.FTS", rng.integers(-100, 100, size=(8, 8)).astype(np.int32)),
        ("tree/beta/b2.fits.gz", rng.normal(size=(8, 8)).astype(np.float32))]
for file, a in tree:
    hdu = fits.PrimaryHDU(a)
    if file.endswith(".gz"):
        with gzip.open(os.path.join(out, file), "wb") as f:
            hdu.writeto(f)
    else:
        hdu.writeto(os.path.join(out, file), overwrite=True)
    expect("tree_" + os.path.basename(file).replace(".", "_"), file, 0, fits.getdata(os.path.join(out, file)).dtype.name, kind="tree")
fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 4), dtype=np.float32))]).writeto(os.path.join(out, "flat/one.fits"), overwrite=True)
fits.PrimaryHDU(np.zeros((4, 4), dtype=np.int16)).writeto(os.path.join(out, "flat/two.fits"), overwrite=True)
# A cube is not one image: inside a folder it is an error naming the file.
fits.PrimaryHDU(np.zeros((6, 4, 4), dtype=np.float32)).writeto(os.path.join(out, "flat/three_cube.fits"), overwrite=True)
np.save(os.path.join(out, "mixed/a.npy"), np.zeros((4, 4)))
fits.PrimaryHDU(np.zeros((4, 4))).writeto(os.path.join(out, "mixed/b.fits"), overwrite=True)

with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(entries, f, indent=1)

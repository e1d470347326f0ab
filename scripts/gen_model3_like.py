#!/usr/bin/env python3
"""A Model III-like lensing set (issue 34): a macro lens that varies per image, an HST-like band.

DeepLense's Model III stamps differ from Model II in what varies: every image has its own lens
(Einstein radius, ellipticity, external shear, centre) and its own Sersic source (size, index,
ellipticity, magnitude, position), seen through a space-telescope band (finer pixels, a sharper PSF,
a deeper exposure). The three classes differ only in the substructure, as in Models I and II:

  no_sub  the macro lens alone
  cdm     a population of point-mass subhalos, masses from a power law dN/dm ~ m^-1.9 (1e6..1e10 Msun)
  axion   a vortex: a line of equal point masses through the lens plane, its length set by the axion
          mass (longer for lighter axions); files are object arrays [image, m_axion] (allow_pickle)

Layout (like the DeepLense releases): OUT/{train,test}/{axion,cdm,no_sub}/*.npy, float64 64x64
(counts per second). `--preset learnable` strengthens the signal (ten times the substructure mass,
a brighter source, half the macro variation) for a calibration step when the hard set is at chance
even for supervised training.

    python3 scripts/gen_model3_like.py OUT N_PER_CLASS_TRAIN N_PER_CLASS_TEST [--seed S] [--preset hard|learnable]

Needs numpy, astropy and lenstronomy (`pip install lenstronomy`; the tests do not use this script).
"""
import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
from astropy import units as u
from astropy.constants import G, M_sun, c
from astropy.cosmology import FlatLambdaCDM
from lenstronomy.SimulationAPI.sim_api import SimAPI

CLASSES = ["axion", "cdm", "no_sub"]
Z_LENS, Z_SOURCE = 0.5, 1.0
PIXELS, PIXEL_SCALE = 64, 0.05  # arcsec: a 3.2" field

# An HST ACS/F814W-like band (one deep exposure).
HST_BAND = dict(read_noise=4.0, pixel_scale=PIXEL_SCALE, ccd_gain=2.5, exposure_time=5400.0, sky_brightness=22.3,
                magnitude_zero_point=25.9, num_exposures=1, seeing=0.08, psf_type="GAUSSIAN")

PRESETS = {
    # name: (substructure mass factor, source magnitude range, macro variation factor)
    "hard": (1.0, (20.5, 23.0), 1.0),
    "learnable": (10.0, (19.5, 21.0), 0.5),
}


def _point_mass_factor():
    """theta_E^2 / M for a point mass at Z_LENS and a source at Z_SOURCE (radians^2 per solar mass)."""
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    d_l, d_s = cosmo.angular_diameter_distance(Z_LENS), cosmo.angular_diameter_distance(Z_SOURCE)
    try:
        d_ls = cosmo.angular_diameter_distance(Z_LENS, Z_SOURCE)  # astropy >= 7
    except TypeError:
        d_ls = cosmo.angular_diameter_distance_z1z2(Z_LENS, Z_SOURCE)
    return (4 * G * M_sun / c ** 2 * d_ls / (d_l * d_s)).to(u.dimensionless_unscaled).value


POINT_MASS_FACTOR = _point_mass_factor()


def einstein_radius_arcsec(mass_msun):
    """Einstein radius (arcsec) of a point mass of `mass_msun` solar masses."""
    return np.sqrt(POINT_MASS_FACTOR * np.asarray(mass_msun, dtype=float)) * 206264.806


class Model3Like:
    def __init__(self, preset):
        self.mass_factor, self.magnitudes, self.spread = PRESETS[preset]
        self.sims = {}

    def simulator(self, n_sub):
        """One SimAPI per substructure count (the lens model list fixes the number of point masses)."""
        if n_sub not in self.sims:
            model = dict(lens_model_list=["SIE", "SHEAR"] + ["POINT_MASS"] * n_sub, source_light_model_list=["SERSIC_ELLIPSE"])
            sim = SimAPI(num_pix=PIXELS, kwargs_single_band=dict(HST_BAND), kwargs_model=model)
            self.sims[n_sub] = (sim, sim.image_model_class(dict(supersampling_factor=2)))
        return self.sims[n_sub]

    def macro(self, rng):
        s = self.spread
        centre = rng.normal(0, 0.05 * s, 2)
        return [dict(theta_E=float(rng.uniform(1.0 - 0.3 * s, 1.0 + 0.2 * s)), e1=float(rng.normal(0, 0.1 * s)),
                     e2=float(rng.normal(0, 0.1 * s)), center_x=float(centre[0]), center_y=float(centre[1])),
                dict(gamma1=float(rng.normal(0, 0.04 * s)), gamma2=float(rng.normal(0, 0.04 * s)))], centre

    def source(self, rng, sim):
        light = [dict(magnitude=float(rng.uniform(*self.magnitudes)), R_sersic=float(rng.uniform(0.1, 0.4)),
                      n_sersic=float(rng.uniform(0.7, 3.0)), e1=float(rng.normal(0, 0.15)), e2=float(rng.normal(0, 0.15)),
                      center_x=float(rng.uniform(-0.3, 0.3)), center_y=float(rng.uniform(-0.3, 0.3)))]
        _, amplitudes, _ = sim.magnitude2amplitude(kwargs_source_mag=light)
        return amplitudes

    def subhalos(self, cls, rng, centre, m_axion):
        if cls == "cdm":
            n, slope, lo, hi = 25, -0.9, 1e6, 1e10  # dN/dm ~ m^-1.9: the CDF's exponent is slope
            masses = (lo ** slope + (hi ** slope - lo ** slope) * rng.uniform(size=n)) ** (1 / slope)
            radius, angle = rng.uniform(0.3, 1.8, n), rng.uniform(0, 2 * np.pi, n)
            xs, ys = centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle)
        elif cls == "axion":
            n, total = 100, 3e10
            length = 0.03 * (1e-22 / m_axion)  # arcsec: lighter axions make longer vortices
            t, angle = np.linspace(-1, 1, n) * length, rng.uniform(0, np.pi)
            masses = np.full(n, total / n)
            xs, ys = centre[0] + t * np.cos(angle), centre[1] + t * np.sin(angle)
        else:
            return []
        radii = einstein_radius_arcsec(masses * self.mass_factor)
        return [dict(theta_E=float(r), center_x=float(x), center_y=float(y)) for r, x, y in zip(radii, xs, ys)]

    def image(self, cls, rng, m_axion):
        macro, centre = self.macro(rng)
        sub = self.subhalos(cls, rng, centre, m_axion)
        sim, model = self.simulator(len(sub))
        clean = model.image(macro + sub, self.source(rng, sim), None, None)
        return clean + sim.noise_for_model(model=clean, seed=int(rng.integers(1 << 31)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("train", type=int, help="images per class in train")
    ap.add_argument("test", type=int, help="images per class in test")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="hard")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    sim = Model3Like(args.preset)
    for split, n in (("train", args.train), ("test", args.test)):
        for cls in CLASSES:
            folder = os.path.join(args.out, split, cls)
            os.makedirs(folder, exist_ok=True)
            for i in range(n):
                m_axion = 10 ** rng.uniform(-24, -22)
                img = sim.image(cls, rng, m_axion)
                path = os.path.join(folder, f"{cls}_{split}_{i:06d}.npy")
                if cls == "axion":
                    np.save(path, np.array([img, m_axion], dtype=object), allow_pickle=True)
                else:
                    np.save(path, img)
        print(f"{split}: {n} per class in {os.path.join(args.out, split)}", flush=True)


if __name__ == "__main__":
    main()

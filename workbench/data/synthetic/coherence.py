"""12-day interferometric coherence of a synthetic glacier (with the estimator's bias and
noise for a given number of looks).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from workbench.data.synthetic._numerics import _S_COHERENCE, _rng
from workbench.data.synthetic.params import GlacierParams
from workbench.data.synthetic.seasons import _melange, _wetness
from workbench.data.synthetic.terrain import _Static

if TYPE_CHECKING:  # pragma: no cover
    pass


_COHERENCE_LOOKS = 25.0  # looks of the coherence estimator (sets its bias and noise)


def _coherence(
    p: GlacierParams,
    st: _Static,
    seed: int,
    i: int,
    doy: int,
    wet: float,
    glacier: np.ndarray,
    ocean: np.ndarray,
    sub: dict[str, np.ndarray],
) -> np.ndarray:
    r = _rng(seed, _S_COHERENCE, i)
    winter = float(1.0 - _wetness(doy))
    g_rock = (0.45 + 0.3 * winter) * (1.0 - 0.35 * wet * st.snow_rock) - 0.004 * np.clip(
        st.slope_deg - 30, 0, None
    )
    g_rock = np.where(st.shadow, 0.05, np.where(st.layover, 0.55, g_rock))
    speed = np.exp(-sub["dist_g"] / 4000.0)  # fast near the terminus
    g_glac = (0.08 + 0.3 * (1.0 - speed)) * (0.35 + 0.65 * winter) * (1.0 - 0.5 * wet)
    g_ocean = np.where(sub["melange"], 0.12 + 0.2 * float(_melange(doy)), 0.0)
    g_ocean = np.where(sub["seaice"], 0.45, g_ocean)
    gamma = np.where(glacier, g_glac, np.where(ocean, g_ocean, g_rock)).astype(np.float32)
    gamma = np.clip(gamma, 0.0, 0.98)
    L = _COHERENCE_LOOKS
    mean = np.sqrt(gamma**2 + (1.0 - gamma**2) * (math.pi / (4 * L)))
    sd = (1.0 - gamma**2) * math.sqrt((1.0 - math.pi / 4) / L)
    noise = ndimage.uniform_filter(r.standard_normal(st.shape).astype(np.float32), 3) * 3.0
    return np.clip(mean + sd * noise, 0.0, 1.0).astype(np.float32)

"""How a trained model is stored: a zip of xgboost boosters (UBJSON), JSON and numpy arrays.

No pickle: a model version's artifact is data, loadable by any xgboost of the same major version,
and loading one cannot run code.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: not at the start of every command (see ml.py)
    import xgboost as xgb
    from sklearn.isotonic import IsotonicRegression


@dataclass
class Artifact:
    boosters: dict[str, xgb.Booster] = field(default_factory=dict)
    calibrators: dict[str, IsotonicRegression] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


def dump(artifact: Artifact) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, booster in artifact.boosters.items():
            archive.writestr(f"boosters/{name}.ubj", bytes(booster.save_raw("ubj")))
        for name, calibrator in artifact.calibrators.items():
            archive.writestr(f"calibrators/{name}.json", json.dumps(_calibrator_state(calibrator)))
        for name, array in artifact.arrays.items():
            out = io.BytesIO()
            np.save(out, array, allow_pickle=False)
            archive.writestr(f"arrays/{name}.npy", out.getvalue())
        archive.writestr("meta.json", json.dumps(artifact.meta))
    return buffer.getvalue()


def load(data: bytes) -> Artifact:
    import xgboost as xgb

    artifact = Artifact()
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        for name in archive.namelist():
            folder, _, file = name.partition("/")
            stem = file.rsplit(".", 1)[0]
            content = archive.read(name)
            if folder == "boosters":
                booster = xgb.Booster()
                booster.load_model(bytearray(content))
                artifact.boosters[stem] = booster
            elif folder == "calibrators":
                artifact.calibrators[stem] = _calibrator_from(json.loads(content))
            elif folder == "arrays":
                artifact.arrays[stem] = np.load(io.BytesIO(content), allow_pickle=False)
            elif name == "meta.json":
                artifact.meta = json.loads(content)
    return artifact


def _calibrator_state(calibrator: IsotonicRegression) -> dict:
    return {
        "x": calibrator.X_thresholds_.tolist(),
        "y": calibrator.y_thresholds_.tolist(),
    }


def _calibrator_from(state: dict) -> IsotonicRegression:
    # Refitting on the stored thresholds reproduces the same step function exactly.
    from sklearn.isotonic import IsotonicRegression

    x, y = np.array(state["x"]), np.array(state["y"])
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(x, y)

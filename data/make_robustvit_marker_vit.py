"""Make ``oaedu/checkpoints/robustvit_marker_vit.pt`` (shipped in the package): the marker-toy ViT of notebook 05,
pretrained with cross-entropy on biased data (the marker agrees with the label 95% of the time), so it leans on
the marker. No flips: a mirrored diagonal stripe would be a texture of no class.

Run from the repository root: ``python data/make_robustvit_marker_vit.py`` (under a minute on one CPU thread).
Notebook 05 and the tests load it strictly into ``oaedu.relevance.marker_vit()``.
"""

from pathlib import Path

import torch

from oaedu.relevance import marker_dataset, marker_vit
from oaedu.train import fit
from oaedu.utils import seed_everything

OUT = Path(__file__).resolve().parents[1] / "oaedu" / "checkpoints" / "robustvit_marker_vit.pt"
SETTINGS = {"n": 8000, "seed": 0, "p": 0.95, "epochs": 12, "batch_size": 64, "lr": 1e-3}

if __name__ == "__main__":
    torch.set_num_threads(1)
    seed_everything(SETTINGS["seed"])
    data = marker_dataset("train", SETTINGS["n"], seed=SETTINGS["seed"], p=SETTINGS["p"])
    model = marker_vit()
    history = fit(
        model,
        data,
        SETTINGS["epochs"],
        SETTINGS["batch_size"],
        SETTINGS["lr"],
        flip=False,
        seed=SETTINGS["seed"],
        device="cpu",
        progress=False,
    )
    print("loss per epoch", [round(v, 3) for v in history.loss])
    torch.save(model.state_dict(), OUT)

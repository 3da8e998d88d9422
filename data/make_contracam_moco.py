"""Make ``oaedu/checkpoints/contracam_moco.pt`` (shipped in the package): a tiny MoCo (oaedu.contrastive)
trained on 32-px multi-object scenes.

Run from the repository root: ``python data/make_contracam_moco.py`` (about 3 minutes on one CPU thread).
Deterministic for a given torch build. Notebook 04 loads it with ``oaedu.contrastive.load_online``.
"""

from pathlib import Path

import torch

from oaedu.contrastive import MoCo, save_online, train_contrastive
from oaedu.data import multi_object_scenes

OUT = Path(__file__).resolve().parents[1] / "oaedu" / "checkpoints" / "contracam_moco.pt"
SETTINGS = {"n": 2048, "seed": 0, "image_size": 32, "max_objects": 3, "epochs": 15, "batch_size": 128}

if __name__ == "__main__":
    torch.set_num_threads(1)
    torch.manual_seed(SETTINGS["seed"])
    scenes = multi_object_scenes(
        SETTINGS["n"], seed=SETTINGS["seed"], image_size=SETTINGS["image_size"], max_objects=SETTINGS["max_objects"]
    )
    learner = MoCo(queue_size=1024)
    losses = train_contrastive(
        learner, scenes.images, SETTINGS["epochs"], SETTINGS["batch_size"], seed=SETTINGS["seed"]
    )
    print("loss per epoch", [round(v, 3) for v in losses])
    save_online(learner, OUT)

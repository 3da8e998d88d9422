import pytest
import torch

from oaedu.data import multi_object_scenes
from oaedu.slots import ObjectEncoder, as_training_data, ssl_step, two_views
from oaedu.train import fit


def test_two_views_warp_image_and_mask_together():
    scenes = multi_object_scenes(6, seed=0, image_size=32, max_objects=3)
    coded = (scenes.instance_masks.float() / 10)[:, None].expand(-1, 3, -1, -1).contiguous()  # image = id / 10
    gen = torch.Generator().manual_seed(0)
    views = two_views(coded, scenes.instance_masks, (0.3, 1.0), brightness=0.0, generator=gen)
    for img, m in views:
        assert img.shape == coded.shape and m.dtype == torch.int64
        agree = (torch.round(img[:, 0] * 10).long() == m).double().mean()
        assert agree > 0.9  # bilinear image vs nearest mask differ only along object edges
    assert not torch.equal(views[0][1], views[1][1])  # two different random views


@pytest.mark.parametrize("kind", ["ctrall", "ctrimg", "cossim"])
def test_ssl_step_trains_with_fit_and_logs_finite_losses(kind):
    torch.manual_seed(0)
    scenes = multi_object_scenes(16, seed=1, image_size=16, max_objects=2)
    model = ObjectEncoder("slot", num_slots=3, image_size=16, patch_size=4, embed_dim=16, depth=1)
    log = []
    fit(model, as_training_data(scenes), 1, batch_size=8, step=ssl_step(kind, log=log), device="cpu", progress=False)
    assert len(log) == 2 and all(torch.isfinite(torch.tensor(list(x.values()))).all() for x in log)


def test_ssl_step_bad_input():
    with pytest.raises(ValueError):
        ssl_step("ctr")
    with pytest.raises(ValueError):
        ssl_step("ctrimg", lambda_global=0.0, lambda_object=0.0)
    model = ObjectEncoder("slot", num_slots=3, image_size=16, embed_dim=16, depth=1)
    step = ssl_step("ctrimg")
    with pytest.raises(ValueError):
        step(
            model, torch.rand(1, 3, 16, 16), torch.zeros(1, dtype=torch.long), torch.zeros(1, 16, 16, dtype=torch.bool)
        )

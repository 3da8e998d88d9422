import pytest
import torch

from oaedu.data import multi_object_scenes
from oaedu.slots import ObjectEncoder
from oaedu.slots.experiment import Arm, identity_share, score, slot_cosine, train_arm

ENCODER = dict(num_slots=3, image_size=16, patch_size=4, embed_dim=16, depth=1, num_heads=2)


def test_slot_cosine_known_values():
    same = torch.ones(2, 3, 4)
    assert slot_cosine(same) == pytest.approx(1.0)
    assert slot_cosine(torch.eye(3)[None]) == pytest.approx(0.0)
    assert slot_cosine(torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])) == pytest.approx(-1.0)


def test_identity_share_tells_learned_from_sampled_queries():
    scenes = multi_object_scenes(48, seed=0, image_size=16, max_objects=2)
    torch.manual_seed(0)
    learned = ObjectEncoder("slot", queries="learned", **ENCODER)
    sampled = ObjectEncoder("slot", queries="sampled", **ENCODER)
    # learned queries: slot i starts from query i in both views; sampled: a fresh random order per view
    assert identity_share(learned, scenes) > 0.9
    assert identity_share(sampled, scenes) < 0.6


def test_train_arm_is_seeded_and_score_reports_every_number():
    scenes = multi_object_scenes(16, seed=1, image_size=16, max_objects=2)
    arm = Arm("slot", lambda_object=0.5)
    m1, log1 = train_arm(arm, scenes, 3, ENCODER, epochs=1, batch_size=8, device="cpu", progress=False)
    m2, log2 = train_arm(arm, scenes, 3, ENCODER, epochs=1, batch_size=8, device="cpu", progress=False)
    assert log1 == log2 and len(log1) == 2 and set(log1[0]) == {"global", "object", "identity"}
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)
    row = score(m1, scenes, scenes)
    assert set(row) == {"IoU", "FG-ARI", "colour AUC (slots)", "colour AUC (global)", "slot cos", "identity %"}
    assert 0 <= row["IoU"] <= 100 and 0 <= row["identity %"] <= 100 and -100 <= row["FG-ARI"] <= 100


@pytest.mark.parametrize(
    "kwargs", [{"attention": "self"}, {"queries": "kmeans"}, {"object_kind": "ctr"}, {"matching": "greedy"}]
)
def test_arm_rejects_unknown_settings(kwargs):
    with pytest.raises(ValueError):
        Arm(**kwargs)

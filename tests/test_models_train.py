import pytest
import torch
import torch.nn.functional as F

from oaedu.data import background_challenge, background_challenge_suite
from oaedu.models import build_model, capture_attention, count_parameters, num_prefix_tokens, patch_grid, tiny_vit
from oaedu.train import StepOutput, evaluate_background_challenge, fit, parameter_groups


@pytest.mark.parametrize("name", ["vit", "mixer", "convmixer"])
def test_builders_make_small_working_models(name):
    model = build_model(name, num_classes=5)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 5)
    assert count_parameters(model) < 300_000


def test_build_model_rejects_unknown_names():
    with pytest.raises(ValueError, match="vit, mixer, convmixer"):
        build_model("resnet")


def test_patch_grid_is_derived_not_hard_coded():
    assert patch_grid(tiny_vit(image_size=32, patch_size=4)) == (8, 8)
    assert patch_grid(tiny_vit(image_size=48, patch_size=8)) == (6, 6)
    assert patch_grid(build_model("mixer", image_size=64, patch_size=8)) == (8, 8)
    with pytest.raises(ValueError, match="grid_size"):
        patch_grid(build_model("convmixer"))


@pytest.mark.parametrize("kwargs", [{}, {"reg_tokens": 2}, {"patch_size": 8, "image_size": 48}])
def test_capture_attention_records_every_block(kwargs):
    torch.manual_seed(0)
    model = tiny_vit(depth=3, **kwargs).eval()
    images = torch.rand(2, 3, model.patch_embed.img_size[0], model.patch_embed.img_size[1])
    with torch.no_grad():
        fused_out = model(images)
    with capture_attention(model) as record:
        out = model(images)
    torch.testing.assert_close(out, fused_out, atol=1e-5, rtol=1e-5)  # capturing does not change the model
    assert all(m.fused_attn for m in (b.attn for b in model.blocks))  # fused setting restored
    h, w = patch_grid(model)
    n = h * w + num_prefix_tokens(model)
    assert len(record.probs) == 3
    for probs in record.probs:
        assert probs.shape == (2, 2, n, n)
        torch.testing.assert_close(probs.sum(-1), torch.ones(2, 2, n))
    # The CLS scores are the pre-softmax logits of the CLS row: recompute the row from q, k independently.
    q, k = record.q[-1], record.k[-1]
    logits = torch.einsum("bhd,bhnd->bhn", q[:, :, 0], k) * record.scales[-1]
    torch.testing.assert_close(logits.softmax(-1), record.probs[-1][:, :, 0], atol=1e-6, rtol=1e-5)
    p = num_prefix_tokens(model)
    torch.testing.assert_close(record.cls_scores().flatten(2), logits[..., p:], atol=1e-6, rtol=1e-5)
    assert record.cls_attention().shape == (2, 2, h, w)


def test_cls_scores_carry_gradients_into_the_model():
    model = tiny_vit(depth=2)
    with capture_attention(model) as record:
        model(torch.rand(2, 3, 32, 32))
    record.cls_scores().square().sum().backward()
    assert model.blocks[-1].attn.qkv.weight.grad.abs().sum() > 0
    assert model.blocks[0].attn.qkv.weight.grad.abs().sum() > 0


def test_capture_attention_rejects_models_without_attention():
    with pytest.raises(ValueError, match="no timm Attention"):
        with capture_attention(build_model("mixer")):
            pass
    with capture_attention(tiny_vit()) as record:
        with pytest.raises(ValueError, match="no attention recorded"):
            record.cls_scores()


def test_fit_learns_an_easy_task_and_evaluation_covers_every_variant():
    torch.manual_seed(0)
    train = background_challenge("original", 512, seed=0, num_classes=3, bg_correlation=1.0)
    model = tiny_vit(num_classes=3, depth=2)
    history = fit(model, train, epochs=4, batch_size=64, lr=3e-3, progress=False, device="cpu")
    assert history.loss[-1] < history.loss[0] and history.accuracy[-1] > 80
    assert len(history.epoch_time) == 4 and history.seconds_per_epoch > 0
    suite = background_challenge_suite(64, seed=1, num_classes=3, bg_correlation=1.0)
    result = evaluate_background_challenge(model, suite)
    assert set(result) == set(suite) | {"bg_gap"}
    assert result["bg_gap"] == pytest.approx(result["mixed_same"] - result["mixed_rand"])
    assert result["original"] > 80


def test_fit_uses_the_custom_step_and_rejects_bad_epochs():
    calls = []

    def step(model, images, labels, masks):
        calls.append(masks.shape)
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        return StepOutput(loss, logits, {"ce": loss.item(), "calls": len(calls)})

    data = background_challenge("original", 64, seed=0, num_classes=3)
    history = fit(
        tiny_vit(num_classes=3, depth=1), data, epochs=1, batch_size=32, step=step, progress=False, device="cpu"
    )
    assert calls == [(32, 32, 32), (32, 32, 32)]
    assert [t["calls"] for t in history.terms] == [1, 2]  # each step's terms, in order
    assert history.loss[0] == pytest.approx(sum(t["ce"] for t in history.terms) / 2)
    assert len(history.accuracy) == 1

    def old_style(model, images, labels, masks):  # a (loss, logits) tuple is refused with the fix in the message
        logits = model(images)
        return F.cross_entropy(logits, labels), logits

    with pytest.raises(TypeError, match="StepOutput"):
        fit(tiny_vit(num_classes=3, depth=1), data, epochs=1, step=old_style, progress=False, device="cpu")
    with pytest.raises(ValueError, match="epochs"):
        fit(tiny_vit(num_classes=3), data, epochs=0)


def test_parameter_groups_exempt_kappa_and_vectors():
    model = tiny_vit(depth=1)
    model.kappa = torch.nn.Parameter(torch.zeros(1, 1))
    decay, no_decay = parameter_groups(model, 0.05)
    assert any(p is model.kappa for p in no_decay["params"])
    assert all(p.ndim >= 2 for p in decay["params"])
    assert not any(p is model.pos_embed for p in decay["params"])

"""The real DLRM training step: it learns, and it updates embeddings sparsely."""

from __future__ import annotations

import pytest
import torch

from calibrate.dlrm import Dlrm, DlrmShape


def shape(optimizer: str = "rowwise_adagrad", interaction: str = "dot") -> DlrmShape:
    return DlrmShape(dense_features=8, table_rows=(50, 70), table_dims=(4, 4), bottom_mlp=(16,),
                     top_mlp=(8,), interaction=interaction, optimizer=optimizer)


def batch(seed: int = 0) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    dense = torch.randn(32, 8, generator=gen)
    bags = [torch.randint(0, 10, (32, 3), generator=gen), torch.randint(0, 20, (32, 2), generator=gen)]
    labels = (dense[:, 0] > 0).float()
    return dense, bags, labels


@pytest.mark.parametrize("optimizer", ["sgd", "rowwise_adagrad"])
@pytest.mark.parametrize("interaction", ["dot", "cat"])
def test_loss_falls_on_a_fixed_batch(optimizer: str, interaction: str) -> None:
    model = Dlrm(shape(optimizer, interaction), torch.device("cpu"), seed=1,
                 dense_learning_rate=0.2)
    dense, bags, labels = batch()
    losses = [model.step(dense, bags, labels) for _ in range(100)]
    assert losses[-1] < 0.5 * losses[0]


def test_only_rows_the_batch_touched_change() -> None:
    model = Dlrm(shape(), torch.device("cpu"), seed=1)
    before = [t.weight.clone() for t in model.tables]
    dense, bags, labels = batch()
    model.step(dense, bags, labels)
    for table, old, idx in zip(model.tables, before, bags, strict=True):
        changed = (table.weight != old).any(dim=1).nonzero().flatten()
        assert set(changed.tolist()) <= set(idx.flatten().tolist())
        assert changed.numel() > 0
        untouched = sorted(set(range(old.shape[0])) - set(idx.flatten().tolist()))
        assert torch.equal(table.weight[untouched], old[untouched])


def test_a_step_reports_its_parts_in_order() -> None:
    from calibrate.dlrm import PARTS

    model = Dlrm(shape(), torch.device("cpu"), seed=1)
    seen: list[str] = []
    dense, bags, labels = batch()
    plain = Dlrm(shape(), torch.device("cpu"), seed=1).step(dense, bags, labels)
    assert model.step(dense, bags, labels, lap=seen.append) == plain  # the same step
    assert tuple(seen) == PARTS


def test_shape_from_a_model_mapping() -> None:
    mapping = {"dense_features": 13, "bottom_mlp": [64], "top_mlp": [32], "interaction": "dot",
               "optimizer": "adagrad",
               "tables": [{"rows": 100, "dim": 16}, {"rows": 200, "dim": 16}]}
    built = DlrmShape.from_mapping(mapping)
    assert built.bottom_widths == (13, 64, 16)
    assert built.top_input == 16 + 3  # dense vector + C(3, 2) pairwise products
    assert built.optimizer == "rowwise_adagrad"


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="one dimension"):
        DlrmShape(8, (10, 10), (4, 8), (16,), (8,), "dot")
    with pytest.raises(ValueError, match="optimizer"):
        DlrmShape(8, (10,), (4,), (16,), (8,), "dot", "lamb")

"""With `tensorboard` installed, the learner logs through fastai's own `TensorBoardCallback`: its smoothed loss and
hyper-parameters per micro-batch, and the per-term rows of `MetricsLogger` by optimizer step, in one events folder."""
import pytest

tb = pytest.importorskip("tensorboard")


def test_tensorboard_events_hold_fastai_scalars_and_the_terms(tmp_path):
    import torch
    from torch.utils.data import Dataset
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from cxr_graphalign.core import set_seed
    from cxr_graphalign.models import create_model
    from cxr_graphalign.train import pretrain_dataloaders, pretrain_learner

    class Reports(Dataset):
        def __len__(self): return 16
        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            return {"study_id": str(i), "image": torch.rand(1, 64, 64, generator=g), "text": f"small left effusion. case {i}."}

    set_seed(0)
    model = create_model("convirt-tiny", image__img_size=64)
    learn = pretrain_learner(pretrain_dataloaders(Reports(), model, batch_size=4, seed=0), model, lr=1e-3, out=tmp_path,
                             accumulate=2, verbose=False)
    from fastai.callback.tensorboard import TensorBoardCallback
    assert isinstance(learn.tensor_board_hypers, TensorBoardCallback)
    learn.fit(1)
    ev = EventAccumulator(str(tmp_path / "tb")); ev.Reload()
    tags = set(ev.Tags()["scalars"])
    assert {"train_loss", "lr_0", "train/loss", "train/term/global", "train/lr"} <= tags, tags
    assert [e.step for e in ev.Scalars("train/term/global")] == [1, 2]        # one row per optimizer step
    assert len(ev.Scalars("train_loss")) == 4                                  # fastai's: one per micro-batch

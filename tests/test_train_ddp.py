"""Two CPU processes (gloo) training through `pretrain_learner` get the same loss and gradients as one process on
the same global batch: sharding, DDP gradient averaging and cross-rank negatives (all-gather with gradient).

Run as a script, this file is one rank: `RANK=.. WORLD_SIZE=.. MASTER_ADDR=.. MASTER_PORT=.. python test_train_ddp.py OUT`."""
import os, sys, socket, subprocess
from pathlib import Path

import pytest

GLOBAL_BATCH = 8


def _worker(out: Path) -> int:
    import torch
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    from torch.utils.data import Dataset
    from fastai.callback.core import Callback
    from cxr_graphalign.core import set_seed
    from cxr_graphalign.models import create_model
    from cxr_graphalign.train import init_distributed, pretrain_dataloaders, pretrain_learner

    rank, world, _ = init_distributed("gloo")

    class Reports(Dataset):
        def __len__(self): return 16
        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            return {"study_id": str(i), "image": torch.rand(1, 64, 64, generator=g),
                    "text": f"{'left' if i % 2 else 'right'} lower lobe opacity, case {i}."}

    class Capture(Callback):
        "Eval mode (no dropout, batch-norm running stats: same maths per sample); keep loss, batch and gradients."
        order = 7
        def before_batch(self): self.learn.model.eval()
        def after_loss(self):
            if self.training: self.loss, self.idx = self.learn.loss.detach().clone(), self.learn.yb[0].clone()
        def before_step(self):
            m = self.learn.model.module if hasattr(self.learn.model, "module") else self.learn.model
            self.grads = {n: p.grad.detach().clone() for n, p in m.named_parameters() if p.grad is not None}
            self.ddp = type(self.learn.model).__name__

    set_seed(0)
    model = create_model("convirt-tiny", image__img_size=64)
    dls = pretrain_dataloaders(Reports(), model, batch_size=GLOBAL_BATCH // world, seed=0)
    cap = Capture()
    learn = pretrain_learner(dls, model, lr=0., max_steps=1, clip=None, verbose=False, tensorboard=False, cbs=[cap])
    learn.fit(1)
    loss, idx = cap.loss, cap.idx
    if world > 1:
        torch.distributed.all_reduce(loss); loss /= world          # the global loss is the mean of the ranks' losses
        parts = [torch.zeros_like(idx) for _ in range(world)]
        torch.distributed.all_gather(parts, idx); idx = torch.cat(parts)
    if rank == 0:
        gathered = [n for n, m in model.loss.named_modules() if getattr(m, "gather", False)]
        torch.save({"loss": loss, "idx": idx, "grads": cap.grads, "wrapper": cap.ddp, "gathered": gathered},
                   out / f"world{world}.pt")
    if world > 1: torch.distributed.destroy_process_group()
    return 0


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process(tmp_path):
    import torch
    port, procs = _free_port(), []
    base = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    for rank, world in [(0, 2), (1, 2), (0, 1)]:
        env = {**base, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world)}
        procs.append(subprocess.Popen([sys.executable, __file__, str(tmp_path)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for p in procs:
        out = p.communicate(timeout=540)[0]
        assert p.returncode == 0, out
    one, two = torch.load(tmp_path / "world1.pt", weights_only=True), torch.load(tmp_path / "world2.pt", weights_only=True)
    assert two["wrapper"] == "DistributedDataParallel" and one["wrapper"] != "DistributedDataParallel"
    assert two["gathered"], "no loss term was switched to global-batch negatives"
    assert torch.equal(one["idx"], two["idx"]), "the two ranks together did not see the single-process batch"
    torch.testing.assert_close(two["loss"], one["loss"], rtol=1e-5, atol=1e-6)
    assert one["grads"].keys() == two["grads"].keys()
    for k in one["grads"]:
        torch.testing.assert_close(two["grads"][k], one["grads"][k], rtol=1e-4, atol=1e-6, msg=lambda m: f"{k}: {m}")


if __name__ == "__main__":
    sys.exit(_worker(Path(sys.argv[1])))

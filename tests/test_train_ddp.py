"""Two CPU processes (gloo) training through `pretrain_learner` get the same loss, the same value of every loss term
and the same gradients as one process on the same global batch, for every registered method preset: sharding, DDP
gradient averaging and cross-rank negatives (global, graph-summary, node, edge and GLoRIA-local terms gather every
rank's elements; MGCA's prototype codes are balanced over the global batch; MGCA's token term is per sample; F-L's view terms gather
every rank's studies with their lateral masks, on mixed one- and two-view studies, and its MLM averages over every rank's masked tokens).

Run as a script, this file is one rank: `RANK=.. WORLD_SIZE=.. MASTER_ADDR=.. MASTER_PORT=.. python test_train_ddp.py OUT`."""
import os, sys, socket, subprocess, time
from pathlib import Path

import pytest

GLOBAL_BATCH = 8
N_REPORTS = 16


def _reports() -> list[str]:
    "Real IU X-ray reports (even ids) with findings: different numbers of graph nodes and edges per report."
    from cxr_graphalign.models.encoders import iu_report_texts
    return [t for t in iu_report_texts("even") if len(t) > 80][:N_REPORTS]


def _grad_summary(g):
    "A compact fingerprint of one gradient (full gradients of 12 presets would be gigabytes): its norm, then its first 256 values."
    import torch
    flat = g.detach().flatten().double()
    return torch.cat([flat.norm()[None], flat[:256]])


def _run_method(method: str, texts: list[str], world: int) -> dict:
    "One optimizer step (lr 0) of `method` on the global batch, sharded over the ranks; per-rank loss, terms, batch, gradients."
    import torch
    from torch.utils.data import Dataset
    from fastai.callback.core import Callback
    from cxr_graphalign.core import set_seed
    from cxr_graphalign.models import create_model
    from cxr_graphalign.train import pretrain_dataloaders, pretrain_learner

    class Reports(Dataset):
        def __len__(self): return len(texts)
        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            sample = {"study_id": str(i), "image": torch.rand(1, 64, 64, generator=g), "text": texts[i]}
            if i % 3: sample["lateral"] = torch.rand(1, 64, 64, generator=g)   # mixed one- and two-view studies (F-L reads them, others ignore them)
            return sample

    class Capture(Callback):
        "Eval mode (no dropout, batch-norm running stats: same maths per sample); keep loss, terms, batch and gradients."
        order = 7
        def before_batch(self): self.learn.model.eval()
        def after_loss(self):
            if self.training:
                self.loss, self.idx = self.learn.loss.detach().clone(), self.learn.yb[0].clone()
                self.terms = {k: v.detach().clone() for k, v in self.learn.loss_func.loss.terms.items()}
        def before_step(self):
            m = self.learn.model.module if hasattr(self.learn.model, "module") else self.learn.model
            self.grads = {n: _grad_summary(p.grad) for n, p in m.named_parameters() if p.grad is not None}
            self.ddp = type(self.learn.model).__name__

    set_seed(0)
    model = create_model(method, image__img_size=64)
    model.loss.schedule = None        # every term on (a cascade would switch most of them off at step 0)
    model.loss.set_progress(0.)
    dls = pretrain_dataloaders(Reports(), model, batch_size=GLOBAL_BATCH // world, seed=0)
    cap = Capture()
    learn = pretrain_learner(dls, model, lr=0., max_steps=1, clip=None, verbose=False, tensorboard=False, cbs=[cap])
    learn.fit(1)
    gathered = sorted(n for n, m in model.loss.named_modules() if getattr(m, "gather", False) is True)
    return {"loss": cap.loss, "terms": cap.terms, "idx": cap.idx, "grads": cap.grads, "wrapper": cap.ddp, "gathered": gathered}


def _worker(out: Path) -> int:
    import torch
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    from cxr_graphalign.models import list_methods
    from cxr_graphalign.train import init_distributed

    rank, world, _ = init_distributed("gloo")
    texts, results = _reports(), {}
    for method in list_methods():
        t0 = time.time()
        r = _run_method(method, texts, world)
        if world > 1:   # the global loss (and each term) is the mean of the ranks' shares; the batch is the union of the shards
            for t in [r["loss"], *r["terms"].values()]:
                torch.distributed.all_reduce(t); t /= world
            parts = [torch.zeros_like(r["idx"]) for _ in range(world)]
            torch.distributed.all_gather(parts, r["idx"]); r["idx"] = torch.cat(parts)
        results[method] = r
        if rank == 0: print(f"{method} ({time.time() - t0:.0f} s): loss {r['loss'].item():.6f} terms {({k: round(v.item(), 6) for k, v in r['terms'].items()})}", flush=True)
    if rank == 0: torch.save(results, out / f"world{world}.pt")
    if world > 1: torch.distributed.destroy_process_group()
    return 0


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


# Terms defined per rank (each rank aligns its own batch): their value, the preset's total and its gradients are not
# compared with the single-process run; every other term of the preset still is. Each entry says why; keep it short.
RANK_LOCAL_TERMS = {"arsa": "ASG's regions and sentences differ in number per rank; ARSA aligns those of the rank's own batch",
                    "impression_global": "HybridMED's image-impression negatives (studies without an impression masked) come from the rank's own batch",
                    "findings_local": "HybridMED's patch-findings term runs on the rank's own batch",
                    "caption": "token-mean over the rank's impressions (token counts differ per rank)",
                    "summary": "token-mean over the rank's impressions (token counts differ per rank)",
                    "distill": "token-mean over the rank's impressions (token counts differ per rank)"}

@pytest.mark.slow
def test_two_gloo_ranks_match_one_process_for_every_term_of_every_preset(tmp_path):
    import torch
    from cxr_graphalign.models import list_methods
    port, procs = _free_port(), []
    base = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    for rank, world in [(0, 2), (1, 2), (0, 1)]:
        env = {**base, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world)}
        procs.append(subprocess.Popen([sys.executable, __file__, str(tmp_path)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = []
    for p in procs:
        logs.append(p.communicate(timeout=1500)[0])
        assert p.returncode == 0, logs[-1][-6000:]
    one, two = torch.load(tmp_path / "world1.pt", weights_only=True), torch.load(tmp_path / "world2.pt", weights_only=True)
    assert sorted(one) == sorted(two) == list_methods(), "a registered preset was not run"
    for method in list_methods():
        o, t = one[method], two[method]
        assert t["wrapper"] == "DistributedDataParallel" and o["wrapper"] != "DistributedDataParallel", method
        assert t["gathered"] or set(o["terms"]) <= set(RANK_LOCAL_TERMS), f"{method}: no loss term was switched to global-batch negatives"
        assert torch.equal(o["idx"], t["idx"]), f"{method}: the two ranks together did not see the single-process batch"
        assert o["terms"].keys() == t["terms"].keys() and o["terms"], method
        for term in o["terms"]:
            assert torch.isfinite(o["terms"][term]), f"{method} {term}: {o['terms'][term]} (every term must be on)"
            if term in RANK_LOCAL_TERMS: continue
            torch.testing.assert_close(t["terms"][term], o["terms"][term], rtol=1e-5, atol=1e-6,
                                       msg=lambda m: f"{method}, term {term!r}: 2 ranks vs 1 process: {m}")
        if set(o["terms"]) & set(RANK_LOCAL_TERMS): continue
        torch.testing.assert_close(t["loss"], o["loss"], rtol=1e-5, atol=1e-6, msg=lambda m: f"{method} loss: {m}")
        assert o["grads"].keys() == t["grads"].keys(), method
        for k in o["grads"]:
            scale = float(o["grads"][k][0])   # the gradient's norm: float error of summing over ranks is relative to it
            torch.testing.assert_close(t["grads"][k], o["grads"][k], rtol=1e-4, atol=1e-7 + 1e-5 * scale, msg=lambda m: f"{method} {k}: {m}")


if __name__ == "__main__":
    sys.exit(_worker(Path(sys.argv[1])))

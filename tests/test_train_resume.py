"""Kill a real training process (SIGKILL) midway, interrupt the resumed one (SIGINT), resume again, and check the
final weights equal those of an uninterrupted run with the same seed.

Run as a script, this file is the training worker: `python test_train_resume.py OUT [--resume] [--slow]`."""
import os, sys, signal, subprocess, time, random
from pathlib import Path

import pytest

STEPS_PER_EPOCH, EPOCHS, EVERY = 6, 2, 2


def _worker(out: Path, resume: bool, slow: bool) -> int:
    import torch
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    from torch.utils.data import Dataset
    from fastai.callback.core import Callback
    from cxr_graphalign.core import set_seed
    from cxr_graphalign.models import create_model
    from cxr_graphalign.train import pretrain_dataloaders, pretrain_learner, find_checkpoint

    class Reports(Dataset):
        "Random 64 px images with short report texts (deterministic per index)."
        def __len__(self): return 48
        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            side = "left" if i % 2 else "right"
            return {"study_id": str(i), "image": torch.rand(1, 64, 64, generator=g),
                    "text": f"small {side} pleural effusion. case {i}."}

    class Slow(Callback):
        "Give the test time to kill or interrupt between checkpoints."
        order = 99
        def after_batch(self):
            if self.training: time.sleep(0.25)

    set_seed(0)
    model = create_model("convirt-tiny", image__img_size=64)
    dls = pretrain_dataloaders(Reports(), model, batch_size=4, seed=0)
    learn = pretrain_learner(dls, model, lr=1e-3, out=out, checkpoint_every=EVERY, accumulate=2, seed=0,
                             verbose=False, tensorboard=False, cbs=[Slow()] if slow else None)
    if resume and find_checkpoint(out) is not None: learn.load_checkpoint(find_checkpoint(out))
    learn.fit(EPOCHS)
    if learn.interrupted: return 130
    torch.save(model.state_dict(), out / "final.pt")
    return 0


def _start(out, *flags):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, __file__, str(out), *flags], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(path: Path, proc, timeout=300):
    t0 = time.time()
    while not path.exists():
        if proc.poll() is not None: raise AssertionError(f"worker ended before writing {path.name}:\n{proc.stdout.read()}")
        if time.time() - t0 > timeout: raise AssertionError(f"{path} did not appear in {timeout}s")
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_interrupt_resume_matches_uninterrupted(tmp_path):
    import torch
    straight = _start(tmp_path / "straight")
    run = tmp_path / "run"
    killed = _start(run, "--slow")
    _wait_for(run / "checkpoints" / "step-00000004.pt", killed)
    time.sleep(random.uniform(0, 0.3))             # somewhere between checkpoints 4 and 6
    killed.send_signal(signal.SIGKILL); killed.wait()
    assert not (run / "final.pt").exists()

    interrupted = _start(run, "--resume", "--slow")
    _wait_for(run / "checkpoints" / "step-00000008.pt", interrupted)
    interrupted.send_signal(signal.SIGINT)
    out = interrupted.communicate(timeout=300)[0]
    assert interrupted.returncode == 130, out
    assert "SIGINT received" in out
    ck = torch.load(sorted((run / "checkpoints").glob("step-*.pt"))[-1], weights_only=True)
    assert 8 <= ck["step"] < STEPS_PER_EPOCH * EPOCHS, ck["step"]   # written at the interruption, not at the end

    done = _start(run, "--resume")
    assert done.wait(timeout=300) == 0, done.stdout.read()
    assert straight.wait(timeout=300) == 0, straight.stdout.read()
    a = torch.load(tmp_path / "straight" / "final.pt", weights_only=True)
    b = torch.load(run / "final.pt", weights_only=True)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"weights differ after kill + resume: {different[:5]}"
    import pandas as pd
    m = pd.read_csv(run / "metrics.csv")
    assert m["step"].tolist() == list(range(1, STEPS_PER_EPOCH * EPOCHS + 1))   # no duplicated or missing rows


if __name__ == "__main__":
    sys.exit(_worker(Path(sys.argv[1]), "--resume" in sys.argv, "--slow" in sys.argv))

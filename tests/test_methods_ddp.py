"""ASG's soft-label global term and PLACE's observation alignment with cross-rank negatives: two CPU processes (gloo),
each with half of a batch and `gather=True`, average to the single-process loss on the whole batch (the soft targets
are built from the gathered tags, the observation negatives from the gathered observations).

Run as a script, this file is one rank: `RANK=.. WORLD_SIZE=.. MASTER_ADDR=.. MASTER_PORT=.. python test_methods_ddp.py OUT`."""
import json, os, socket, subprocess, sys
from pathlib import Path

B, K, E, T = 8, 3, 6, 5


def _inputs():
    import torch
    g = torch.Generator().manual_seed(0)
    return {"image_emb": torch.randn(B, E, generator=g), "text_emb": torch.randn(B, E, generator=g),
            "tag_targets": (torch.rand(B, T, 3, generator=g) < 0.3).float(), "obs_image": torch.randn(B, K, E, generator=g),
            "obs_text": torch.randn(B, K, E, generator=g), "logit_scale": torch.tensor(8.)}


def _losses(out, gather):
    from cxr_graphalign.losses.asg import SoftLabelGlobal
    from cxr_graphalign.losses.place import ObservationAlignment
    return {"soft_global": float(SoftLabelGlobal(alpha=0.5, gather=gather)(out)), "observation": float(ObservationAlignment(gather=gather)(out))}


def _worker(path: Path) -> int:
    import torch, torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    n = B // world
    full = _inputs()
    mine = {k: (v[rank * n:(rank + 1) * n] if v.dim() else v) for k, v in full.items()}
    (path / f"rank{rank}.json").write_text(json.dumps(_losses(mine, gather=True)))
    dist.destroy_process_group()
    return 0


def test_gathered_terms_match_one_process(tmp_path):
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, __file__, str(tmp_path)], env={**env, "RANK": str(r)}, stderr=subprocess.PIPE, text=True) for r in range(2)]
    for p in procs: assert p.wait(timeout=300) == 0, p.stderr.read()
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    single = _losses(_inputs(), gather=False)
    for name, value in single.items():
        assert abs((ranks[0][name] + ranks[1][name]) / 2 - value) < 1e-5, (name, ranks, single)
    assert ranks[0]["soft_global"] != ranks[1]["soft_global"]


if __name__ == "__main__":
    sys.exit(_worker(Path(sys.argv[1])))

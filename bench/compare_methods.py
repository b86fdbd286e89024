"""ASG and PLACE against ConVIRT and CGA on phantom radiographs at the same budget: probe AUC, retrieval, pointing game,
with chance levels, over several seeds (mean and a 95% t-interval across seeds).

    python bench/compare_methods.py                        # 3 seeds, 4 tiny presets, ~20-40 min on one CPU thread
    python bench/compare_methods.py --seeds 0 --n-train 64 --epochs 1   # a smoke run

Each seed draws its own disjoint train / probe / test phantoms (rendered from the even-id IU X-ray reports, never the
odd-id blind set) and every method trains on exactly that split with the demo's training code (`pretrain_stage`)
and is scored with its evaluation (`evaluate_stage`): a frozen-feature linear probe on the reports' CheXpert labels,
image->text / text->image recall@K over the test reports, and the pointing game of sentence and graph-node
heatmaps against the phantoms' finding masks. Chance levels: probe AUC 0.5; recall@K = K / n_test; pointing = the
mean area fraction of the masks (the hit rate of a uniformly random point).

`--text-pooling mean` applies one override to every method: the tiny presets' scratch BERT pools the [CLS] state,
which at initialisation is almost the same vector for every report (cosine ~1.0) and is still collapsed after a
budget this small, leaving retrieval and pointing at chance for all methods alike."""
import argparse, json, math, sys, time
from pathlib import Path

METRICS = ["probe AUC", "i2t R@1", "i2t R@5", "t2i R@5", "pointing (sentence)", "pointing (node)"]

def t_interval(values: list[float]) -> tuple[float, float]:
    "Mean and the half-width of the 95% t-interval across seeds (NaN half-width for one seed)."
    from scipy import stats
    n = len(values); mean = sum(values) / n
    if n < 2: return mean, float("nan")
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)

def _pretrain_with(method, overrides, train_ds, cfg, out):
    "`cxr_graphalign.demo.pretrain_stage` with config overrides applied to the preset (the same training code and budget)."
    from cxr_graphalign.core import set_seed
    from cxr_graphalign.models import create_model
    from cxr_graphalign.train import pretrain_dataloaders, pretrain_learner
    set_seed(cfg.seed)
    model = create_model(method, **overrides)
    learn = pretrain_learner(pretrain_dataloaders(train_ds, model, batch_size=cfg.batch_size, seed=cfg.seed), model, lr=cfg.lr, out=out, verbose=False)
    with learn.no_bar(), learn.no_logging(): learn.fit(cfg.epochs)
    return model.eval()

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", nargs="+", default=["convirt-tiny", "cga-tiny", "asg-tiny", "place-tiny"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--n-train", type=int, default=384)
    p.add_argument("--n-probe", type=int, default=128)
    p.add_argument("--n-test", type=int, default=128)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--text-pooling", choices=["cls", "mean"], default=None, help="override every method's text pooling (default: the presets')")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/compare")
    args = p.parse_args(argv)
    import numpy as np, torch
    from cxr_graphalign.demo import DemoConfig, phantom_splits, evaluation_data, pretrain_stage, evaluate_stage, results_rows
    torch.set_num_threads(args.threads)
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    over = {"text__pooling": args.text_pooling} if args.text_pooling else {}
    rows, chance = [], {}
    for seed in args.seeds:
        cfg = DemoConfig(n_train=args.n_train, n_probe=args.n_probe, n_test=args.n_test, size=args.size, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, seed=seed, methods=tuple(args.methods))
        splits = phantom_splits(cfg); data = evaluation_data(splits)
        area = {lv: float(np.mean([np.asarray(it["mask"]).mean() for it in data["grounding"][1] if it["level"] == lv])) for lv in ("sentence", "node")}
        chance[seed] = {"probe AUC": 0.5, "i2t R@1": 1 / args.n_test, "i2t R@5": 5 / args.n_test, "t2i R@5": 5 / args.n_test,
                        "pointing (sentence)": area["sentence"], "pointing (node)": area["node"]}
        for method in args.methods:
            t0 = time.perf_counter()
            model = pretrain_stage(method, splits["train"], cfg, out / f"seed{seed}" / method) if not over else \
                    _pretrain_with(method, over, splits["train"], cfg, out / f"seed{seed}" / method)
            row = results_rows({method: evaluate_stage(model, data)})[0]
            rows.append({"seed": seed, **row, "train_s": time.perf_counter() - t0})
            print(json.dumps(rows[-1]), flush=True)
    (out / "results.json").write_text(json.dumps({"args": vars(args), "rows": rows, "chance": chance}, indent=2))
    print(f"\n{len(args.seeds)} seeds {args.seeds}, {args.n_train} train / {args.n_probe} probe / {args.n_test} test phantoms, "
          f"{args.size} px, {args.epochs} epochs, batch {args.batch_size}: mean +- 95% t-interval half-width")
    print(f"{'method':14s}" + "".join(f"{m:>22s}" for m in METRICS))
    for method in args.methods:
        cells = [t_interval([r[m] for r in rows if r["method"] == method]) for m in METRICS]
        print(f"{method:14s}" + "".join(f"{mu:>14.3f} +- {hw:5.3f}" for mu, hw in cells))
    print(f"{'chance':14s}" + "".join(f"{np.mean([c[m] for c in chance.values()]):>22.3f}" for m in METRICS))
    return 0

if __name__ == "__main__":
    sys.exit(main())

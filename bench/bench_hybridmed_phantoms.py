"""HybridMED against ConVIRT and CGA on phantoms at the same budget: probe AUC, retrieval, pointing game (and generation), over seeds.

    python bench/bench_hybridmed_phantoms.py                        # 3 seeds, 512 training phantoms x 4 epochs, 128 px
    python bench/bench_hybridmed_phantoms.py --seeds 0 1 2 3 4 --epochs 8 --out runs/hybridmed-compare

Every method trains on the same phantoms (rendered from even-id IU reports, one data split), with the same
steps, batch, learning rate and image size; the seed changes initialisation and batch order only. The probe and
test phantoms are disjoint from the training ones. Each figure is the mean over seeds with a 95% confidence
interval (Student t), beside its chance level: 0.5 for the probe AUC, K / n_test for recall@K, the mean mask area
for the pointing game, and for generation the scores of a random other study's impression and of the most frequent
impression."""
import argparse, json, math, time
from pathlib import Path

import numpy as np
import torch

def t95(values) -> tuple[float, float]:
    "Mean and half-width of the 95% Student-t confidence interval."
    from scipy import stats
    v = np.asarray(values, float)
    if len(v) < 2: return float(v.mean()), float("nan")
    return float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))

def run(args) -> dict:
    from cxr_graphalign.demo import DemoConfig, phantom_splits, pretrain_stage, evaluation_data, evaluate_stage
    from cxr_graphalign.evaluate.generation import generation_scores, chance_scores
    from cxr_graphalign.models.hybridmed import generate_impressions, report_sections
    torch.set_num_threads(args.threads)
    data_cfg = DemoConfig(n_train=args.n_train, n_probe=args.n_probe, n_test=args.n_test, size=args.size, epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, seed=0)
    splits = phantom_splits(data_cfg)
    train = [splits["train"][i] for i in range(len(splits["train"]))]   # rendered once, shared by every method and seed
    data = evaluation_data(splits)
    test_x, test_texts, _ = data["test"]
    items = data["grounding"][1]
    chance = {"probe_auc": 0.5, **{f"{d}_R@{k}": k / len(test_texts) for d in ("i2t", "t2i") for k in (1, 5)},
              **{f"pointing_{lv}": float(np.mean([np.asarray(it["mask"]).mean() for it in items if it["level"] == lv])) for lv in ("sentence", "node")}}
    refs = [report_sections({"text": t})["impression"] for t in test_texts]
    has_ref = [i for i, r in enumerate(refs) if r]
    gen_chance = chance_scores([refs[i] for i in has_ref], seed=0)
    per_seed = {m: [] for m in args.methods}
    for seed in args.seeds:
        for method in args.methods:
            t0 = time.time()
            model = pretrain_stage(method, train, DemoConfig(**{**data_cfg.__dict__, "seed": seed}), Path(args.out)/f"{method}-seed{seed}")
            r = evaluate_stage(model, data)
            row = {"probe_auc": r["probe"]["auc"], **{f"{d}_R@{k}": r["retrieval"][f"{d}_R@{k}"] for d in ("i2t", "t2i") for k in (1, 5)},
                   **{f"pointing_{lv}": r["grounding"][lv]["pointing"] for lv in ("sentence", "node")}}
            if "hybridmed" in getattr(model, "parts", {}):
                hyps = generate_impressions(model, test_x[has_ref], beam_size=3)
                row.update({f"gen_{k}": v for k, v in generation_scores(hyps, [refs[i] for i in has_ref]).items()})
                row["examples"] = [{"generated": h, "reference": refs[i]} for h, i in list(zip(hyps, has_ref))[:6]]
            row["seconds"] = time.time() - t0
            per_seed[method].append(row)
            print(f"seed {seed} {method}: " + ", ".join(f"{k}={v:.3f}" for k, v in row.items() if isinstance(v, float)), flush=True)
    summary = {m: {k: t95([r[k] for r in rows]) for k in rows[0] if isinstance(rows[0][k], float)} for m, rows in per_seed.items()}
    return {"config": vars(args), "chance": chance, "generation_chance": gen_chance, "per_seed": per_seed, "summary": summary}

def table(res: dict) -> str:
    "Markdown: methods x metrics, mean ± 95% CI half-width, chance level in the last row."
    keys = list(res["chance"])
    lines = ["| method | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for m, s in res["summary"].items(): lines.append(f"| {m} | " + " | ".join(f"{s[k][0]:.3f} ± {s[k][1]:.3f}" for k in keys) + " |")
    lines.append("| chance | " + " | ".join(f"{res['chance'][k]:.3f}" for k in keys) + " |")
    gen = {m: s for m, s in res["summary"].items() if "gen_bleu4" in s}
    if gen:
        gk = ["bleu1", "bleu4", "rougeL", "ce_f1"]
        lines += ["", "| generation | " + " | ".join(gk) + " |", "|---" * (len(gk) + 1) + "|"]
        for m, s in gen.items(): lines.append(f"| {m} | " + " | ".join(f"{s['gen_' + k][0]:.3f} ± {s['gen_' + k][1]:.3f}" for k in gk) + " |")
        for c in ("shuffled", "frequent"): lines.append(f"| chance ({c}) | " + " | ".join(f"{res['generation_chance'][f'{c}_{k}']:.3f}" for k in gk) + " |")
    return "\n".join(lines)

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", nargs="+", default=["convirt-tiny", "cga-tiny", "hybridmed-tiny"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n-train", type=int, default=512); p.add_argument("--n-probe", type=int, default=192); p.add_argument("--n-test", type=int, default=128)
    p.add_argument("--size", type=int, default=128); p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32); p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", default="runs/hybridmed-compare", help="run folders and results.json")
    args = p.parse_args(argv)
    res = run(args)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out)/"results.json").write_text(json.dumps(res, indent=1))
    print(table(res))
    return 0

if __name__ == "__main__":
    raise SystemExit(main())

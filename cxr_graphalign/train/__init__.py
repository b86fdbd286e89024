"""Alignment pre-training on a fastai `Learner`: the loop and exact resume (`loop`), checkpoints (`checkpoint`),
the callbacks fastai has no equivalent for (`callbacks`), and `cxr-graphalign pretrain` (`cli`).

Hand-written: it re-exports the public names explicitly, so `from cxr_graphalign.train import X` works for every
name of the former `train.py` module and IDEs and type checkers see them. `MixedPrecision` and `GradientClip`
are fastai's own classes now (the learner uses them; `AutocastMixedPrecision` is fastai's `MixedPrecision`
autocasting on the model's device, bf16 on CPU included)."""
from fastai.callback.fp16 import MixedPrecision
from fastai.callback.training import GradientClip, GradientAccumulation

from ..distributed import init_distributed, enable_gather, DistributedCallback
from .callbacks import PRECISIONS, AutocastMixedPrecision, NonFiniteGuard, cascade_stage, MetricsLogger
from .checkpoint import (CKPT_FORMAT, rng_state, set_rng_state, find_checkpoint, save_checkpoint, load_checkpoint,
                         CheckpointCallback)
from .loop import (EpochBatchSampler, BatchCollator, pretrain_dataloaders, AlignmentLoss, warmup_cosine, warmup_cosine_sched,
                   PretrainLoop, PretrainLearner, pretrain_learner)
from .cli import (RUN_FILES, add_pretrain_args, check_data, model_views, build_datasets, build_model, check_run_folder, clear_run_folder,
                  pretrain_main, pretrain_cli)

__all__ = ['PRECISIONS', 'CKPT_FORMAT', 'RUN_FILES', 'EpochBatchSampler', 'BatchCollator', 'pretrain_dataloaders',
           'AlignmentLoss', 'rng_state', 'set_rng_state', 'warmup_cosine', 'warmup_cosine_sched', 'PretrainLoop',
           'MixedPrecision', 'AutocastMixedPrecision', 'GradientClip', 'GradientAccumulation', 'NonFiniteGuard',
           'cascade_stage', 'MetricsLogger', 'find_checkpoint', 'save_checkpoint', 'load_checkpoint', 'CheckpointCallback',
           'init_distributed', 'enable_gather', 'DistributedCallback', 'PretrainLearner', 'pretrain_learner',
           'add_pretrain_args', 'check_data', 'model_views', 'build_datasets', 'build_model', 'check_run_folder', 'clear_run_folder',
           'pretrain_main', 'pretrain_cli']

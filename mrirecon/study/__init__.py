"""The seed study reproduced with our own tool (``mrirecon study OUTPUT_DIR [--quick]``).

1. cell efficiency: RIM (GRU), RIM-MGU, IRIM (IndRNN), CIRIM, RecurrentVarNet against CS
   (L1-wavelet and TV in torch, BART pics when installed): quality, seconds per slice, parameters, memory;
2. unseen contrasts: models trained on T1w only, scored on simulated T1w/T2w/FLAIR and a real T2;
3. pathology: lesion contrast, CNR and contrast preservation on unseen white-matter lesions;
4. prospective undersampling: reconstructions and data-consistency residuals without a reference.

Evaluation data are simulated with fixed seeds no training run drew (checked, see
``data.training_overlap``); ``results.md`` is written from the run's own rows.
"""
from .data import FULL, QUICK, STUDY_SEED, StudySpec
from .runner import run_study

__all__ = ["run_study", "StudySpec", "QUICK", "FULL", "STUDY_SEED"]

"""Evaluation metrics of the paper (Sec. 4, "Metrics"): pairwise frame quality (PSNR, SSIM), the Frechet
distance and FVD (``frechet``, ``fvd``, with the I3D network of ``i3d``), sample diversity DIV (``diversity``, with ``motion``'s flow
estimate for its moving-parts mask), and the spread of a score over videos and runs (``intervals``).

Conventions shared by every pairwise metric here:

* inputs: two stacks of frames of the same shape and dtype, torch tensors or numpy arrays, channels
  last ``[..., H, W, C]`` as ccvs stores frames (``[T, H, W, 3]``, ``[B, T, H, W, 3]``), or
  ``[..., C, H, W]`` with ``channels_first=True``;
* dtype: uint8 (``data_range`` defaults to 255) or floating point (``data_range`` defaults to 1.0,
  i.e. frames in [0, 1]; pass 2.0 for frames in [-1, 1]);
* output: one float64 value per frame, shaped like the leading dims ``[...]``, on the inputs' device;
  computed in float64 whatever the input dtype, all frames at once;
* per time step: for ``[B, T]`` values, ``values.mean(0)`` is the ``[T]`` score at each time step t,
  ``values.mean()`` the overall score.
"""

from ccvs_core.metrics.diversity import diversity
from ccvs_core.metrics.frechet import fit_gaussian, frechet_distance, frechet_distance_of
from ccvs_core.metrics.psnr import psnr
from ccvs_core.metrics.ssim import ssim

__all__ = ["diversity", "fit_gaussian", "frechet_distance", "frechet_distance_of", "psnr", "ssim"]

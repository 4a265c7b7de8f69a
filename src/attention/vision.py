r"""Attention on images: patches as tokens.

An image is cut into square patches; each flattened patch is one token, and attention runs
over the tokens as over the words of a sentence (ViT's idea). The experiment that trains a
classifier on such tokens is ``attention.experiments.vision``.

Explained in the note ``docs/en/notes/vision.md`` (中文 ``docs/zh/notes/vision.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._internal.validation import as_real_array, check_int
from .qk_norm import qk_norm_attention

__all__ = ["patchify", "patch_self_attention"]


def patchify(images: ArrayLike, patch: int = 4) -> np.ndarray:
    """Cut ``images (B, H, W)`` into ``(B, (H/p)*(W/p), p*p)`` patch tokens, row by row.

    Parameters
    ----------
    images : array_like, shape (B, H, W)
    patch : int, default 4
        Side p of a square patch; must divide H and W.

    Returns
    -------
    numpy.ndarray, shape (B, (H/p)*(W/p), p*p)
        Token ``r * (W/p) + c`` is the patch in patch-row r, patch-column c.

    Raises
    ------
    TypeError, ValueError
        ``images`` not 3-D, ``patch`` not a positive integer or not dividing the image size.

    Examples
    --------
    >>> import numpy as np
    >>> patchify(np.arange(16.0).reshape(1, 4, 4), patch=2)[0]
    array([[ 0.,  1.,  4.,  5.],
           [ 2.,  3.,  6.,  7.],
           [ 8.,  9., 12., 13.],
           [10., 11., 14., 15.]])
    """
    x = as_real_array("images", images, min_ndim=3)
    patch = check_int("patch", patch, minimum=1)
    if x.ndim != 3:
        raise ValueError(f"images must have shape (B, H, W), got {x.shape}")
    B, H, W = x.shape
    if H % patch or W % patch:
        raise ValueError(f"image size {(H, W)} is not a multiple of patch {patch}")
    x = x.reshape(B, H // patch, patch, W // patch, patch)  # (B, H/p, p, W/p, p)
    return x.transpose(0, 1, 3, 2, 4).reshape(B, (H // patch) * (W // patch), patch * patch)  # (B, P, p*p)


def patch_self_attention(image: ArrayLike, *, patch: int = 4, temperature: float = 8.0) -> np.ndarray:
    """Self-attention among the patches of one ``image (H, W)``: weights ``(P, P)``, row = querying patch.

    Queries and keys are the raw patches, L2-normalised (QK-norm), so a patch attends to the
    patches whose content points the same way: a shape finds its copies, noise finds little.

    Parameters
    ----------
    image : array_like, shape (H, W)
    patch : int, default 4
    temperature : float, default 8.0
        Scores are cosine similarities times this.

    Returns
    -------
    numpy.ndarray, shape (P, P)
        Row i: how patch i's attention is spread over all patches (sums to 1).

    Examples
    --------
    A plus in patches 0 and 3 of an 8 x 8 image, a bar in patch 2:

    >>> import numpy as np
    >>> plus = np.array([[0, 1, 0, 0], [1, 1, 1, 1], [0, 1, 0, 0], [0, 1, 0, 0]], dtype=float)
    >>> bar = np.zeros((4, 4)); bar[1:3] = 1
    >>> image = np.zeros((8, 8))
    >>> image[:4, :4] = image[4:, 4:] = plus
    >>> image[4:, :4] = bar
    >>> w = patch_self_attention(image)
    >>> bool(w[0, 3] == w[0, 0] and w[0, 3] > 10 * w[0, 2])     # a plus attends to both pluses, not the bar
    True
    """
    x = as_real_array("image", image, min_ndim=2)
    if x.ndim != 2:
        raise ValueError(f"image must have shape (H, W), got {x.shape}")
    tokens = patchify(x[None], patch)[0]  # (P, p*p)
    # temperature is checked by qk_norm_attention, under the same name
    return qk_norm_attention(tokens, tokens, tokens, temperature=temperature, return_weights=True)[1]  # (P, P)

"""HCOMPRESS tiles decoded from several threads at once (CFITSIO's decoder keeps static state)."""

from __future__ import annotations

import threading

import numpy as np
from astropy.io import fits

from imcombiners.io.fits import probe


def test_hcompress_frames_read_from_many_threads_are_exact(tmp_path):
    rng = np.random.default_rng(0)
    frames, want = [], []
    for i in range(6):
        a = (1000 + rng.normal(0, 20, (200, 300))).astype(np.int16)
        p = tmp_path / f"h{i}.fits"
        fits.CompImageHDU(a, compression_type="HCOMPRESS_1", tile_shape=(16, 300)).writeto(p)
        frames.append(probe(str(p)))
        want.append(a)
    problems: list[str] = []

    def work(k: int) -> None:
        try:
            for r in range(30):
                i = (k + r) % len(frames)
                if not np.array_equal(frames[i].read(), want[i]):
                    problems.append(f"frame {i} differs")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            problems.append(repr(exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Without the lock this gave "qtree_decode64: bad format code" and wrong pixels.
    assert problems == []

"""Check FITS inputs from their headers before any pixel is read.

Why: a run over hundreds of files should fail in a second with one clear line
("input 'x.fits' has shape (512, 512), expected (1024, 1024) like 'a.fits'"), not
after minutes inside Dask with a traceback. Headers are read by
:func:`imcombiners.io.fits.probe`, the same function the engine uses.
"""

from __future__ import annotations

from imcombiners._record import Record

from ._errors import CLIError

__all__ = ["InputInfo", "inspect_inputs"]


class InputInfo(Record):
    """What the headers say about the inputs.

    ``paths`` are the input names as given (IRAF selectors such as ``a.fits[1]`` kept:
    they name the images in messages and IMCMBnnn cards); ``frames`` say where each
    image is (file, HDU).
    """

    paths: list[str]
    frames: list  # imcombiners.io.fits.FitsFrame per input
    shape: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.paths)

    @property
    def files(self) -> list[str]:
        """The input files (selectors removed)."""
        return [f.path for f in self.frames]

    @property
    def hdus(self) -> list[int]:
        return [f.hdu for f in self.frames]

    @property
    def dtypes(self) -> list[str]:
        return [str(f.dtype) for f in self.frames]

    @property
    def nbytes(self) -> int:
        """Bytes of all inputs as delivered (after BZERO/BSCALE)."""
        import math

        return sum(math.prod(f.shape) * f.dtype.itemsize for f in self.frames)


def _parse_hdu(hdu: str | int | None) -> object:
    from imcombiners.io.fits.names import parse_hdu

    try:
        return parse_hdu(hdu, what="--hdu")
    except (TypeError, ValueError) as exc:
        raise CLIError(str(exc)) from None


def inspect_inputs(paths: list[str], hdu: str | int | None = None, *, view: str = "library",
                   same_shape: bool = True) -> InputInfo:
    """Read every input's header and check shape and pixel type.

    Parameters
    ----------
    paths : list of str
        FITS files (existence already checked).
    hdu : str or int, optional
        HDU index, EXTNAME or EXTNAME,EXTVER for names without an IRAF selector
        (``a.fits[SCI]``); default the first HDU with image data (so multi-extension
        files with an empty primary and tile-compressed files work without options).
    view : {"library", "iraf"}
        Pixel dtype policy of the frames (see :mod:`imcombiners.io.fits.pixels`).
    same_shape : bool
        Refuse inputs whose shape differs from the first's (False: frames placed at
        offsets, ``--offsets wcs``).

    Raises
    ------
    CLIError
        Unreadable file, no image, differing shapes, or 64-bit integer pixels (which
        no supported workspace holds exactly: convert them first).
    """
    from imcombiners.io.fits import probe

    from ._inputs import file_of, looks_like_list

    want = _parse_hdu(hdu)
    frames = []
    for path in paths:
        try:
            frame = probe(path, want, view=view)
        except (KeyError, IndexError):
            raise CLIError(f"input '{path}' has no HDU {hdu!r}") from None
        except (OSError, ValueError, TypeError) as exc:
            fname = file_of(path)
            if looks_like_list(fname):
                raise CLIError(f"input '{path}' is a list of file names, not a FITS image: write "
                               f"@{path} to combine the images it lists") from None
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            msg = msg[len(fname) + 2:] if msg.startswith(fname + ": ") else msg
            raise CLIError(f"cannot read FITS image '{path}': {msg}") from None
        if frame.bitpix == 64:
            kind = frame.pixels.kind if frame.pixels.kind != "scaled" else "scaled int64"
            raise CLIError(
                f"input '{path}' has unsupported pixel type {kind} (BITPIX=64): it cannot be "
                "combined exactly; convert it to float64 or int32 first"
            )
        if same_shape and frames and frame.shape != frames[0].shape:
            raise CLIError(
                f"input '{path}' has shape {frame.shape}, expected {frames[0].shape} like '{paths[0]}'"
            )
        frames.append(frame)
    if not frames:
        raise CLIError("no input images given")
    return InputInfo(paths=list(paths), frames=frames, shape=frames[0].shape)

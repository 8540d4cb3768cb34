"""Man-page text for ``imcombiners --help`` and each command's ``--help``."""

from __future__ import annotations

MAIN_DESCRIPTION = """\
NAME
    imcombiners - combine stacks of images with pixel rejection (IRAF IMCOMBINE),
    out of core

SYNOPSIS
    imcombiners combine INPUTS... -o OUTPUT [options]
    imcombiners imcombine INPUT OUTPUT [name=value ...]
    imcombiners plan INPUTS... [options]
    imcombiners demo [--dir DIR] [options]
    imcombiners --version

DESCRIPTION
    imcombiners combines N images of the same shape into one, pixel by pixel, after
    optional thresholds, zero/scale normalisation and rejection of outliers (sigma
    clipping, CCD-noise clipping, min/max, percentile clipping, ...). Images are read
    from FITS files window by window, so a stack far larger than memory is combined
    within --memory-limit.

COMMANDS
    combine     combine FITS images into a FITS or zarr master (options as below)
    imcombine   the same, with IRAF IMCOMBINE's parameter names and defaults
                (imcombiners imcombine @in.lis master.fits combine=median reject=sigclip)
    plan        dry run: print the tiles, memory and estimated time of a combine
    demo        make a synthetic raw-frame set, combine it out of core, write a
                master FITS, a rejection map and a PNG quick-look

    Run 'imcombiners COMMAND --help' for the options of a command.
"""

MAIN_EPILOG = """\
EXIT STATUS
    0  success
    1  the run failed (I/O error, engine failure); the output is not left half written
    2  bad input: missing file, shape mismatch, unsupported dtype, unknown parameter
  130  interrupted

EXAMPLES
    imcombiners demo
    imcombiners combine raw/*.fits -o master.fits --method median --reject sigclip \\
        --scale median --memory-limit 2GB --preview master.png
    imcombiners imcombine @flats.lis flat.fits combine=median reject=ccdclip \\
        rdnoise=4.5 gain=1.6 scale=mode

SEE ALSO
    Python API: imcombiners.Combiner, imcombiners.ndcombine, imcombiners.imcombine,
    imcombiners.dask.combine. Documentation: docs/cli.md, docs/quickstart.md.
"""

COMBINE_DESCRIPTION = """\
NAME
    imcombiners combine - combine FITS images with pixel rejection, out of core

SYNOPSIS
    imcombiners combine INPUTS... -o OUTPUT [options]

DESCRIPTION
    Each output pixel is computed from the N input pixels at that position, in this
    order: thresholds (--lthreshold/--hthreshold) mask samples outside the range;
    zero and scale normalise each frame (value - zero) / scale; the rejection
    algorithm (--reject) removes outliers; the remaining samples are combined
    (--method). Non-finite input pixels (NaN, inf) are always ignored.

    INPUTS are FITS files, globs ('raw/*.fits', sorted by name), @list files (one
    name per line, '#' comments) or IRAF comma lists (a.fits,b.fits). An image in an
    extension is named as in IRAF (raw/a.fits[1], a.fits[SCI], a.fits[SCI,2]) or
    chosen for every input with --hdu; by default the primary HDU is used when it
    holds an image, else the first image extension (multi-extension files with an
    empty primary work as given). All images must have the same shape. Integer (8,
    16, 32 bit; unsigned 16/32-bit with BZERO; scaled with BSCALE; BLANK pixels are
    ignored) and float images are accepted, tile-compressed (.fz: Rice, GZIP,
    HCOMPRESS, PLIO) or gzip/bzip2-compressed (.gz, .bz2) too; 64-bit integers are
    refused (convert them first).

    OUTPUT ending in .zarr is written as a zarr store, anything else as FITS. The
    FITS header starts from the first input's header (as IRAF does: instrument,
    detector, dates, WCS...; primary and extension cards merged), without the cards
    that no longer describe the output (BZERO/BSCALE/BLANK, DATAMIN/DATAMAX,
    checksums, EXTNAME...), then the provenance keywords (NCOMBINE, IMCMBnnn, the
    parameters, zero/scale/weight used, the library version). A non-standard input
    card is repaired (e.g. a decimal-comma number becomes a string) or dropped, with
    one warning naming the card and the file. Every output path is checked before
    any work: an output that is one of the inputs is refused even with --overwrite.
    Outputs are written under a temporary name and renamed when complete.
"""

COMBINE_EPILOG = """\
REJECTION PARAMETERS
    Names follow IRAF: sigclip, avsigclip and ccdclip use --lsigma/--hsigma,
    --mclip (median centre), --nkeep, --maxiters; ccdclip and crreject (ccdclip
    rejecting high values only) add --rdnoise (e-), --gain (e-/ADU), --snoise,
    --sigscale; minmax uses --nlow/--nhigh (counts, or fractions < 1); pclip uses
    --pclip and the sigmas; linearclip keeps
    low_scale*centre - low <= value <= upp_scale*centre + upp, set with --low-scale,
    --low, --upp-scale, --upp. Beyond IRAF (Siril / PixInsight): winsorized
    (winsorized sigma clipping: --lsigma/--hsigma, --cutoff), linearfit (linear fit
    clipping: --lsigma/--hsigma in mean absolute residuals, default 5) and gesd
    (generalized ESD test: --max-outliers, --significance); all three take --nkeep,
    --maxrej, --maxiters. --grow R also rejects samples within R pixels of a
    rejected one in the same frame.

DIAGNOSTICS
    --diagnostics DIR writes DIR/nrej.fits (number of samples not used per pixel:
    rejected, masked or outside thresholds), DIR/nused.fits (samples used),
    DIR/std.fits (the spread sigma-type rejectors clipped with, last pass),
    DIR/flags.fits (output flags: 1 masked input, 2 maxiters hit, 4 nkeep hit,
    8 maxrej hit, 16 grow). --products chooses among nrej, nused, std, flags, low,
    upp (clipping bounds), nit (passes) and mask (N planes, 1 = sample excluded).
    With a .zarr OUTPUT the diagnostics are arrays of the same zarr group.

EXIT STATUS
    0 success; 1 the run failed; 2 bad input (message on one line); 130 interrupted.

EXAMPLES
    Median of sky flats scaled to the first, sigma clipping at 3 sigma, 2 GB limit:
        imcombiners combine flats/*.fits -o flat.fits --method median \\
            --scale median --reject sigclip --lsigma 3 --hsigma 3 --memory-limit 2GB

    Bias frames, min/max rejection, on a running Dask scheduler:
        imcombiners combine @bias.lis -o bias.fits --method mean --reject minmax \\
            --nlow 1 --nhigh 1 --scheduler tcp://10.0.0.5:8786

    Science frames on a SLURM cluster started for the run (4 jobs of 8 cores and
    32 GB; the jobs are cancelled at the end, on errors and on Ctrl-C):
        imcombiners combine 'sci/*.fits' -o coadd.zarr --reject sigclip \\
            --cluster slurm --jobs 4 --cores 8 --memory 32GB --queue normal \\
            --account astro42 --walltime 02:00:00

    Dark frames with CCD noise clipping and a preview PNG:
        imcombiners combine dark_*.fits -o dark.zarr --reject ccdclip \\
            --rdnoise 4.5 --gain 1.6 --diagnostics diag/ --preview dark.png
"""

IMCOMBINE_DESCRIPTION = """\
NAME
    imcombiners imcombine - IRAF IMCOMBINE's task form

SYNOPSIS
    imcombiners imcombine INPUT OUTPUT [name=value ...]

DESCRIPTION
    Takes the parameters of IRAF's images.immatch.imcombine with IRAF's defaults
    and meanings, and reproduces IRAF's numbers (float32 arithmetic, IRAF's image
    statistics, nkeep add-back). Parameter names may be abbreviated to a unique
    prefix (comb=median), booleans are yes/no (or mclip+ / mclip-), INDEF leaves a
    threshold unset, and zero/scale/weight accept none, mode, median, mean,
    exposure, !KEYWORD or @file (one number per image).

    INPUT is an @list file, a glob, a comma-separated list or a single file. Images
    in extensions are named as in IRAF: file.fits[1], file.fits[SCI], file.fits[SCI,2];
    without a name, the primary HDU is used when it holds an image, else the first
    image extension. Files are read as IRAF reads them (unsigned 16-bit as ushort,
    unsigned 32-bit and scaled integers as real); tile-compressed (.fz) and gzip
    (.gz) files are accepted. The output header is the first input's (primary and
    extension cards), without the cards that no longer apply, plus IMCMBnnn,
    NCOMBINE and the parameters.

PARAMETERS
    combine    average|median|lmedian|sum|minimum|maximum   (average)
               minimum/maximum: the average left by reject=minmax with
               nhigh/nlow = N-1 (as IRAF users compute them); reject must be none
    reject     none|minmax|ccdclip|crreject|sigclip|avsigclip|pclip   (none)
    blank      value where no pixel is left   (0.)
    scale, zero, weight    none|mode|median|mean|exposure|!KEY|@file   (none)
    statsec    section for the statistics, IRAF syntax [x1:x2,y1:y2]   ("")
    expname    exposure time keyword   ("")
    lthreshold, hthreshold    thresholds   (INDEF)
    nlow, nhigh    minmax counts   (1, 1)
    nkeep      keep at least (>0) / reject at most (<0)   (1)
    mclip      median (yes) or mean (no) centre   (yes)
    lsigma, hsigma    clipping factors   (3., 3.)
    rdnoise, gain, snoise    CCD noise model   (0., 1., 0.)
    sigscale   scale tolerance of the noise model   (0.1)
    pclip      pclip parameter   (-0.5)
    grow       rejection growing radius in pixels   (0.)
    sigmas, rejmasks, nrejmasks, expmasks    optional output images ("")
    logfile    STDOUT (default), a file, or "" for no log

    Images may differ in size and have any number of axes (offsets= places them on
    the output as IRAF does). project=yes combines each input along its highest
    axis and writes one output per input: output and product names are then lists
    (a,b or @file) of as many names as inputs. imcmb other than $I is refused.
    This form reads the images into memory; use 'combine' for stacks larger than
    memory.
"""

IMCOMBINE_EPILOG = """\
EXIT STATUS
    0 success; 1 the run failed; 2 bad input (message on one line); 130 interrupted.

EXAMPLES
    imcombiners imcombine @in.lis master.fits combine=median reject=sigclip lsigma=3
    imcombiners imcombine 'flat*.fits' flat.fits comb=average reject=ccdclip \\
        rdnoise=4.5 gain=1.6 scale=mode sigmas=flat_sigma.fits
"""

PLAN_DESCRIPTION = """\
NAME
    imcombiners plan - dry run of a combine: tiles, memory, estimated time

SYNOPSIS
    imcombiners plan INPUTS... [combine options]

DESCRIPTION
    Reads only the FITS headers (and, for the time estimate, one small window of
    every input), then prints the plan the out-of-core engine would follow under
    --memory-limit: tile shape and count, predicted peak memory, bytes to read, and
    an estimated run time. Nothing is written.
"""

DEMO_DESCRIPTION = """\
NAME
    imcombiners demo - synthetic raw frames combined out of core

SYNOPSIS
    imcombiners demo [--dir DIR] [--frames N] [--size HxW] [--dtype uint16|float32]
                     [--memory-limit BYTES] [--seed S]

DESCRIPTION
    Writes a realistic set of raw CCD frames (bias level, read noise, Poisson sky
    with a different level in each frame, flat-field pattern, stars that move
    between frames, cosmic rays, hot columns, a satellite streak, two bad frames)
    as FITS files into DIR/raw/, combines them from disk with the out-of-core engine
    under a memory limit smaller than the stack (median, scale=median, sigma
    clipping), and writes DIR/master.fits, DIR/nrej.fits (rejected samples per
    pixel) and DIR/quicklook.png (a raw frame, the master, the rejection map).
    DIR defaults to ./imcombiners-demo in the current directory.
"""

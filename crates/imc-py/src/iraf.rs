//! Bindings of the IRAF-exact engine (`imc_core::iraf`), used by `imcombiners.imcombine`.
//!
//! * `iraf_combine(frames, masks, shape, params, want, double, threads=0)` -> dict
//! * `iraf_stats(frame, mask, shape, section, lthreshold, hthreshold, sorted)` -> (mode, median, mean)
//! * `iraf_factors(scale, zero, weight, ncombine)` -> dict (IRAF's normalisation)

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use imc_core::input::{as_be, BeF32, BeF64, BeI16, BeI32, BeU16, Input};
use imc_core::iraf::{self, Combine, Factors, IntPath, Params, Placement, Reject, Source, Want, Work};

use imc_core::Error;

use crate::arrays::{borrow_all, put_opt, slices};
use crate::error::{call_err, core_err, dtype_err, guarded, layout_err};
use crate::strict::strict_dict;

/// For the `swapped` kind of a memory-mapped FITS image (big-endian words), expand
/// `$m!(raw word type, big-endian pixel type)`; `None` (native arrays) falls through.
macro_rules! match_swapped {
    ($swapped:expr, $m:ident) => {
        match $swapped {
            None => {}
            Some("f4") => $m!(u32, BeF32),
            Some("f8") => $m!(u64, BeF64),
            Some("i2") => $m!(u16, BeI16),
            Some("u2") => $m!(u16, BeU16),
            Some("i4") => $m!(u32, BeI32),
            Some(s) => return Err(call_err(format!("swapped: unknown type {s:?}"))),
        }
    };
}

fn parse_combine(s: &str) -> PyResult<Combine> {
    Ok(match s {
        "average" => Combine::Average,
        "median" => Combine::Median,
        "lmedian" => Combine::LMedian,
        "sum" => Combine::Sum,
        "quadrature" => Combine::Quadrature,
        "nmodel" => Combine::NModel,
        _ => {
            return Err(core_err(Error::param(
                "combine",
                format!("unknown {s:?}; use average, median, lmedian, sum, quadrature or nmodel"),
            )))
        }
    })
}

fn parse_reject(s: &str) -> PyResult<Reject> {
    Ok(match s {
        "none" => Reject::None,
        "minmax" => Reject::MinMax,
        "sigclip" => Reject::SigClip,
        "avsigclip" => Reject::AvSigClip,
        "ccdclip" => Reject::CcdClip,
        "crreject" => Reject::CrReject,
        "pclip" => Reject::PClip,
        _ => {
            return Err(core_err(Error::param(
                "reject",
                format!("unknown {s:?}; use none, minmax, sigclip, avsigclip, ccdclip, crreject or pclip"),
            )))
        }
    })
}

strict_dict!(
    /// `_core.iraf_combine`'s parameters (imcombiners/_iraf_params.py `kernel_params`):
    /// every key required (the INDEF ones as None), none other accepted.
    ParamsDict "params" {
        combine: String, reject: String, nlow: f32, nhigh: f32, nkeep: i32, mclip: bool,
        lsigma: Option<f32>, hsigma: Option<f32>, rdnoise: Vec<f32>, gain: Vec<f32>, snoise: Vec<f32>,
        sigscale: f32, pclip: f32, grow: f32, lthreshold: Option<f32>, hthreshold: Option<f32>, blank: f32,
        scales: Vec<f32>, zeros: Vec<f32>, wts: Vec<f32>, doscale: bool, dozero: bool, dowts: bool,
        exposures: Vec<f32>, int_path: String, novalue: bool,
    } {}
);

fn params_from_dict(d: &Bound<'_, PyAny>) -> PyResult<Params> {
    let p = ParamsDict::from_dict(d)?;
    let factors = Factors {
        scales: p.scales,
        zeros: p.zeros,
        wts: p.wts,
        doscale: p.doscale,
        dozero: p.dozero,
        dowts: p.dowts,
        warnings: Vec::new(),
    };
    Ok(Params {
        combine: parse_combine(&p.combine)?,
        reject: parse_reject(&p.reject)?,
        nlow: p.nlow,
        nhigh: p.nhigh,
        nkeep: p.nkeep,
        mclip: p.mclip,
        lsigma: p.lsigma,
        hsigma: p.hsigma,
        rdnoise: p.rdnoise,
        gain: p.gain,
        snoise: p.snoise,
        sigscale: p.sigscale,
        pclip: p.pclip,
        grow: p.grow,
        lthreshold: p.lthreshold,
        hthreshold: p.hthreshold,
        blank: p.blank,
        factors,
        exposures: p.exposures,
        int_path: match p.int_path.as_str() {
            "real" => IntPath::Real,
            "short" => IntPath::Short,
            "int" => IntPath::Int,
            other => return Err(call_err(format!("params: int_path: unknown {other:?}"))),
        },
        novalue: p.novalue,
    })
}

/// One frame's mask codes: a uint8 array of codes, or a bool array (true = bad = code 1).
enum Codes<'py> {
    U8(PyReadonlyArray1<'py, u8>),
    Bool(PyReadonlyArray1<'py, bool>),
}

impl Codes<'_> {
    fn slice(&self, i: usize) -> PyResult<&[u8]> {
        let err = |_| layout_err(format!("masks[{i}] must be C-contiguous"));
        Ok(match self {
            Codes::U8(a) => a.as_slice().map_err(err)?,
            Codes::Bool(a) => iraf::bool_codes(a.as_slice().map_err(err)?),
        })
    }
}

/// Borrow optional per-frame mask codes (each item None, uint8 codes or bool).
fn borrow_codes<'py>(masks: Option<&Bound<'py, PyList>>) -> PyResult<Option<Vec<Option<Codes<'py>>>>> {
    let Some(list) = masks else { return Ok(None) };
    let mut out = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        if a.is_none() {
            out.push(None);
        } else if let Ok(b) = a.extract::<PyReadonlyArray1<'py, bool>>() {
            out.push(Some(Codes::Bool(b)));
        } else {
            let u = a.extract::<PyReadonlyArray1<'py, u8>>().map_err(|_| {
                dtype_err(format!("masks[{i}] must be None or a 1-D uint8 (codes) or bool array"))
            })?;
            out.push(Some(Codes::U8(u)));
        }
    }
    Ok(Some(out))
}

/// One frame's placement as Python gives it: `(oy, ox, h, w)` or `(offsets, shape)`.
#[derive(FromPyObject)]
enum PlaceArg {
    Plane((i64, i64, usize, usize)),
    Axes((Vec<i64>, Vec<usize>)),
}

impl PlaceArg {
    fn into_placement(self, ndim: usize) -> PyResult<Placement> {
        match self {
            PlaceArg::Plane((oy, ox, h, w)) => Ok(Placement::plane(oy, ox, h, w)),
            PlaceArg::Axes((off, len)) => {
                let k = ndim.saturating_sub(2);
                if off.len() != ndim || len.len() != ndim || ndim == 0 || k > iraf::place::MAX_OUTER {
                    return Err(core_err(Error::Shape(format!(
                        "placement: give one offset and one length per output axis ({ndim}, at most {})",
                        2 + iraf::place::MAX_OUTER
                    ))));
                }
                let (oy, h) = if ndim >= 2 { (off[ndim - 2], len[ndim - 2]) } else { (0, 1) };
                let mut p = Placement::plane(oy, off[ndim - 1], h, len[ndim - 1]);
                for a in 0..k {
                    p.outer[a] = (off[a], len[a]);
                }
                Ok(p)
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_typed<'py, P, T>(
    py: Python<'py>,
    data: &[&[P]],
    masks: &Option<Vec<Option<Codes<'py>>>>,
    place: Option<&[Placement]>,
    shape: &[usize],
    p: &Params,
    want: Want,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>>
where
    P: Input,
    T: numpy::Element + Work,
{
    let mk: Option<Vec<Option<&[u8]>>> = match masks {
        Some(m) => Some(
            m.iter()
                .enumerate()
                .map(|(i, c)| c.as_ref().map(|c| c.slice(i)).transpose())
                .collect::<PyResult<Vec<_>>>()?,
        ),
        None => None,
    };
    let out = py.detach(|| {
        guarded(|| iraf::imcombine_placed::<P, T>(data, mk.as_deref(), place, shape, p, want, threads))
    })?;
    let d = PyDict::new(py);
    d.set_item("output", PyArray1::from_vec(py, out.output))?;
    put_opt(&d, "sigma", out.sigma)?;
    put_opt(&d, "rejmask", out.rejmask)?;
    put_opt(&d, "nrejmask", out.nrej)?;
    put_opt(&d, "expmask", out.expmask)?;
    put_opt(&d, "bpmask", out.bpmask)?;
    d.set_item("maskscal", out.maskscal)?;
    d.set_item("maskzero", out.maskzero)?;
    Ok(d)
}

/// Combine N frames exactly as IRAF imcombine.
///
/// Parameters
/// ----------
/// frames : list of N 1-D C-contiguous arrays of one dtype (uint8, uint16, int16, int32,
///     float32, float64) and length M = prod(shape).
/// masks : None, or a list of N items: None (no mask), a 1-D bool array (True = bad) or
///     a 1-D uint8 array of mask codes (0 good, 1 bad, 2 bad with a value under
///     novalue, 4 good with a nonzero mask value), laid out as the frame.
/// shape : spatial shape of the output (lines run along the last axis).
/// params : dict of validated parameters and normalised factors, every key given (see
///     imcombiners/_iraf_params.py `kernel_params`).
/// want : list of extra outputs among "sigma", "rejmask", "nrejmask", "expmask".
/// double : bool, True = IRAF's double path (float64 working type).
/// threads : int, 0 = all cores.
/// swapped : None, or the big-endian type of the frames when they are the raw bytes of a
///     FITS file viewed as native unsigned words of the same width (no converted copy):
///     "f4" / "i4" (uint32 words), "f8" (uint64), "i2" / "u2" (uint16; "u2" = int16 with
///     BZERO 32768).
/// placement : None, or per frame `(oy, ox, h, w)`: frame i holds h lines of w pixels
///     whose first pixel lies on output line oy, column ox (IRAF offsets; 1-D or 2-D
///     output), or `(offsets, shape)`: the frame's shape and the output pixel of its
///     first pixel, NumPy order, one entry per output axis (any dimensionality).
#[pyfunction]
#[pyo3(signature = (frames, masks, shape, params, want, double, threads=0, swapped=None, placement=None))]
#[allow(clippy::too_many_arguments)]
fn iraf_combine<'py>(
    py: Python<'py>,
    frames: &Bound<'py, PyList>,
    masks: Option<&Bound<'py, PyList>>,
    shape: Vec<usize>,
    params: &Bound<'py, PyAny>,
    want: Vec<String>,
    double: bool,
    threads: usize,
    swapped: Option<&str>,
    placement: Option<Vec<PlaceArg>>,
) -> PyResult<Bound<'py, PyDict>> {
    if frames.is_empty() {
        return Err(core_err(Error::param("images", "at least one image is required")));
    }
    let p = params_from_dict(params)?;
    let mut w = Want::default();
    for name in &want {
        match name.as_str() {
            "sigma" => w.sigma = true,
            "rejmask" => w.rejmask = true,
            "nrejmask" => w.nrej = true,
            "expmask" => w.expmask = true,
            "bpmask" => w.bpmask = true,
            _ => return Err(call_err(format!("want: unknown output {name:?}"))),
        }
    }
    let masks = borrow_codes(masks)?;
    let place: Option<Vec<Placement>> = placement
        .map(|v| v.into_iter().map(|q| q.into_placement(shape.len())).collect::<PyResult<Vec<_>>>())
        .transpose()?;
    let place = place.as_deref();
    macro_rules! run_as {
        ($pix:ty, $data:expr) => {{
            let data: Vec<&[$pix]> = $data;
            return if double {
                run_typed::<$pix, f64>(py, &data, &masks, place, &shape, &p, w, threads)
            } else {
                run_typed::<$pix, f32>(py, &data, &masks, place, &shape, &p, w, threads)
            };
        }};
    }
    macro_rules! dispatch_be {
        ($raw:ty, $pix:ty) => {{
            let a = borrow_all::<$raw>(frames)?
                .ok_or_else(|| dtype_err(format!("frames: swapped={swapped:?} needs {} words", stringify!($raw))))?;
            run_as!($pix, slices(&a, "frames")?.into_iter().map(as_be::<$pix>).collect())
        }};
    }
    match_swapped!(swapped, dispatch_be);
    macro_rules! dispatch {
        ($t:ty) => {
            if let Some(a) = borrow_all::<$t>(frames)? {
                run_as!($t, slices(&a, "frames")?);
            }
        };
    }
    dispatch!(f32);
    dispatch!(f64);
    dispatch!(u16);
    dispatch!(i16);
    dispatch!(u8);
    dispatch!(i32);
    let dt = frames.get_item(0)?.getattr("dtype").map(|d| d.to_string()).unwrap_or_else(|_| "?".into());
    Err(dtype_err(format!(
        "images: dtype {dt} is not supported; use uint8, uint16, int16, int32, float32 or float64 (cast explicitly)"
    )))
}

/// IRAF image statistics (mode, median, mean) of one frame on its subsampled grid.
///
/// `mask`: None, a bool array (True = bad) or uint8 mask codes (see `iraf_combine`).
#[pyfunction]
#[pyo3(signature = (frame, mask, shape, section, lthreshold, hthreshold, sorted, swapped=None))]
#[allow(clippy::too_many_arguments)]
fn iraf_stats<'py>(
    py: Python<'py>,
    frame: &Bound<'py, PyAny>,
    mask: Option<&Bound<'py, PyAny>>,
    shape: Vec<usize>,
    section: Option<Vec<(i64, i64)>>,
    lthreshold: Option<f32>,
    hthreshold: Option<f32>,
    sorted: bool,
    swapped: Option<&str>,
) -> PyResult<(f32, f32, f32)> {
    let codes = match mask {
        None => None,
        Some(m) if m.is_none() => None,
        Some(m) => {
            if let Ok(b) = m.extract::<PyReadonlyArray1<'py, bool>>() {
                Some(Codes::Bool(b))
            } else {
                Some(Codes::U8(m.extract::<PyReadonlyArray1<'py, u8>>().map_err(|_| {
                    dtype_err("mask must be a 1-D bool or uint8 array")
                })?))
            }
        }
    };
    let mk = match &codes {
        Some(c) => Some(c.slice(0)?),
        None => None,
    };
    let need = iraf::StatNeed { sorted };
    macro_rules! dispatch_be {
        ($raw:ty, $pix:ty) => {{
            let a = frame
                .extract::<PyReadonlyArray1<'py, $raw>>()
                .map_err(|_| dtype_err(format!("frame: swapped={swapped:?} needs {} words", stringify!($raw))))?;
            let s = a.as_slice().map_err(|_| layout_err("frame must be C-contiguous"))?;
            let s = as_be::<$pix>(s);
            return py.detach(|| {
                guarded(|| iraf::image_stats(s, mk, &shape, section.as_deref(), lthreshold, hthreshold, need))
            });
        }};
    }
    match_swapped!(swapped, dispatch_be);
    macro_rules! dispatch {
        ($t:ty) => {
            if let Ok(a) = frame.extract::<PyReadonlyArray1<'py, $t>>() {
                let s = a.as_slice().map_err(|_| layout_err("frame must be C-contiguous"))?;
                return py.detach(|| {
                    guarded(|| iraf::image_stats(s, mk, &shape, section.as_deref(), lthreshold, hthreshold, need))
                });
            }
        };
    }
    dispatch!(f32);
    dispatch!(f64);
    dispatch!(u16);
    dispatch!(i16);
    dispatch!(u8);
    dispatch!(i32);
    Err(dtype_err("frame: must be a 1-D array of uint8, uint16, int16, int32, float32 or float64"))
}

fn source(s: &str, what: &str) -> PyResult<Source> {
    Ok(match s {
        "none" => Source::None,
        "stat" => Source::Stat,
        "file" => Source::File,
        _ => return Err(call_err(format!("{what}: unknown source {s:?}"))),
    })
}

/// IRAF's normalisation of raw scale / zero / weight values.
///
/// Each of scale, zero, weight is `(source, values)` with source "none", "stat" (image
/// statistic or exposure) or "file" (listed numbers or header keyword).
#[pyfunction]
fn iraf_factors<'py>(
    py: Python<'py>,
    scale: (String, Vec<f32>),
    zero: (String, Vec<f32>),
    weight: (String, Vec<f32>),
    ncombine: Vec<f32>,
) -> PyResult<Bound<'py, PyDict>> {
    let f = iraf::normalise(
        (source(&scale.0, "scale")?, &scale.1),
        (source(&zero.0, "zero")?, &zero.1),
        (source(&weight.0, "weight")?, &weight.1),
        &ncombine,
    )
    .map_err(core_err)?;
    let d = PyDict::new(py);
    d.set_item("scales", f.scales)?;
    d.set_item("zeros", f.zeros)?;
    d.set_item("wts", f.wts)?;
    d.set_item("doscale", f.doscale)?;
    d.set_item("dozero", f.dozero)?;
    d.set_item("dowts", f.dowts)?;
    d.set_item("warnings", f.warnings)?;
    Ok(d)
}

/// Add the IRAF functions to `imcombiners._core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(iraf_combine, m)?)?;
    m.add_function(wrap_pyfunction!(iraf_stats, m)?)?;
    m.add_function(wrap_pyfunction!(iraf_factors, m)?)?;
    Ok(())
}

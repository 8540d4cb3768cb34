//! `imcombiners._core`: thin PyO3 bindings over `imc-core`.
//!
//! Only argument conversion lives here: NumPy arrays -> borrowed slices, strict typed
//! dicts -> `Job` / IRAF `Params` (`job`, `iraf`, `strict`), dtype dispatch, releasing the
//! GIL while kernels run, and every error mapped to its Python exception class in one
//! place (`error`; a Rust panic never crosses into Python).

mod arrays;
mod error;
mod iraf;
mod job;
mod planes;
mod simd;
mod strict;
mod words;

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use imc_core::driver::{self, Outputs};
use imc_core::frames::Frames;
use imc_core::input::Input;
use imc_core::real::Real;

use arrays::{borrow_all, borrow_masks, put_opt, slices, Held};
use error::{core_err, dtype_err, guarded, layout_err};

/// Large blocks (the outputs handed to NumPy) on 2 MiB boundaries, so that their
/// huge-page advice covers them whole (see `imc_core::alloc::HugeAlignedAlloc`).
#[global_allocator]
static ALLOC: imc_core::alloc::HugeAlignedAlloc = imc_core::alloc::HugeAlignedAlloc;

fn pack<'py, O: Real + numpy::Element>(py: Python<'py>, out: Outputs<O>, dq_bits: u32) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("data", PyArray1::from_vec(py, out.data))?;
    put_opt(&d, "mask", out.mask)?;
    put_opt(&d, "sample_flags", out.sample_flags)?;
    put_opt(&d, "std", out.std)?;
    put_opt(&d, "low", out.low)?;
    put_opt(&d, "upp", out.upp)?;
    put_opt(&d, "clip_low", out.clip_low)?;
    put_opt(&d, "clip_upp", out.clip_upp)?;
    put_opt(&d, "nit", out.nit)?;
    put_opt(&d, "output_flags", out.output_flags)?;
    put_opt(&d, "nused", out.nused)?;
    put_opt(&d, "variance", out.variance)?;
    put_opt(&d, "weight", out.weight)?;
    put_opt(&d, "exposure", out.exposure)?;
    planes::put_dq(&d, out.dq, dq_bits)?;
    Ok(d)
}

fn run_typed<'py, T, O>(
    py: Python<'py>,
    arrays: Vec<Held<'py, T>>,
    masks: &Option<Vec<Held<'py, bool>>>,
    planes: &planes::Borrowed<'py>,
    job: &imc_core::job::Job,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>>
where
    T: numpy::Element + Input,
    O: Real + numpy::Element,
{
    let data = slices(&arrays, "frames")?;
    let mk = match masks {
        Some(m) => Some(slices(m, "masks")?),
        None => None,
    };
    let frames = Frames::new(data, mk).map_err(core_err)?.with_planes(planes.planes()?).map_err(core_err)?;
    let dq_bits = frames.planes.dq_bits();
    let out = py.detach(|| guarded(|| driver::run::<T, O>(&frames, job, threads)))?;
    pack(py, out, dq_bits)
}

/// Combine N frames along the frame axis.
///
/// Parameters
/// ----------
/// frames : list of 1-D C-contiguous arrays (uint8, uint16, int16, int32, float32, float64),
///     one per frame, all of one dtype and length.
/// masks : list of 1-D bool arrays or None (True = bad sample).
/// job : dict describing the combine (see docs/design.md; strict keys, no defaults).
/// threads : int, 0 = all cores, 1 = the calling thread only.
/// planes : dict or None: "variance" / "weights" (lists of 1-D float32/float64 arrays) and
///     "dq" (a list of 1-D uint8/uint16/uint32 arrays), one array per frame.
#[pyfunction]
#[pyo3(signature = (frames, masks, job, threads=0, planes=None))]
fn run<'py>(
    py: Python<'py>,
    frames: &Bound<'py, PyList>,
    masks: Option<&Bound<'py, PyList>>,
    job: &Bound<'py, PyAny>,
    threads: usize,
    planes: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    if frames.is_empty() {
        return Err(core_err(imc_core::Error::param("frames", "at least one frame is required")));
    }
    let job = job::job_from_dict(job)?;
    let masks = borrow_masks(masks)?;
    let planes = planes::Borrowed::from_dict(planes)?;
    macro_rules! dispatch {
        ($t:ty => $o:ty) => {
            if let Some(a) = borrow_all::<$t>(frames)? {
                return run_typed::<$t, $o>(py, a, &masks, &planes, &job, threads);
            }
        };
    }
    dispatch!(f32 => f32);
    dispatch!(f64 => f64);
    dispatch!(u16 => f32);
    dispatch!(i16 => f32);
    dispatch!(u8 => f32);
    dispatch!(i32 => f64);
    let dt = frames.get_item(0)?.getattr("dtype").map(|d| d.to_string()).unwrap_or_else(|_| "?".into());
    Err(dtype_err(format!(
        "frames: dtype {dt} is not supported; use uint8, uint16, int16, int32, float32 or float64 (cast explicitly)"
    )))
}

/// Grow a (N, *spatial) bool mask by `radius` pixels within each frame.
#[pyfunction]
fn grow_mask<'py>(py: Python<'py>, mask: PyReadonlyArrayDyn<'py, bool>, radius: f64) -> PyResult<Bound<'py, PyAny>> {
    let shape = mask.shape().to_vec();
    if shape.len() < 2 {
        return Err(layout_err("mask: must have shape (N, *spatial) with at least 2 dimensions"));
    }
    let data = mask.as_slice().map_err(|_| layout_err("mask must be C-contiguous"))?;
    let grown = py.detach(|| guarded(|| imc_core::grow::grow_mask(data, shape[0], &shape[1..], radius)))?;
    let arr = PyArray1::from_vec(py, grown);
    Ok(arr.reshape(shape)?.into_any())
}

/// One named statistic of a frame's valid samples (NaN when none).
#[pyfunction]
#[pyo3(signature = (frame, mask, name, lo=f64::NEG_INFINITY, hi=f64::INFINITY, sigma_lo=3.0, sigma_hi=3.0, maxiters=5))]
#[allow(clippy::too_many_arguments)]
fn frame_stat<'py>(
    py: Python<'py>,
    frame: &Bound<'py, PyAny>,
    mask: Option<PyReadonlyArray1<'py, bool>>,
    name: &str,
    lo: f64,
    hi: f64,
    sigma_lo: f64,
    sigma_hi: f64,
    maxiters: u32,
) -> PyResult<f64> {
    let mk = match &mask {
        Some(m) => Some(m.as_slice().map_err(|_| layout_err("mask must be C-contiguous"))?),
        None => None,
    };
    macro_rules! dispatch {
        ($t:ty) => {
            if let Ok(a) = frame.extract::<PyReadonlyArray1<'py, $t>>() {
                let s = a.as_slice().map_err(|_| layout_err("frame must be C-contiguous"))?;
                return py.detach(|| {
                    guarded(|| imc_core::stats::frame_stat(s, mk, name, lo, hi, sigma_lo, sigma_hi, maxiters))
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

/// Raise a Rust panic on purpose (tests check that it becomes a Python exception).
#[pyfunction]
fn _panic_for_tests() -> PyResult<()> {
    guarded(|| -> imc_core::Result<()> { panic!("deliberate panic for tests") })
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("REJECTORS", job::REJECTORS.to_vec())?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(grow_mask, m)?)?;
    m.add_function(wrap_pyfunction!(frame_stat, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    iraf::register(m)?;
    simd::register(m)?;
    words::register(m)?;
    Ok(())
}

//! IRAF's rejection algorithms on one line (icmm, icsclip, icaclip, iccclip, icpclip).
//!
//! Index conventions follow IRAF: slot numbers `j`, `nl`, `nh` are 1-based (slot `j` is
//! `v[j-1]`), `resid` is indexed by slot number. Data movement (swaps, compaction) is
//! reproduced exactly because it fixes the summation order of everything that follows.
//!
//! One module per algorithm (`minmax`, `sigclip`, `avsigclip`, `ccdclip`, `pclip`), each
//! with IRAF's mean-centred (`a*`, mclip = no) and median-centred (`m*`) forms where IRAF
//! has both; `common` holds the steps they share. The per-pixel forms are also what the
//! whole-line fast paths (`super::fastline`) fall back to.

mod avsigclip;
mod ccdclip;
mod common;
mod minmax;
mod pclip;
mod sigclip;

pub(crate) use ccdclip::{ccd_sigma, mccdclip_pixel};
pub(crate) use sigclip::{asigclip_pixel, msigclip_pixel};

use super::ctx::Ctx;
use super::line::{DFlag, LineBuf};
use super::work::Work;

/// Run the configured rejection on one gathered line.
pub fn reject_line<T: Work>(b: &mut LineBuf<T>, c: &Ctx) {
    use super::ctx::Reject as R;
    b.docombine = true;
    if b.dflag == DFlag::None {
        return;
    }
    match c.reject {
        R::None => {}
        R::MinMax => minmax::minmax(b, c),
        R::SigClip => {
            if c.mclip {
                sigclip::msigclip(b, c)
            } else {
                sigclip::asigclip(b, c)
            }
        }
        R::AvSigClip => {
            if c.mclip {
                avsigclip::mavsigclip(b, c)
            } else {
                avsigclip::aavsigclip(b, c)
            }
        }
        R::CcdClip | R::CrReject => {
            if c.mclip {
                ccdclip::mccdclip(b, c)
            } else {
                ccdclip::accdclip(b, c)
            }
        }
        R::PClip => pclip::pclip(b, c),
    }
}

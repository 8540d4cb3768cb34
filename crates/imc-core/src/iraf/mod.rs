//! IRAF IMCOMBINE-exact engine (see docs/iraf.md). Owned by the IRAF work item.

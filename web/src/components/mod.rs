//! The page's components, one per user task; each takes the shared [`crate::state::State`].

pub mod alleles;
pub mod design;
pub mod model_bar;
pub mod model_card;
pub mod predictions;
pub mod sequences;
pub mod snv_scan;
pub mod tiling;
pub mod variants;

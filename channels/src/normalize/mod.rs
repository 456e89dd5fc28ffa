//! Normalisation shared by every channel: sender addresses, text, charsets and
//! the citizen's privacy markers.

pub mod charset;
pub mod markers;
pub mod phone;
pub mod text;

pub use charset::{decode, Charset};
pub use markers::{strip_markers, Markers};
pub use phone::normalize_sender;
pub use text::{clean_fragment, fingerprint_text, normalize_text};

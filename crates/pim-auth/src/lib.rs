//! pim-auth: sign-in for PIM Tray.
#![warn(missing_docs)]

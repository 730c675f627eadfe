//! Demo mode: the embedded simulator and an automatic sign-in.

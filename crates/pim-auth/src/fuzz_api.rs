//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; never in a build).
//!
//! The other parsers the targets reach (`entra`, `store`, `accounts`, `tenant_cache`) are
//! public already; this module only adds what is private.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::loopback::{Callback, serve};

/// The loopback listener's handling of one connection that sends `request` (then closes its
/// writing half), with `state` expected. Returns the callback and the bytes answered.
///
/// Panics if the answer page carries markup from the request (anything the browser sent is
/// escaped, so the page always has the template's tags and no more).
pub fn loopback(request: &[u8], state: &str) -> (Option<Callback>, Vec<u8>) {
    thread_local! {
        static RT: Option<tokio::runtime::Runtime> = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .ok();
    }
    RT.with(|rt| {
        let Some(rt) = rt else {
            return (None, Vec::new());
        };
        rt.block_on(async {
            // Large enough for the request (the listener reads at most 16 KiB + one chunk)
            // and the answer, so neither side waits for the other.
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let request = request.get(..40 * 1024).unwrap_or(request);
            if client.write_all(request).await.is_err() || client.shutdown().await.is_err() {
                return (None, Vec::new());
            }
            let cb = serve(server, state).await;
            let mut answer = Vec::new();
            let _ = client.read_to_end(&mut answer).await;
            if !answer.is_empty() {
                let tags = |b: &[u8]| b.iter().filter(|c| **c == b'<').count();
                let mut reference = Vec::new();
                crate::loopback::respond(&mut reference, "200 OK", "t", "t").await;
                assert_eq!(
                    tags(&answer),
                    tags(&reference),
                    "the answer page carries markup from the request: {}",
                    String::from_utf8_lossy(&answer)
                );
            }
            (cb, answer)
        })
    })
}

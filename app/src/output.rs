//! Writing to standard output and standard error without panicking on closed pipes.
//!
//! `println!` panics when stdout is a closed pipe (`greenroom validate . | head`);
//! these helpers ignore write errors instead, since there is nobody left to tell.

use std::io::Write;

/// Writes text to standard output as is.
pub(crate) fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes one line to standard error.
pub(crate) fn error_line(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

//! End-to-end tests of the greenroom binary.

//! Tests of the test support itself: the throwaway PostgreSQL cluster.
//! `#[cfg(test)]` marks the modules as test code, for the lints.

#[cfg(test)]
mod testsupport {
    mod cluster;
}

//! Tests of the load benchmark against the in-process server on both
//! backends. `#[cfg(test)]` marks the modules as test code, for the lints.

#[cfg(test)]
mod loadgen {
    mod harness;
    mod queries;
    mod workloads;
}

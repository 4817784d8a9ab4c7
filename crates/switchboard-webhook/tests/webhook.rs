//! Tests of the delivery worker against real receivers on loopback, on
//! both backends. `#[cfg(test)]` marks the modules as test code, for the
//! lints.

#[cfg(test)]
mod webhook {
    mod worker;
}

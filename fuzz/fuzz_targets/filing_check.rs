//! Arbitrary bytes as a filing named `fuzz.xml` in ACMEBRK's inbox: no panic, a coherent
//! verdict, a well-formed ack free of control characters. Run with the dictionary of element
//! names and the seed corpus (see ../README.md).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::check("fuzz.xml", data);
});

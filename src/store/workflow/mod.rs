//! The business workflow over one unit of change ([`super::change::Tx`]): what committing a
//! judged file ([`filing`]) and deciding held applications ([`decision`]) do, as small named
//! steps. How things are kept (keys, trees, encoding) stays in the storage modules
//! (`receipts`, `review`, `change`); the steps here only call them.

pub(super) mod decision;
pub(super) mod filing;

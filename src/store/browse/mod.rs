//! Paged reads over every license, for the console's browser: never loaded whole. Three
//! parts: `query`, the filter language of the search box and the page it asks for; `plan`,
//! the pure choice of a *driver* (a key range of the `licenses` tree or of one index kind) and
//! of what is checked on the decoded license; `walk`, the budgeted walk of a plan over sled
//! (a page, a bounded count, a time budget).

mod plan;
mod query;
#[cfg(test)]
mod tests;
mod walk;

pub use query::{
    BrowseFilter, BrowsePage, BrowseQuery, BrowseRow, Sort, StatusFilter, parse_query,
};

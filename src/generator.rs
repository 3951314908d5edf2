//! `aim gen` (being written).
pub struct GenOptions {
    pub sender: String,
    pub count: usize,
    pub apps_per_file: usize,
    pub seed: u64,
    pub today: chrono::NaiveDate,
}
pub struct GeneratedFile {
    pub name: String,
    pub bytes: Vec<u8>,
}
pub fn generate(_opts: &GenOptions) -> impl Iterator<Item = GeneratedFile> {
    std::iter::empty()
}

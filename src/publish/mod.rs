//! The published monitor (spec 7.2): a static site written as one vintage
//! `<dir>/<YYYY-MM-DDTHH-MM-SSZ>/`, made visible by replacing the `<dir>/current` link, with
//! earlier vintages kept up to `keep_publications`. Only reads the store.
//!
//! - `site`: the pages, rendered from the public view (templates beside it);
//! - here: the vintage written whole before anyone can see it, the link, the pruning, and the
//!   weekly schedule's arithmetic.

pub mod site;

use crate::monitor::{self, PublicView};
use crate::store::StoredCell;
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, Utc, Weekday};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The link that always names the newest publication.
pub const CURRENT: &str = "current";

/// Held (flock) while a publication is written: two at once (the weekly one and a staff
/// request, or two commands) would clear each other's unfinished folder.
pub const LOCK: &str = ".publish.lock";

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("a publication {0} exists already; publish again in a second")]
    Exists(String),
    #[error("cannot render the site: {0}")]
    Render(#[from] minijinja::Error),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PublishError {
    let path = path.display().to_string();
    move |source| PublishError::Io { what, path, source }
}

/// A publication's folder name: its UTC time, to the second.
pub fn vintage_name(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H-%M-%SZ").to_string()
}

/// The time a vintage's name stands for; `None` for any other name.
pub fn parse_vintage(name: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(name, "%Y-%m-%dT%H-%M-%SZ")
        .ok()
        .map(|t| t.and_utc())
        .filter(|t| vintage_name(*t) == name)
}

/// The vintages in `dir`, oldest first (a missing folder has none).
pub fn vintages(dir: &Path) -> Result<Vec<String>, PublishError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", dir)(e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(io("read", dir))?;
        if let Some(name) = e.file_name().to_str()
            && parse_vintage(name).is_some()
            && e.file_type().is_ok_and(|t| t.is_dir())
        {
            out.push(name.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// The refresh cadence in words, for the pages.
pub fn cadence(schedule: Option<(Weekday, NaiveTime)>) -> String {
    match schedule {
        Some((day, time)) => {
            let name = match day {
                Weekday::Mon => "Monday",
                Weekday::Tue => "Tuesday",
                Weekday::Wed => "Wednesday",
                Weekday::Thu => "Thursday",
                Weekday::Fri => "Friday",
                Weekday::Sat => "Saturday",
                Weekday::Sun => "Sunday",
            };
            format!("every {name} at {} UTC", time.format("%H:%M"))
        }
        None => "when staff publish it".to_owned(),
    }
}

/// The latest scheduled instant at or before `now`.
pub fn latest_scheduled(now: DateTime<Utc>, (day, time): (Weekday, NaiveTime)) -> DateTime<Utc> {
    let today = now.date_naive();
    let back = (7 + today.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
    let at = (today - Duration::days(i64::from(back)))
        .and_time(time)
        .and_utc();
    if at > now { at - Duration::days(7) } else { at }
}

/// Whether the daemon publishes now: a schedule is set and the newest publication is older
/// than the latest scheduled instant (missed while the daemon was down, or due just now).
pub fn due(
    now: DateTime<Utc>,
    schedule: Option<(Weekday, NaiveTime)>,
    newest: Option<DateTime<Utc>>,
) -> bool {
    schedule.is_some_and(|s| newest.is_none_or(|n| n < latest_scheduled(now, s)))
}

/// What a publication wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    pub vintage: String,
    pub dir: String,
    pub files: usize,
    /// Earlier vintages removed beyond `keep_publications`.
    pub removed: Vec<String>,
}

/// Every file of one publication, relative path → bytes, in path order. The same cells, time
/// and settings give the same bytes.
pub fn files(
    cells: &[StoredCell],
    at: DateTime<Utc>,
    cadence: &str,
    publications: &[String],
) -> Result<Vec<(String, Vec<u8>)>, PublishError> {
    let view: PublicView = monitor::public_view(cells, None);
    let rows: Vec<monitor::Row> = view.cells.iter().map(monitor::row_of).collect();
    let vintage = vintage_name(at);
    let meta = site::Meta {
        at,
        vintage: &vintage,
        cadence,
        publications,
    };
    let mut out = site::render(&view, &meta)?;
    out.push((
        "data/monitor.csv".into(),
        monitor::to_csv(&rows).into_bytes(),
    ));
    out.push((
        "data/monitor.json".into(),
        monitor::to_json(&rows).into_bytes(),
    ));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The site is public: its files are world-readable (0644, folders 0755) whatever the umask
/// (the daemon's is 0027 for everything else it writes), so a web server's own user reads it.
const PUBLIC_FILE: u32 = 0o644;
const PUBLIC_DIR: u32 = 0o755;

fn public_mode(path: &Path, mode: u32) -> Result<(), PublishError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io("set the mode of", path))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let mut f = std::fs::File::create(path).map_err(io("create", path))?;
    f.write_all(bytes).map_err(io("write", path))?;
    public_mode(path, PUBLIC_FILE)?;
    f.sync_all().map_err(io("sync", path))
}

fn sync_dir(path: &Path) -> Result<(), PublishError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io("sync", path))
}

/// Write one publication of `cells` at `at` into `dir`, switch `current` to it, and keep the
/// newest `keep` vintages.
pub fn publish(
    cells: &[StoredCell],
    at: DateTime<Utc>,
    dir: &Path,
    keep: usize,
    cadence: &str,
) -> Result<Published, PublishError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        public_mode(dir, PUBLIC_DIR)?;
    }
    let lock_path = dir.join(LOCK);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("open", &lock_path))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| io("lock", &lock_path)(e.into()))?;
    // Leftovers of a publication a crash cut short: never visible, never needed.
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".partial") {
                let _ = std::fs::remove_dir_all(e.path());
            } else if name.starts_with(".current.") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let vintage = vintage_name(at);
    let mut all = vintages(dir)?;
    if all.contains(&vintage) {
        return Err(PublishError::Exists(vintage));
    }
    all.push(vintage.clone());
    all.sort();
    let keep = keep.max(1);
    let kept: Vec<String> = all.iter().rev().take(keep).cloned().collect();
    let files = files(cells, at, cadence, &kept)?;

    let partial = dir.join(format!(".{vintage}.partial"));
    std::fs::create_dir_all(partial.join("data")).map_err(io("create", &partial))?;
    public_mode(&partial, PUBLIC_DIR)?;
    public_mode(&partial.join("data"), PUBLIC_DIR)?;
    for (rel, bytes) in &files {
        write_synced(&partial.join(rel), bytes)?;
    }
    sync_dir(&partial.join("data"))?;
    sync_dir(&partial)?;
    let target = dir.join(&vintage);
    std::fs::rename(&partial, &target).map_err(io("rename into place", &target))?;
    sync_dir(dir)?;

    // The link: made beside, then renamed over `current` (a reader sees the old or the new).
    let tmp = dir.join(format!(".current.{vintage}"));
    std::os::unix::fs::symlink(&vintage, &tmp).map_err(io("create the link", &tmp))?;
    let current = dir.join(CURRENT);
    std::fs::rename(&tmp, &current).map_err(io("replace the link", &current))?;
    sync_dir(dir)?;

    let mut removed = Vec::new();
    for old in all.iter().filter(|v| !kept.contains(v)) {
        let p = dir.join(old);
        std::fs::remove_dir_all(&p).map_err(io("remove the old publication", &p))?;
        removed.push(old.clone());
    }
    Ok(Published {
        vintage,
        dir: target.display().to_string(),
        files: files.len(),
        removed,
    })
}

/// The newest vintage's time in `dir`.
pub fn newest(dir: &Path) -> Result<Option<DateTime<Utc>>, PublishError> {
    Ok(vintages(dir)?.last().and_then(|v| parse_vintage(v)))
}

/// Where a publication goes: `--out`, or `[monitor] publish_dir`.
pub fn out_dir(cfg: &crate::config::Config, out: Option<&Path>) -> PathBuf {
    out.map_or_else(|| cfg.monitor.publish_dir.clone(), Path::to_path_buf)
}

#[cfg(test)]
pub(crate) mod tests;

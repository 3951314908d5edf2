//! Typed configuration (`config/aim.toml`, spec section 8): defaults, strict keys, and errors
//! that name the file, the key and what is wrong.

use crate::filing::model::Country;
use crate::filing::rules::{RuleSettings, is_email};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The configuration the program runs on when no file is given and `config/aim.toml` is
/// absent: every key at its default, and the shipped file's partners and staff. Kept here
/// rather than included from `config/aim.toml`, so that editing that file never rebuilds the
/// binary; `tests/first_hour.rs` checks that both give the same configuration.
pub const BUILT_IN: &str = r#"# The built-in defaults (the shipped config/aim.toml's values).
[[partner]]
id     = "DEMO"
name   = "Demo Customs Brokerage"
emails = ["filings@demo.example"]

[[partner]]
id     = "ACMEBRK"
name   = "Acme Customs Brokerage LLC"
emails = ["filings@acme.example"]

[[staff]]
user = "alice"
role = "supervisor"
"#;

/// The default `--config` path.
pub const DEFAULT_PATH: &str = "config/aim.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the configuration: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_inbox")]
    pub inbox: PathBuf,
    #[serde(default = "default_outbox")]
    pub outbox: PathBuf,
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// The group given the control socket `<data>/aim.sock` (mode 0660): the staff group of
    /// docs/deploy.md. Empty: the daemon's own group.
    #[serde(default)]
    pub staff_group: String,
    #[serde(default)]
    pub intake: Intake,
    #[serde(default)]
    pub rules: Rules,
    #[serde(default)]
    pub review: Review,
    #[serde(default)]
    pub mail: Mail,
    #[serde(default)]
    pub monitor: Monitor,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(default, rename = "partner")]
    pub partners: Vec<Partner>,
    #[serde(default, rename = "staff")]
    pub staff: Vec<Staff>,
}

fn default_inbox() -> PathBuf {
    "inbox".into()
}
fn default_outbox() -> PathBuf {
    "outbox".into()
}
fn default_data() -> PathBuf {
    "var".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Intake {
    /// Quiet time before a file seen without a close event is read.
    pub settle_ms: u64,
    /// Full inbox rescan, the backstop for lost watch events.
    pub rescan_secs: u64,
    pub max_file_bytes: u64,
    pub max_applications: usize,
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            settle_ms: 500,
            rescan_secs: 30,
            max_file_bytes: 32 * 1024 * 1024,
            max_applications: 10_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// A321: days an expected import date may lie before the day of filing.
    pub import_past_days: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            import_past_days: 15,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Review {
    /// A smelt or cast country on this list holds the application for review.
    pub watch_countries: Vec<String>,
    /// A W310 unit-value outlier holds the application for review.
    pub unit_value_outliers: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    File,
    Smtp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mail {
    pub transport: Transport,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_user: String,
    /// Name of the environment variable that holds the SMTP password.
    pub smtp_password_env: String,
    /// PEM file of extra root certificates to trust for the relay (an internal CA); empty:
    /// the public web roots only.
    pub smtp_ca_file: String,
    /// First retry after this many seconds; each further retry waits twice as long…
    pub retry_initial_secs: u64,
    /// …up to this ceiling.
    pub retry_max_secs: u64,
    /// A message still undelivered this long after it was queued becomes a dead letter.
    pub give_up_secs: u64,
}

impl Default for Mail {
    fn default() -> Self {
        Mail {
            transport: Transport::File,
            from: "AIM Licensing <aim-noreply@localhost>".into(),
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            smtp_tls: SmtpTls::None,
            smtp_user: String::new(),
            smtp_password_env: "AIM_SMTP_PASSWORD".into(),
            smtp_ca_file: String::new(),
            retry_initial_secs: 30,
            retry_max_secs: 3600,
            give_up_secs: 2 * 24 * 3600,
        }
    }
}

/// The published monitor (spec 7.2).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Monitor {
    /// Publications: `<publish_dir>/<vintage>/` and the `<publish_dir>/current` link.
    pub publish_dir: PathBuf,
    /// Day of the daemon's weekly publication (UTC), `monday` … `sunday`; "" = never on its own.
    pub publish_weekday: String,
    /// Time of day of the weekly publication, `HH:MM` UTC.
    pub publish_time_utc: String,
    /// How many publications are kept (the oldest beyond are removed).
    pub keep_publications: usize,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            publish_dir: "var/public".into(),
            publish_weekday: "monday".into(),
            publish_time_utc: "06:00".into(),
            keep_publications: 104,
        }
    }
}

impl Monitor {
    /// The weekly schedule: `None` when the daemon never publishes on its own.
    pub fn schedule(&self) -> Option<(chrono::Weekday, chrono::NaiveTime)> {
        if self.publish_weekday.is_empty() {
            return None;
        }
        let day = self.publish_weekday.parse::<chrono::Weekday>().ok()?;
        let time = chrono::NaiveTime::parse_from_str(&self.publish_time_utc, "%H:%M").ok()?;
        Some((day, time))
    }
}

/// Prometheus metrics and the health probe (spec 8, "Running as a service").
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// `host:port` to serve `GET /metrics` and `GET /healthz` on; "" = off.
    pub listen: String,
}

impl Metrics {
    /// The address to listen on, `None` when metrics are off.
    pub fn address(&self) -> Option<std::net::SocketAddr> {
        if self.listen.is_empty() {
            None
        } else {
            self.listen.parse().ok()
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub emails: Vec<String>,
    /// This partner's own inbox folder instead of `<inbox>/<id>`.
    pub inbox: Option<PathBuf>,
    /// This partner's own outbox folder instead of `<outbox>/<id>`.
    pub outbox: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Reviewer,
    Supervisor,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    pub user: String,
    pub role: Role,
}

/// The configuration for a command: its error said on stderr, exit code 2 (a usage error).
pub(crate) fn load_config(path: &Path) -> Result<Config, std::process::ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("aim: {e}");
        std::process::ExitCode::from(2)
    })
}

impl Config {
    /// Load `path`; when `path` is the default path and does not exist, the built-in defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, &shown),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && path == Path::new(DEFAULT_PATH) =>
            {
                Config::parse(BUILT_IN, "built-in defaults")
            }
            Err(source) => Err(ConfigError::Read {
                path: shown,
                source,
            }),
        }
    }

    /// Parse and validate configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            message,
        };
        let cfg: Config = toml::from_str(text).map_err(|e| invalid(toml_error(text, &e)))?;
        cfg.validate().map_err(invalid)?;
        Ok(cfg)
    }

    #[allow(clippy::too_many_lines)] // one check after another, each with its own message for the administrator
    fn validate(&self) -> Result<(), String> {
        let mut ids = HashSet::new();
        for (i, p) in self.partners.iter().enumerate() {
            let at = format!("partner[{}]", i + 1);
            if !(2..=15).contains(&p.id.len())
                || !p
                    .id
                    .bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            {
                return Err(format!(
                    "{at}.id {:?} is not valid: use 2 to 15 of A-Z and 0-9",
                    p.id
                ));
            }
            if !ids.insert(p.id.as_str()) {
                return Err(format!(
                    "{at}.id {:?} is registered twice; give each partner one entry",
                    p.id
                ));
            }
            if p.name.trim().is_empty() {
                return Err(format!(
                    "{at}.name is empty; give the company name of {}",
                    p.id
                ));
            }
            if p.emails.is_empty() {
                return Err(format!(
                    "{at}.emails is empty; give at least one notification address for {}",
                    p.id
                ));
            }
            if let Some(e) = p.emails.iter().find(|e| !is_email(e)) {
                return Err(format!(
                    "{at}.emails: {e:?} is not an e-mail address (local@domain)"
                ));
            }
        }
        // Each partner's folders are its own: a shared inbox would make one partner's files
        // look like another's, a shared outbox would show acks to the wrong partner.
        let mut folders: std::collections::HashMap<PathBuf, &str> =
            std::collections::HashMap::new();
        for p in &self.partners {
            for (kind, dir) in [
                ("inbox", self.partner_inbox(p)),
                ("outbox", self.partner_outbox(p)),
            ] {
                if let Some(other) = folders.insert(dir.clone(), &p.id) {
                    return Err(format!(
                        "partners {other} and {} share the folder {} ({kind}); give each partner its own inbox and outbox",
                        p.id,
                        dir.display()
                    ));
                }
            }
        }
        for (i, c) in self.review.watch_countries.iter().enumerate() {
            if Country::parse(c).is_err() {
                return Err(format!(
                    "review.watch_countries[{}] {c:?} is not an ISO 3166-1 alpha-2 country code",
                    i + 1
                ));
            }
        }
        for (i, s) in self.staff.iter().enumerate() {
            if s.user.is_empty()
                || s.user
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == ':')
            {
                return Err(format!(
                    "staff[{}].user {:?} is not a Unix user name",
                    i + 1,
                    s.user
                ));
            }
        }
        if self.intake.max_applications == 0 {
            return Err("intake.max_applications must be at least 1".into());
        }
        if self.mail.retry_initial_secs == 0
            || self.mail.retry_max_secs < self.mail.retry_initial_secs
        {
            return Err(
                "mail.retry_initial_secs must be at least 1 and not above mail.retry_max_secs"
                    .into(),
            );
        }
        if self.intake.rescan_secs == 0 {
            return Err("intake.rescan_secs must be at least 1".into());
        }
        const WEEKDAYS: [&str; 7] = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        let day = self.monitor.publish_weekday.as_str();
        if !day.is_empty() && !WEEKDAYS.contains(&day) {
            return Err(format!(
                "monitor.publish_weekday {day:?} is not a day: use monday … sunday in lower case, or \"\" for never"
            ));
        }
        let time = self.monitor.publish_time_utc.as_str();
        if time.len() != 5 || chrono::NaiveTime::parse_from_str(time, "%H:%M").is_err() {
            return Err(format!(
                "monitor.publish_time_utc {time:?} is not a time of day: use HH:MM (UTC), such as \"06:00\""
            ));
        }
        if self.monitor.keep_publications == 0 {
            return Err("monitor.keep_publications must be at least 1".into());
        }
        if self.monitor.publish_dir.as_os_str().is_empty() {
            return Err(
                "monitor.publish_dir is empty; name a folder such as \"var/public\"".into(),
            );
        }
        if !self.metrics.listen.is_empty()
            && self.metrics.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(format!(
                "metrics.listen {:?} is not an address: use host:port such as \"127.0.0.1:9464\", or \"\" for off",
                self.metrics.listen
            ));
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(format!(
                "mail.from {:?} is not a mailbox such as \"AIM <aim@example.gov>\"",
                self.mail.from
            ));
        }
        Ok(())
    }

    pub fn partner(&self, id: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.id == id)
    }

    pub fn partner_inbox(&self, p: &Partner) -> PathBuf {
        p.inbox.clone().unwrap_or_else(|| self.inbox.join(&p.id))
    }

    pub fn partner_outbox(&self, p: &Partner) -> PathBuf {
        p.outbox.clone().unwrap_or_else(|| self.outbox.join(&p.id))
    }

    /// The settings the rules need.
    pub fn rule_settings(&self) -> RuleSettings {
        RuleSettings {
            import_past_days: i64::from(self.rules.import_past_days),
            max_applications: self.intake.max_applications,
            watch_countries: self
                .review
                .watch_countries
                .iter()
                .filter_map(|c| Country::parse(c).ok())
                .collect(),
            unit_value_outliers: self.review.unit_value_outliers,
            apply_review: true,
        }
    }
}

/// Whether a key names a secret (its value must never be echoed). `smtp_password_env` names an
/// environment variable, not a password.
fn is_secret_key(key: &str) -> bool {
    let k = key.trim().trim_matches(['"', '\'']).to_ascii_lowercase();
    k != "smtp_password_env"
        && [
            "pass",
            "secret",
            "token",
            "credential",
            "private",
            "apikey",
            "api_key",
        ]
        .iter()
        .any(|w| k.contains(w))
}

/// The key a TOML line sets, if it sets one.
fn line_key(line: &str) -> Option<&str> {
    line.split_once('=').map(|(k, _)| k.trim())
}

/// A TOML error as a person reads it: where, what, and the line, except that the value of a
/// key that looks like a secret is never shown (toml's own message quotes the whole line).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let mut msg = e.message().trim_end().to_owned();
    let mut out = String::new();
    if let Some(span) = e.span() {
        let at = span.start.min(text.len());
        let before = &text[..at];
        let line_no = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[start..at].chars().count() + 1;
        let line = text[start..].lines().next().unwrap_or("");
        let shown = match line_key(line) {
            Some(k) if is_secret_key(k) => {
                // The message may quote the value too.
                if let Some((_, v)) = line.split_once('=') {
                    let v = v.trim();
                    for candidate in [v, v.trim_matches(['"', '\''])] {
                        if !candidate.is_empty() {
                            msg = msg.replace(candidate, "<hidden>");
                        }
                    }
                }
                format!("{k} = <hidden>")
            }
            _ if is_secret_key(line) => "<hidden>".to_owned(),
            _ => line.to_owned(),
        };
        out.push_str(&format!(
            "line {line_no}, column {column}: {msg}\n  {line_no:>4} | {shown}"
        ));
    } else {
        out.push_str(&msg);
    }
    let secret_line = text.lines().filter_map(line_key).find(|k| is_secret_key(k));
    if let Some(k) = secret_line {
        out.push_str(&format!(
            "\n`{k}` looks like a password: a password never goes into the configuration file. \
             Put the SMTP password into the environment variable named by mail.smtp_password_env \
             (default AIM_SMTP_PASSWORD), e.g. a line AIM_SMTP_PASSWORD=\u{2026} in /etc/aim/aim.env \
             (mode 0600, read by systemd: docs/deploy.md), and remove `{k}` from this file"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_defaults_parse() {
        let c = Config::parse(BUILT_IN, "built-in").unwrap();
        assert_eq!(c.intake.settle_ms, 500);
        assert_eq!(c.intake.max_file_bytes, 33_554_432);
        assert_eq!(c.rules.import_past_days, 15);
        assert!(c.partner("DEMO").is_some());
        assert!(c.partner("ACMEBRK").is_some());
        assert_eq!(c.mail.transport, Transport::File);
        assert_eq!(c.monitor.keep_publications, 104);
        assert_eq!(
            c.monitor.schedule(),
            Some((
                chrono::Weekday::Mon,
                chrono::NaiveTime::from_hms_opt(6, 0, 0).unwrap()
            ))
        );
        assert_eq!(c.metrics.address(), None);
        assert_eq!(
            c.partner_inbox(c.partner("DEMO").unwrap()),
            PathBuf::from("inbox/DEMO")
        );
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("", "x").unwrap();
        assert_eq!(c.intake.rescan_secs, 30);
        assert!(c.partners.is_empty());
        assert_eq!(c.data, PathBuf::from("var"));
    }

    #[test]
    fn unknown_key_names_the_file_and_key() {
        let e = Config::parse("[intake]\nsettle = 5\n", "cfg.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cfg.toml: "), "{e}");
        assert!(e.contains("settle"), "{e}");
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn bad_values_are_explained() {
        for (text, needle) in [
            (
                "[[partner]]\nid='acme'\nname='A'\nemails=['a@b.c']\n",
                "partner[1].id",
            ),
            (
                "[[partner]]\nid='AB'\nname='A'\nemails=[]\n",
                "emails is empty",
            ),
            (
                "[[partner]]\nid='AB'\nname='A'\nemails=['nope']\n",
                "not an e-mail",
            ),
            ("[review]\nwatch_countries=['XX']\n", "watch_countries[1]"),
            ("[mail]\ntransport='pigeon'\n", "pigeon"),
            ("[[staff]]\nuser='bob'\nrole='boss'\n", "boss"),
            ("[intake]\nsettle_ms=-1\n", "settle_ms"),
            ("[monitor]\npublish_weekday='Mon'\n", "publish_weekday"),
            ("[monitor]\npublish_time_utc='6am'\n", "publish_time_utc"),
            ("[monitor]\nkeep_publications=0\n", "keep_publications"),
            ("[metrics]\nlisten='localhost'\n", "metrics.listen"),
            (
                "[[partner]]\nid='AB'\nname='A'\nemails=['a@b.cd']\noutbox='x'\n[[partner]]\nid='CD'\nname='C'\nemails=['c@d.ef']\noutbox='x'\n",
                "share the folder x (outbox)",
            ),
        ] {
            let e = Config::parse(text, "c.toml").unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}

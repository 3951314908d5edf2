//! `aim console` (attach to the running daemon) and `aim` alone (the daemon and the console
//! in one process: the first-run default). In `aim` alone the daemon logs only to its file,
//! runs on its own thread, and stops when the console quits; on a data folder where a daemon
//! already runs, the console attaches to it instead.

use super::app::Screen;
use super::run::{Options, run};
use crate::config::{Config, Role, Staff};
use crate::daemon::DaemonError;
use std::path::Path;
use std::process::ExitCode;

fn unix_user() -> String {
    let uid = nix::unistd::Uid::effective();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => u.name,
        _ => format!("uid {uid}"),
    }
}

/// First-run roles: in `aim` alone only, the user who started it is supervisor when not on
/// the staff list. Returns the note for the dashboard.
pub fn grant_first_run_role(cfg: &mut Config, user: &str) -> Option<String> {
    if cfg.staff.iter().any(|s| s.user == user) {
        return None;
    }
    cfg.staff.push(Staff {
        user: user.to_owned(),
        role: Role::Supervisor,
    });
    Some(format!(
        "you ({user}) are supervisor in this first-run session: not on the staff list"
    ))
}

fn options(cfg: &Config, config: &Path) -> Options {
    Options {
        socket: crate::api::client::socket_of(cfg),
        config: config.to_path_buf(),
        first_run_note: None,
        mode_note: None,
        start: Screen::Dashboard,
        // The process's zone: `TZ`, else /etc/localtime.
        zone: super::app::Zone::Local,
        daemon_ended: None,
    }
}

fn console_exit(r: std::io::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        // Closing the terminal is the person's way out, as `q` is.
        Err(e) if super::run::terminal_gone(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aim: the console failed: {e}");
            ExitCode::from(2)
        }
    }
}

/// The console draws on a terminal: without one (a pipe, a service, a script) say what to
/// run instead rather than fail half-way into raw mode.
fn need_terminal(what: &str, instead: &str) -> Option<ExitCode> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return None;
    }
    eprintln!("aim: {what} needs a terminal (stdin and stdout); {instead}");
    Some(ExitCode::from(2))
}

/// `aim console`: attach to the daemon of `config`.
pub fn attach(config: &Path) -> ExitCode {
    if let Some(code) = need_terminal(
        "the console",
        "from a script use `aim status`, `aim review list` or `aim license show` (--json)",
    ) {
        return code;
    }
    let cfg = match crate::config::load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut o = options(&cfg, config);
    o.mode_note = Some("attached".into());
    console_exit(run(o))
}

/// `aim` alone: the daemon on a thread of this process and the console here.
pub fn alone(config: &Path) -> ExitCode {
    if let Some(code) = need_terminal(
        "`aim` alone (the daemon with its console)",
        "without one run `aim daemon`, and `aim console` from a terminal",
    ) {
        return code;
    }
    let mut cfg = match crate::config::load_config(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let user = unix_user();
    let attached_cfg = cfg.clone();
    let note = grant_first_run_role(&mut cfg, &user);
    let stop = match crate::daemon::stop_on_signals(true) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("aim: cannot catch signals: {e}");
            return ExitCode::from(2);
        }
    };
    match crate::daemon::prepare(cfg.clone(), false, None) {
        Ok(prepared) => {
            if let Some(n) = &note {
                tracing::info!(user = %user, "first-run session: {n}");
            }
            // The daemon cancels `stop` when it ends, whatever the reason: the console ends too.
            let daemon = {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .name("daemon".into())
                    .spawn(move || prepared.run(stop))
            };
            let daemon = match daemon {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("aim: cannot start the daemon thread: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut o = options(&cfg, config);
            o.first_run_note = note;
            o.daemon_ended = Some(stop.clone());
            o.mode_note = Some(format!(
                "daemon in this console; q stops both; logs in {}",
                cfg.data.join("log").display()
            ));
            let r = run(o);
            stop.cancel();
            let d = daemon.join();
            match d {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    // Exit 1: a wrapper (or the person) starts `aim` again.
                    eprintln!("aim: the daemon stopped, and the console with it: {e}");
                    return ExitCode::from(1);
                }
                Err(_) => {
                    eprintln!("aim: the daemon thread panicked; see the log");
                    return ExitCode::from(1);
                }
            }
            let code = console_exit(r);
            if code == ExitCode::SUCCESS {
                eprintln!("aim: stopped cleanly");
            }
            code
        }
        Err(DaemonError::AlreadyRunning { pid, .. }) => {
            // The daemon already running decides roles by its own staff list.
            let mut o = options(&attached_cfg, config);
            o.mode_note = Some(format!(
                "attached to the daemon already running on this data folder (pid {pid})"
            ));
            eprintln!(
                "aim: a daemon already runs on this data folder (pid {pid}): attaching to it"
            );
            console_exit(run(o))
        }
        Err(e) => {
            eprintln!("aim: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_run_role_only_for_users_not_on_the_list() {
        let mut cfg = Config::parse(crate::config::BUILT_IN, "built-in").unwrap();
        assert!(grant_first_run_role(&mut cfg, "alice").is_none());
        let n = grant_first_run_role(&mut cfg, "bob").unwrap();
        assert_eq!(
            n,
            "you (bob) are supervisor in this first-run session: not on the staff list"
        );
        assert!(
            cfg.staff
                .iter()
                .any(|s| s.user == "bob" && s.role == Role::Supervisor)
        );
    }
}

//! systemd's notification protocol (`sd_notify(3)`) through the `sd-notify` crate: nothing is
//! sent when `NOTIFY_SOCKET` is not set (a daemon run by hand, the tests that do not ask).

use sd_notify::NotifyState;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Before the daemon is ready (waiting for room to open the database): say why in `STATUS=`
/// and extend systemd's start timeout by `extend`, so a long wait is not taken for a hang.
pub fn waiting_to_start(status: &str, extend: Duration) {
    let usec = u32::try_from(extend.as_micros()).unwrap_or(u32::MAX);
    if let Err(e) = sd_notify::notify(&[
        NotifyState::Status(status),
        NotifyState::ExtendTimeoutUsec(usec),
    ]) {
        tracing::debug!("cannot notify systemd: {e}");
    }
}

pub struct Notifier {
    /// How often to pet: a quarter of `WATCHDOG_USEC`, so a pet is never more than half an
    /// interval late even when a turn of the loop takes a while. `None`: no watchdog.
    pet_every: Option<Duration>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    last_pet: Option<Instant>,
    status: String,
    /// A failed send is logged once, not once a turn.
    failed: bool,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        // Not unset: a daemon that executes itself again (same pid) keeps talking to systemd.
        let interval = sd_notify::watchdog_enabled();
        if let Some(i) = interval {
            tracing::info!(
                watchdog_ms = u64::try_from(i.as_millis()).unwrap_or(u64::MAX),
                "systemd watchdog on: the main loop pets it every {} ms",
                (i / 4).as_millis()
            );
        }
        Notifier {
            pet_every: interval.map(|i| (i / 4).max(Duration::from_millis(1))),
            state: Mutex::new(State::default()),
        }
    }

    fn send(&self, st: &mut State, states: &[NotifyState<'_>]) {
        match sd_notify::notify(states) {
            Ok(()) => st.failed = false,
            Err(e) if !st.failed => {
                st.failed = true;
                tracing::warn!("cannot notify systemd: {e}");
            }
            Err(_) => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn ready(&self, status: &str) {
        let mut st = self.lock();
        st.status = status.to_owned();
        st.last_pet = Some(Instant::now());
        let mut states = vec![NotifyState::Ready, NotifyState::Status(status)];
        if self.pet_every.is_some() {
            states.push(NotifyState::Watchdog);
        }
        self.send(&mut st, &states);
    }

    /// Called once per full turn of the main loop.
    pub fn turn(&self, status: &str) {
        let mut st = self.lock();
        let pet = self
            .pet_every
            .is_some_and(|every| st.last_pet.is_none_or(|t| t.elapsed() >= every));
        let changed = st.status != status;
        if !pet && !changed {
            return;
        }
        let mut states = Vec::with_capacity(2);
        if pet {
            st.last_pet = Some(Instant::now());
            states.push(NotifyState::Watchdog);
        }
        if changed {
            st.status = status.to_owned();
            states.push(NotifyState::Status(status));
        }
        self.send(&mut st, &states);
    }

    pub fn stopping(&self) {
        let mut st = self.lock();
        st.status = "stopping: finishing the file in hand".to_owned();
        let status = st.status.clone();
        self.send(
            &mut st,
            &[NotifyState::Stopping, NotifyState::Status(&status)],
        );
    }
}

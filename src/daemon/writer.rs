//! The pipeline's single writer, made explicit: everything that changes the store arrives
//! here as a [`Command`] on one queue (staff actions from the control socket, audit records of
//! refusals, the mail worker's delivery states), and the daemon's loop applies them in order
//! between group commits. Readers read sled directly.

use crate::api::views::Reply;
use crate::api::{ApiError, ErrorKind};
use crate::filing::model::LicenseNumber;
use crate::store::{self, AuditEvent, Handle, MailJob};
use chrono::{DateTime, Utc};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// A staff action, already authorized by the control socket.
#[derive(Clone, Debug)]
pub enum StaffAction {
    Cancel {
        license: LicenseNumber,
        reason: String,
    },
    Decide {
        handles: Vec<Handle>,
        ruling: store::Ruling,
    },
    RetryMail {
        id: u64,
    },
    Resend {
        sender: String,
        sha: [u8; 32],
        seq: u32,
    },
}

pub type StaffReply = Result<Reply, ApiError>;

pub enum Command {
    Staff {
        user: String,
        action: StaffAction,
        reply: oneshot::Sender<StaffReply>,
    },
    /// Record an event (a refused request).
    Audit(AuditEvent, Option<oneshot::Sender<()>>),
    /// The mail worker's outcome for one message.
    SettleMail {
        old_due: DateTime<Utc>,
        job: Box<MailJob>,
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// Wakes the daemon's loop when it waits for file events.
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// The sending side, cloned for every client of the writer.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Command>,
    wake: std::sync::Arc<Waker>,
}

impl Writer {
    pub fn new(wake: Waker) -> (Writer, mpsc::Receiver<Command>) {
        let (tx, rx) = mpsc::channel();
        (
            Writer {
                tx,
                wake: std::sync::Arc::new(wake),
            },
            rx,
        )
    }

    fn send(&self, c: Command) -> bool {
        let sent = self.tx.send(c).is_ok();
        (self.wake)();
        sent
    }

    /// Run a staff action and wait for its outcome (at most `wait`).
    pub async fn staff(&self, user: &str, action: StaffAction, wait: Duration) -> StaffReply {
        let (reply, rx) = oneshot::channel();
        if !self.send(Command::Staff {
            user: user.to_owned(),
            action,
            reply,
        }) {
            return Err(ApiError::failed(
                "the daemon is stopping; try again once it is back",
            ));
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ApiError::failed(
                "the daemon stopped before answering; check with `aim audit` whether it was done",
            )),
            Err(_) => Err(ApiError::new(
                ErrorKind::Failed,
                format!(
                    "the daemon did not answer within {} s (busy with a large file?); check with `aim audit` whether it was done",
                    wait.as_secs()
                ),
            )),
        }
    }

    /// Record an audit event and wait (at most `wait`) until it is written, so that a
    /// refusal the client sees is already in the audit log.
    pub async fn audit(&self, e: AuditEvent, wait: Duration) {
        let (done, rx) = oneshot::channel();
        if self.send(Command::Audit(e, Some(done))) {
            let _ = tokio::time::timeout(wait, rx).await;
        }
    }

    /// Record a mail delivery outcome, waiting until it is applied.
    pub async fn settle_mail(&self, old_due: DateTime<Utc>, job: MailJob) -> Result<(), String> {
        let (done, rx) = oneshot::channel();
        if !self.send(Command::SettleMail {
            old_due,
            job: Box::new(job),
            done,
        }) {
            return Err("the daemon is stopping".into());
        }
        rx.await
            .unwrap_or_else(|_| Err("the daemon stopped before recording it".into()))
    }
}

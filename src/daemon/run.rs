//! The loop: one turn at a time, staff commands between group commits, the pause, the rescan
//! and the next batch. The only code that writes the store (docs/architecture.md, "One writer").

use super::writer::Writer;
use super::{Daemon, DaemonError, DataDir, Shutdown, Stats, batch};
use crate::api::Event;
use crate::api::views::FilingRow;
use crate::clock::Clock;
use crate::config::Config;
use crate::health::Health;
use crate::intake::{Inbox, Intake, Placer};
use crate::store::{SharedStore, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Daemon {
    /// Prepare folders, open the store (the caller holds the data lock) and start watching.
    pub fn new(
        cfg: Config,
        store: Arc<SharedStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Daemon, DaemonError> {
        let data = DataDir {
            root: cfg.data.clone(),
        };
        for (what, p) in [
            ("archive folder", data.archive()),
            ("inbox folder", cfg.inbox.clone()),
            ("outbox folder", cfg.outbox.clone()),
        ] {
            std::fs::create_dir_all(&p).map_err(|source| DaemonError::Folder {
                what,
                path: p.display().to_string(),
                source,
            })?;
        }
        let inboxes: Vec<Inbox> = cfg
            .partners
            .iter()
            .map(|p| Inbox {
                partner: p.id.clone(),
                dir: cfg.partner_inbox(p),
                outbox: cfg.partner_outbox(p),
                emails: p.emails.clone(),
                claimed: PathBuf::new(),
            })
            .collect();
        let intake = Intake::new(
            inboxes,
            cfg.inbox.clone(),
            &data.claimed(),
            Duration::from_millis(cfg.intake.settle_ms),
        )?;
        let settings = cfg.rule_settings();
        let (writer, commands) = Writer::new(intake.waker());
        let (events, _) = tokio::sync::broadcast::channel(1024);
        // The dashboard's newest filings, as the store kept them: a restart does not empty it.
        let health = Arc::new(Health::default());
        health.fill_recent(
            store
                .get()?
                .recent_filed(crate::health::RECENT)?
                .into_iter()
                .map(FilingRow::from)
                .collect(),
        );
        Ok(Daemon {
            cfg,
            data,
            store,
            intake,
            placer: Placer::default(),
            settings,
            stats: Arc::new(Stats::default()),
            pause: None,
            clock,
            health,
            events,
            writer,
            commands,
            service: Arc::new(crate::service::Service::from_env()),
        })
    }

    pub fn service(&self) -> Arc<crate::service::Service> {
        Arc::clone(&self.service)
    }

    pub fn shared_store(&self) -> Arc<SharedStore> {
        Arc::clone(&self.store)
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The store for one step of the writer's work: refused once it failed (a failed sled
    /// `Db` is never written or flushed again; see `SharedStore::fail`).
    pub(super) fn db(&self) -> Result<Arc<Store>, crate::store::StoreError> {
        self.store.writable()
    }

    /// The writer's queue: every change to the store from outside the intake loop.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    pub fn health(&self) -> Arc<Health> {
        Arc::clone(&self.health)
    }

    pub fn events(&self) -> tokio::sync::broadcast::Sender<Event> {
        self.events.clone()
    }

    /// Apply the commands waiting in the writer's queue, in order.
    pub(super) fn apply_commands(&mut self) -> Result<(), DaemonError> {
        while let Ok(c) = self.commands.try_recv() {
            self.apply(c)?;
        }
        Ok(())
    }

    /// Run until `stop` is cancelled; the batch in hand is finished first.
    pub fn run(&mut self, stop: &Shutdown) -> Result<(), DaemonError> {
        match self.recover() {
            Ok(None) => {}
            Ok(Some(why)) => self.hold_up(why),
            Err(DaemonError::Store(e)) if e.is_io() => self.data_disk_full(&e),
            Err(e) => return Err(e),
        }
        self.intake.scan();
        let rescan = Duration::from_secs(self.cfg.intake.rescan_secs);
        let mut last_scan = Instant::now();
        tracing::info!(
            partners = self.intake.inboxes.len(),
            watching = self.intake.watching(),
            "intake started"
        );
        self.service.ready(&self.health);
        while !stop.is_cancelled() {
            self.turn(stop, rescan, &mut last_scan)?;
        }
        if self.store.has_failed() {
            // Nothing more can be written; a flush could wait for ever.
            tracing::info!(
                "stopped (the database had failed: the next start finishes what is unfinished)"
            );
            return Ok(());
        }
        self.apply_commands()?;
        self.db()?.flush()?;
        tracing::info!("stopped");
        Ok(())
    }

    /// One turn of the loop: the watchdog is petted only from here.
    fn turn(
        &mut self,
        stop: &Shutdown,
        rescan: Duration,
        last_scan: &mut Instant,
    ) -> Result<(), DaemonError> {
        self.service.turn(&self.health);
        // Staff actions and mail outcomes between group commits: the one writer.
        self.apply_commands()?;
        if self.resume_due() {
            self.try_resume()?;
        }
        if self.pause.is_some() {
            // No new file is read until the unfinished ones are answered.
            self.intake.wait(Duration::from_millis(200));
            return Ok(());
        }
        // The rescan is the backstop for lost events: due even under steady load.
        if last_scan.elapsed() >= rescan {
            self.intake.scan();
            *last_scan = Instant::now();
        }
        let ready = self.intake.take_ready(batch::BATCH, batch::BATCH_BYTES);
        if !ready.is_empty() {
            // Nothing taken is read yet: the scan at resume finds every file again.
            if self.data_disk_low() {
                return Ok(());
            }
            return match self.process_batch(ready, stop) {
                Ok(()) => Ok(()),
                // Nothing of the batch was acked: its files stay claimed and are read again
                // once the database is writable.
                Err(DaemonError::Store(e)) if e.is_io() => {
                    self.data_disk_full(&e);
                    Ok(())
                }
                Err(e) => Err(e),
            };
        }
        let wait = if self.intake.settling() {
            Duration::from_millis(self.cfg.intake.settle_ms.clamp(10, 100))
        } else {
            Duration::from_millis(200)
        };
        self.intake.wait(wait);
        Ok(())
    }
}

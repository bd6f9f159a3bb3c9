//! The server as a whole: built from [`Settings`] (schema, HTTP app, import queue, socket)
//! and run until stopped. `logbook serve` and `logbook demo` both start it here; tests bind
//! it to port 0.

use crate::delivery::{Sender, WebhookConfig};
use crate::graphql::{Limits, build_schema};
use crate::http::{AppState, HttpConfig, app};
use crate::jobs::{JobConfig, Jobs};
use sea_orm::DatabaseConnection;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Everything the server is built from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks a free one).
    pub bind: String,
    /// What a query may cost.
    pub limits: Limits,
    /// HTTP settings.
    pub http: HttpConfig,
    /// How uploaded workbooks are imported.
    pub jobs: JobConfig,
    /// How webhooks are sent, and where they may go (also checked when one is created).
    pub webhooks: WebhookConfig,
    /// How often the import queue looks for work it was not woken for.
    pub poll: Duration,
    /// How long a stop waits for requests in flight and a running import; past it they are
    /// cut off and the import goes back to the queue.
    pub shutdown_grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            limits: Limits::default(),
            http: HttpConfig::default(),
            jobs: JobConfig::default(),
            webhooks: WebhookConfig::default(),
            poll: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A built server: its socket bound, its app and import queue ready.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    jobs: Jobs,
    sender: Sender,
    db: DatabaseConnection,
    poll: Duration,
    grace: Duration,
    evidence: Option<crate::evidence::EvidenceStore>,
}

impl Application {
    /// Builds the schema, the import queue and the app, and binds the socket (an error
    /// names the address).
    pub async fn build(db: DatabaseConnection, settings: Settings) -> std::io::Result<Self> {
        let schema = build_schema(db.clone(), settings.limits);
        let jobs = Jobs::new(db.clone(), settings.jobs);
        let sender = Sender::new(settings.webhooks.clone()).map_err(std::io::Error::other)?;
        let mut http = settings.http;
        http.webhook_policy = settings.webhooks.policy;
        let evidence = http.evidence.clone();
        let router = app(AppState {
            budgets: Default::default(),
            db: db.clone(),
            schema,
            config: http,
            jobs: jobs.clone(),
        });
        let listener = TcpListener::bind(&settings.bind).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", settings.bind))
        })?;
        Ok(Self {
            listener,
            router,
            jobs,
            sender,
            db,
            poll: settings.poll,
            grace: settings.shutdown_grace,
            evidence,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` completes; then accepts no more connections, and lets requests in
    /// flight and the import job running (if any) finish within the grace period. Past it,
    /// they are cut off and the job goes back to the queue for the next start.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let mut worker = tokio::spawn(self.jobs.clone().work(self.poll, stopped.clone()));
        let upkeep = tokio::spawn(crate::telemetry::upkeep());
        // webhooks are sent beside the imports: a long import does not hold them up
        let mut hooks = tokio::spawn(crate::delivery::work(
            self.db.clone(),
            self.sender.clone(),
            Default::default(),
            stopped.clone(),
        ));
        // a photo's pending row left by a crash is removed with its objects
        let sweeper = self.evidence.clone().map(|store| {
            tokio::spawn(crate::service::evidence::upkeep(
                self.db.clone(),
                store,
                stopped.clone(),
            ))
        });
        // `stats` cells left waiting by an import or another process are counted
        let counter = tokio::spawn(crate::service::stats::upkeep(
            self.db.clone(),
            stopped.clone(),
        ));
        let mut on_stop = stopped.clone();
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move {
                stop.await;
                let _ = stopping.send(true);
            })
            .into_future();
        let mut served = tokio::spawn(served);
        // wait for the stop, or for the server failing first (then there is nothing to drain)
        tokio::select! {
            // the stop's flag is set before the server ends: when both are ready, it is a stop
            biased;
            _ = on_stop.wait_for(|s| *s) => {}
            failed = &mut served => {
                worker.abort();
                hooks.abort();
                upkeep.abort();
                counter.abort();
                if let Some(s) = &sweeper {
                    s.abort();
                }
                tracing::error!("the server stopped on its own");
                return failed.unwrap_or_else(|e| Err(std::io::Error::other(e)));
            }
        }
        let started = tokio::time::Instant::now();
        let finished = tokio::time::timeout(self.grace, async {
            let r = (&mut served).await;
            let _ = (&mut worker).await;
            let _ = (&mut hooks).await;
            r
        })
        .await;
        upkeep.abort();
        counter.abort();
        if let Some(s) = &sweeper {
            s.abort();
        }
        let served = match finished {
            Ok(served) => served.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            Err(_) => {
                tracing::warn!(
                    grace_secs = self.grace.as_secs_f64(),
                    "stopping: the grace period is over; requests still in flight are cut off"
                );
                served.abort();
                worker.abort();
                // a delivery cut off mid-way is sent again once its lease ends
                hooks.abort();
                // stopped for good before the running job is handed back: an abort takes
                // effect at the worker's next await, and it might start an import before it
                let _ = (&mut worker).await;
                if let Err(e) = self.jobs.return_running().await {
                    tracing::error!(error = %e, "could not put the running import back in the queue");
                }
                Ok(())
            }
        };
        tracing::info!(waited_ms = started.elapsed().as_millis() as u64, "stopped");
        served
    }

    /// Serves until Ctrl-C or, on Unix, SIGTERM (what systemd, Docker and Kubernetes send).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(stop_signal()).await
    }
}

/// Completes at Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: stopping"),
        () = term => tracing::info!("SIGTERM: stopping"),
    }
}

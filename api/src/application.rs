//! The server as a whole: built from [`Settings`] (schema, HTTP app, import queue, socket)
//! and run until stopped. `logbook serve` and `logbook demo` both start it here; tests bind
//! it to port 0.

use crate::graphql::{Limits, build_schema};
use crate::http::{AppState, HttpConfig, app};
use crate::jobs::{JobConfig, Jobs};
use sea_orm::DatabaseConnection;
use std::future::Future;
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
    /// How often the import queue looks for work it was not woken for.
    pub poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            limits: Limits::default(),
            http: HttpConfig::default(),
            jobs: JobConfig::default(),
            poll: Duration::from_secs(2),
        }
    }
}

/// A built server: its socket bound, its app and import queue ready.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    jobs: Jobs,
    poll: Duration,
}

impl Application {
    /// Builds the schema, the import queue and the app, and binds the socket (an error
    /// names the address).
    pub async fn build(db: DatabaseConnection, settings: Settings) -> std::io::Result<Self> {
        let schema = build_schema(db.clone(), settings.limits);
        let jobs = Jobs::new(db.clone(), settings.jobs);
        let router = app(AppState {
            db,
            schema,
            config: settings.http,
            jobs: jobs.clone(),
        });
        let listener = TcpListener::bind(&settings.bind).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", settings.bind))
        })?;
        Ok(Self {
            listener,
            router,
            jobs,
            poll: settings.poll,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` completes, then lets requests in flight finish; the import queue
    /// works in the background meanwhile (a job cut off by the stop is picked up again at the
    /// next start).
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let worker = tokio::spawn(self.jobs.work(self.poll));
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stop)
            .await;
        worker.abort();
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

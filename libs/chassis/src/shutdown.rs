//! Shutdown as a future: every long-running task takes the same signal.

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// A shutdown signal many tasks can wait on (server, streams, background workers).
///
/// Cloning is cheap; [`Shutdown::wait`] resolves for every clone once the trigger fires.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: tokio::sync::watch::Receiver<bool>,
}

/// Fires a [`Shutdown`].
#[derive(Debug)]
pub struct Trigger {
    tx: tokio::sync::watch::Sender<bool>,
}

impl Trigger {
    /// Fires the signal; every waiter wakes.
    pub fn fire(&self) {
        self.tx.send_replace(true);
    }
}

impl Shutdown {
    /// A signal and the trigger that fires it.
    pub fn new() -> (Trigger, Self) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (Trigger { tx }, Self { rx })
    }

    /// A signal that fires when `fut` resolves (e.g. [`signal()`]).
    pub fn from_future(fut: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        let (trigger, shutdown) = Self::new();
        tokio::spawn(async move {
            fut.await;
            trigger.fire();
        });
        shutdown
    }

    /// True once fired.
    pub fn is_fired(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once fired (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means the trigger was dropped without firing: treat as "never".
        if rx.wait_for(|fired| *fired).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_wakes() {
        let (trigger, s) = Shutdown::new();
        let a = tokio::spawn({
            let s = s.clone();
            async move { s.wait().await }
        });
        let b = tokio::spawn({
            let s = s.clone();
            async move { s.wait().await }
        });
        assert!(!s.is_fired());
        trigger.fire();
        a.await.expect("a");
        b.await.expect("b");
        s.wait().await; // already fired: immediate
    }
}

//! What counts as the user (or a scheduler) asking a run to stop: Ctrl-C (SIGINT), and on Unix
//! SIGTERM, which is how Kubernetes, ECS, systemd and GitHub Actions stop a job before they kill
//! it (ECS and Kubernetes allow 30 s by default between the two).

/// Resolves at the next Ctrl-C or SIGTERM. Once called, those signals no longer end the process
/// by themselves: the caller decides what stopping means (a cutover shifts traffic back).
pub async fn requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    // Without a way to listen, never resolve: the default handling (the process ends) stays.
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

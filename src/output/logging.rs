use super::OutputSettings;

/// Logs go to stderr through `tracing`. By default only cutover's own warnings (and any crate's
/// errors): the AWS SDK's warnings (a credential provider that found nothing, say) repeat what
/// cutover's error already says, at length. `-v` shows them and cutover's debug lines, `-vv`
/// cutover's trace lines, `-vvv` adds the AWS SDK's debug lines. `RUST_LOG` overrides all of it.
pub fn init_logging(settings: &OutputSettings) {
    let default_filter = match settings.verbosity {
        i8::MIN..=-1 => "error",
        0 => "error,cutover=warn",
        1 => "warn,cutover=debug",
        2 => "warn,cutover=trace",
        _ => "debug,cutover=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| super::secrets::ScrubbedStderr)
        .with_ansi(settings.stderr_color)
        .with_target(settings.verbosity >= 3)
        .try_init();
}

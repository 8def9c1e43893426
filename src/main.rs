use std::process::ExitCode;

use clap::Parser;
use cutover::cli::Cli;
use cutover::error::Diagnostic;
use cutover::output::{print_error, OutputSettings};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // clap uses 2 for usage errors, which matches "bad input"; help and version are 0.
            return ExitCode::from(error.exit_code().clamp(0, 255) as u8);
        }
    };
    let settings = OutputSettings::from_args(&cli.global);
    cutover::output::init_logging(&settings);
    cutover::output::secrets::register_environment_credentials();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            print_error(&error, None, settings.stderr_palette());
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cutover::commands::run(cli, settings.clone())) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(error) => {
            print_error(&error, error.hint().as_deref(), settings.stderr_palette());
            ExitCode::from(error.exit().code())
        }
    }
}

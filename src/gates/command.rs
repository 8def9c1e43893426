//! The user command gate: `sh -c COMMAND` with the release in its environment; exit 0 passes.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::{GateOutcome, GateResult};

pub const GATE: &str = "command";

/// A smoke test gets this long; the spec has no setting for it yet.
pub const TIMEOUT: Duration = Duration::from_secs(120);
/// How much of a failed command's output the reason quotes.
const TAIL_LINES: usize = 5;

/// What the command learns about the release.
#[derive(Debug, Clone)]
pub struct CommandContext<'a> {
    pub app: &'a str,
    pub stack_name: &'a str,
    pub release: &'a str,
    pub outputs: &'a [(String, String)],
    /// Where it runs: the spec file's folder, so `./smoke.sh` next to the spec works.
    pub dir: Option<&'a Path>,
    /// The test route's header (name, value) while the candidate has one.
    pub test_header: Option<&'a (String, String)>,
}

/// The environment the command gets on top of cutover's own.
pub fn environment(context: &CommandContext<'_>) -> Vec<(String, String)> {
    let mut env = vec![
        ("CUTOVER_APP".to_string(), context.app.to_string()),
        (
            "CUTOVER_STACK_NAME".to_string(),
            context.stack_name.to_string(),
        ),
        ("CUTOVER_RELEASE".to_string(), context.release.to_string()),
    ];
    env.extend(
        context
            .outputs
            .iter()
            .map(|(key, value)| (format!("CUTOVER_OUTPUT_{key}"), value.clone())),
    );
    // `curl -H "$CUTOVER_TEST_HEADER" …` reaches the candidate through its test route.
    if let Some((name, value)) = context.test_header {
        env.push((
            "CUTOVER_TEST_HEADER".to_string(),
            format!("{name}: {value}"),
        ));
        env.push(("CUTOVER_TEST_HEADER_NAME".to_string(), name.clone()));
        env.push(("CUTOVER_TEST_HEADER_VALUE".to_string(), value.clone()));
    }
    env
}

pub async fn check(command: &str, context: &CommandContext<'_>, timeout: Duration) -> GateResult {
    let result = |outcome| GateResult::new(GATE, outcome);
    let mut process = Command::new("sh");
    process
        .arg("-c")
        .arg(command)
        .envs(environment(context))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = context.dir.filter(|dir| !dir.as_os_str().is_empty()) {
        process.current_dir(dir);
    }
    let child = match process.spawn() {
        Ok(child) => child,
        Err(error) => {
            return result(GateOutcome::Error(format!(
                "could not start sh -c {command:?}: {error}"
            )))
        }
    };
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => {
            return result(GateOutcome::Error(format!(
                "could not run {command:?}: {error}"
            )))
        }
        // Dropping the future kills the child (kill_on_drop).
        Err(_) => {
            return result(GateOutcome::Fail(format!(
                "{command:?} did not finish within {}",
                humantime::format_duration(timeout)
            )))
        }
    };
    if output.status.success() {
        return result(GateOutcome::Pass);
    }
    let status = match output.status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let quoted = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let tail = last_lines(&quoted, TAIL_LINES);
    result(GateOutcome::Fail(if tail.is_empty() {
        format!("{command:?}: {status}")
    } else {
        format!("{command:?}: {status}: {tail}")
    }))
}

/// The last `count` non-empty lines, joined with " | " so the reason stays on one line.
fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect();
    lines[lines.len().saturating_sub(count)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context<'a>(outputs: &'a [(String, String)]) -> CommandContext<'a> {
        CommandContext {
            app: "web",
            stack_name: "web-r2",
            release: "r2",
            outputs,
            dir: None,
            test_header: None,
        }
    }

    #[test]
    fn the_test_header_is_in_the_environment_while_the_route_is_up() {
        let header = ("X-Release".to_string(), "r2".to_string());
        let with = CommandContext {
            test_header: Some(&header),
            ..context(&[])
        };
        let env = environment(&with);
        assert!(env.contains(&("CUTOVER_TEST_HEADER".into(), "X-Release: r2".into())));
        assert!(env.contains(&("CUTOVER_TEST_HEADER_NAME".into(), "X-Release".into())));
        assert!(env.contains(&("CUTOVER_TEST_HEADER_VALUE".into(), "r2".into())));
        assert!(!environment(&context(&[]))
            .iter()
            .any(|(name, _)| name.starts_with("CUTOVER_TEST")));
    }

    #[tokio::test]
    async fn the_release_is_in_the_environment() {
        let outputs = [("Url".to_string(), "http://x".to_string())];
        let script = r#"test "$CUTOVER_APP/$CUTOVER_STACK_NAME/$CUTOVER_RELEASE/$CUTOVER_OUTPUT_Url" = "web/web-r2/r2/http://x""#;
        let result = check(script, &context(&outputs), TIMEOUT).await;
        assert_eq!(result.outcome, GateOutcome::Pass);
    }

    #[tokio::test]
    async fn a_failure_quotes_the_last_lines_of_stderr() {
        let script = "echo noise; for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 3";
        let result = check(script, &context(&[]), TIMEOUT).await;
        assert_eq!(
            result.outcome,
            GateOutcome::Fail(format!(
                "{script:?}: exit status 3: line3 | line4 | line5 | line6 | line7"
            ))
        );
    }

    // Virtual time: the runtime has nothing to do while `sleep` runs, so the clock jumps to the
    // timeout at once.
    #[tokio::test(start_paused = true)]
    async fn a_command_that_hangs_fails_at_the_timeout() {
        let result = check("sleep 600", &context(&[]), TIMEOUT).await;
        assert!(
            matches!(&result.outcome, GateOutcome::Fail(reason) if reason.contains("did not finish within 2m")),
            "{result}"
        );
    }
}

//! The HTTP probe: GET a URL of the release and expect a status (and optionally a substring of
//! the body), with the spec's timeout and retries.
//!
//! Built on hyper-util and hyper-rustls with exactly the features the AWS SDK already compiles,
//! so https works (system roots, aws-lc-rs) without a second HTTP/TLS stack in the build.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{GateOutcome, GateResult};
use crate::spec::HttpGate;

pub const GATE: &str = "http";

/// The pause between two attempts of one probe: short, the gate is checked again soon anyway.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Bodies are read up to this size for `body_contains`; a health page is far smaller.
const MAX_BODY: usize = 1 << 20;

/// An HTTP(S) client for probes; cheap to clone.
#[derive(Clone)]
pub struct HttpProbe {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl std::fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpProbe")
    }
}

impl Default for HttpProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpProbe {
    pub fn new() -> HttpProbe {
        let connector = crate::https::connector("probes");
        HttpProbe {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// Probes `url` up to `1 + retries` times; passes at the first good answer. `headers` are
    /// sent with every attempt (the test route's header while a candidate is being proven).
    pub async fn check(
        &self,
        gate: &HttpGate,
        url: &str,
        headers: &[(String, String)],
    ) -> GateResult {
        let result = |outcome| GateResult::new(GATE, outcome);
        let uri: Uri = match url.parse() {
            Ok(uri) => uri,
            Err(error) => {
                return result(GateOutcome::Fail(format!("{url:?} is not a URL: {error}")))
            }
        };
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return result(GateOutcome::Fail(format!(
                "{url} is not an http:// or https:// URL"
            )));
        }
        let attempts = gate.retries.saturating_add(1);
        let mut last_failure = String::new();
        for attempt in 1..=attempts {
            match self.attempt(gate, &uri, headers).await {
                Ok(()) => return result(GateOutcome::Pass),
                Err(failure) => last_failure = failure,
            }
            if attempt < attempts {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
        let tries = if attempts == 1 {
            String::new()
        } else {
            format!(" ({attempts} attempts)")
        };
        result(GateOutcome::Fail(format!(
            "GET {url}: {last_failure}{tries}"
        )))
    }

    async fn attempt(
        &self,
        gate: &HttpGate,
        uri: &Uri,
        headers: &[(String, String)],
    ) -> Result<(), String> {
        let mut request = Request::get(uri.clone()).header(
            header::USER_AGENT,
            concat!("cutover/", env!("CARGO_PKG_VERSION")),
        );
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|error| error.to_string())?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| chain(&error))?;
            let status = response.status().as_u16();
            let body = match &gate.body_contains {
                Some(_) => Limited::new(response.into_body(), MAX_BODY)
                    .collect()
                    .await
                    .map_err(|error| format!("reading the body: {}", chain(&*error)))?
                    .to_bytes(),
                None => Bytes::new(),
            };
            Ok::<_, String>((status, body))
        };
        let (status, body) = tokio::time::timeout(gate.timeout, exchange)
            .await
            .map_err(|_| {
                format!(
                    "no answer within {}",
                    humantime::format_duration(gate.timeout)
                )
            })??;
        if status != gate.expect_status {
            return Err(format!("status {status}, expected {}", gate.expect_status));
        }
        if let Some(expected) = &gate.body_contains {
            if !String::from_utf8_lossy(&body).contains(expected.as_str()) {
                return Err(format!(
                    "status {status} but the body does not contain {expected:?}"
                ));
            }
        }
        Ok(())
    }
}

/// hyper's errors say "client error (Connect)" and keep the cause in the chain: show it all.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(cause) = current {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Serves `response` to every request; `None` accepts and never answers.
    async fn server(response: Option<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 2048];
                    let _ = stream.read(&mut buffer).await;
                    match response {
                        Some(response) => {
                            let _ = stream.write_all(response.as_bytes()).await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                });
            }
        });
        format!("http://{address}/health")
    }

    fn gate(body_contains: Option<&str>, timeout: Duration) -> HttpGate {
        HttpGate {
            url: crate::spec::HttpTarget::Url(String::new()),
            expect_status: 200,
            body_contains: body_contains.map(str::to_string),
            timeout,
            retries: 0,
        }
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\nstatus=ok";

    #[tokio::test]
    async fn status_and_body_match() {
        let url = server(Some(OK)).await;
        let result = HttpProbe::new()
            .check(&gate(Some("=ok"), Duration::from_secs(5)), &url, &[])
            .await;
        assert_eq!(result, GateResult::pass("http"));
    }

    /// Answers 200 only to requests carrying `x-release: r42`, 404 otherwise (an ALB test route).
    async fn header_routed_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 2048];
                    let read = stream.read(&mut buffer).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buffer[..read]).to_ascii_lowercase();
                    let answer = if request.contains("\r\nx-release: r42\r\n") {
                        OK
                    } else {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    };
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        format!("http://{address}/health")
    }

    #[tokio::test]
    async fn the_test_route_header_is_sent() {
        let url = header_routed_server().await;
        let probe = HttpProbe::new();
        let header = [("X-Release".to_string(), "r42".to_string())];
        let with = probe
            .check(&gate(None, Duration::from_secs(5)), &url, &header)
            .await;
        assert_eq!(with, GateResult::pass("http"));
        let without = probe
            .check(&gate(None, Duration::from_secs(5)), &url, &[])
            .await;
        assert!(
            matches!(&without.outcome, GateOutcome::Fail(reason) if reason.contains("status 404")),
            "{without:?}"
        );
    }

    #[tokio::test]
    async fn a_body_without_the_text_fails() {
        let url = server(Some(OK)).await;
        let result = HttpProbe::new()
            .check(&gate(Some("healthy"), Duration::from_secs(5)), &url, &[])
            .await;
        assert_eq!(
            result,
            GateResult::fail(
                "http",
                format!("GET {url}: status 200 but the body does not contain \"healthy\"")
            )
        );
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_fails_at_the_timeout() {
        let url = server(None).await;
        let result = HttpProbe::new()
            .check(&gate(None, Duration::from_millis(100)), &url, &[])
            .await;
        assert_eq!(
            result,
            GateResult::fail("http", format!("GET {url}: no answer within 100ms"))
        );
    }

    #[tokio::test]
    async fn a_refused_connection_and_bad_urls_fail() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let probe = HttpProbe::new();
        let result = probe
            .check(&gate(None, Duration::from_secs(5)), &url, &[])
            .await;
        assert!(
            matches!(&result.outcome, GateOutcome::Fail(reason) if reason.starts_with(&format!("GET {url}: client error (Connect)"))),
            "{result}"
        );
        let result = probe
            .check(
                &gate(None, Duration::from_secs(5)),
                "ftp://example.com/",
                &[],
            )
            .await;
        assert_eq!(
            result,
            GateResult::fail(
                "http",
                "ftp://example.com/ is not an http:// or https:// URL"
            )
        );
    }
}

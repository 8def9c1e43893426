//! The server side of the fault proxy's HTTP/1.1: `httparse` plus Content-Length framing,
//! which is all the SDK sends to these services. Not hyper's server: enabling hyper's `server`
//! feature would build the whole AWS SDK once more for the test profile.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::faults::{CannedResponse, ParsedRequest};

pub enum Outcome {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Reset,
}

impl From<CannedResponse> for Outcome {
    fn from(canned: CannedResponse) -> Outcome {
        Outcome::Respond {
            status: canned.status,
            headers: vec![("content-type".into(), canned.content_type.into())],
            body: canned.body.into_bytes(),
        }
    }
}

pub async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Result<Option<ParsedRequest>, String> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed
            .parse(buffer)
            .map_err(|error| format!("bad HTTP request: {error}"))?
        {
            httparse::Status::Complete(head_length) => {
                let method = parsed.method.unwrap_or("GET").to_string();
                let path = parsed.path.unwrap_or("/").to_string();
                let headers: Vec<(String, String)> = parsed
                    .headers
                    .iter()
                    .map(|header| {
                        (
                            header.name.to_string(),
                            String::from_utf8_lossy(header.value).into_owned(),
                        )
                    })
                    .collect();
                let find = |name: &str| {
                    headers
                        .iter()
                        .find(|(key, _)| key.eq_ignore_ascii_case(name))
                };
                if find("transfer-encoding").is_some() {
                    return Err("the fault proxy reads Content-Length bodies only".into());
                }
                let length: usize = match find("content-length") {
                    Some((_, value)) => value
                        .trim()
                        .parse()
                        .map_err(|_| "bad Content-Length".to_string())?,
                    None => 0,
                };
                while buffer.len() < head_length + length {
                    if read_more(stream, buffer).await? == 0 {
                        return Err("the connection closed inside a request body".into());
                    }
                }
                let body = buffer[head_length..head_length + length].to_vec();
                buffer.drain(..head_length + length);
                return Ok(Some(ParsedRequest {
                    method,
                    path,
                    headers,
                    body,
                }));
            }
            httparse::Status::Partial => {
                if read_more(stream, buffer).await? == 0 {
                    return if buffer.is_empty() {
                        Ok(None)
                    } else {
                        Err("the connection closed inside a request".into())
                    };
                }
            }
        }
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<usize, String> {
    let mut chunk = [0u8; 16 * 1024];
    let read = stream
        .read(&mut chunk)
        .await
        .map_err(|error| error.to_string())?;
    buffer.extend_from_slice(&chunk[..read]);
    Ok(read)
}

pub async fn write_response(stream: &mut TcpStream, outcome: Outcome) -> std::io::Result<()> {
    let Outcome::Respond {
        status,
        headers,
        body,
    } = outcome
    else {
        return Ok(());
    };
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("");
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.flush().await
}

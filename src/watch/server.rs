//! The preview server, on 127.0.0.1 only: the page, its event stream (server-sent events carrying the
//! snapshot as JSON on every update) and the images of the latest run, read from the run's own files.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tiny_http::{Header, Request, Response, Server};

use super::preview::Preview;

const PAGE: &str = include_str!("page.html");

/// How often an idle event stream sends a comment, which also notices closed pages.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Starts serving `preview` on 127.0.0.1:`port` (0 picks a free port); returns the address.
pub fn start(port: u16, preview: Arc<Preview>) -> anyhow::Result<SocketAddr> {
    let server = Server::http(("127.0.0.1", port)).map_err(|e| {
        let taken = e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::AddrInUse);
        if taken {
            anyhow::anyhow!(
                "port {port} on 127.0.0.1 is already in use (another drape watch?); pick another with --port"
            )
        } else {
            anyhow::anyhow!("cannot serve the preview on 127.0.0.1:{port}: {e}")
        }
    })?;
    let address = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow::anyhow!("the preview server has no IP address"))?;
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            respond(request, &preview);
        }
    });
    Ok(address)
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("valid header")
}

fn respond(request: Request, preview: &Arc<Preview>) {
    let path = request.url().split('?').next().unwrap_or("").to_string();
    let response = match path.as_str() {
        "/" => Response::from_string(PAGE)
            .with_header(header("Content-Type", "text/html; charset=utf-8"))
            .with_header(header("Cache-Control", "no-store")),
        "/state" => Response::from_string(preview.current().to_json())
            .with_header(header("Content-Type", "application/json"))
            .with_header(header("Cache-Control", "no-store")),
        "/events" => {
            let preview = Arc::clone(preview);
            std::thread::spawn(move || stream_events(request, &preview));
            return;
        }
        _ => match image(&path, preview) {
            Some(bytes) => Response::from_data(bytes)
                .with_header(header("Content-Type", "image/png"))
                .with_header(header("Cache-Control", "max-age=3600")),
            None => Response::from_string("not found").with_status_code(404),
        },
    };
    // A page that went away mid-response is not an error worth reporting.
    let _ = request.respond(response);
}

/// `/image/RUN/INDEX`: the file of image INDEX of the current snapshot (RUN only busts caches).
fn image(path: &str, preview: &Preview) -> Option<Vec<u8>> {
    let mut parts = path.strip_prefix("/image/")?.split('/');
    let (_version, index) = (parts.next()?, parts.next()?.parse::<usize>().ok()?);
    let file = preview.current().images.get(index)?.path.clone();
    std::fs::read(file).ok()
}

/// Sends the snapshot now and after every update, until the page goes away.
fn stream_events(request: Request, preview: &Preview) {
    let mut writer = request.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
                Connection: keep-alive\r\n\r\n";
    if writer.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut snapshot = preview.current();
    loop {
        let message = format!("data: {}\n\n", snapshot.to_json());
        if writer.write_all(message.as_bytes()).is_err() || writer.flush().is_err() {
            return;
        }
        loop {
            let newer = preview.wait_newer(snapshot.version, KEEPALIVE);
            if newer.version != snapshot.version {
                snapshot = newer;
                break;
            }
            if writer.write_all(b": keepalive\n\n").is_err() || writer.flush().is_err() {
                return;
            }
        }
    }
}

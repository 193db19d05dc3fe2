//! The preview server, on 127.0.0.1 only: the page, its event stream (server-sent events carrying the
//! snapshot as JSON on every update) and the images of the latest run, read from the run's own files.
//! Plain HTTP/1.1 on a std listener: a thread per connection and one GET per connection, so no request
//! ever queues behind a page's long-lived event stream or another page's idle connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::preview::Preview;

const PAGE: &str = include_str!("page.html");

/// How often an idle event stream sends a comment, which also notices closed pages.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// How long a connection may take to send its request, or to take a response.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest request head read.
const MAX_REQUEST: u64 = 16 * 1024;

/// Starts serving `preview` on 127.0.0.1:`port` (0 picks a free port); returns the address.
pub fn start(port: u16, preview: Arc<Preview>) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "port {port} on 127.0.0.1 is already in use (another drape watch?); pick another with --port"
            )
        } else {
            anyhow::anyhow!("cannot serve the preview on 127.0.0.1:{port}: {e}")
        }
    })?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let preview = Arc::clone(&preview);
            std::thread::spawn(move || serve(stream, &preview));
        }
    });
    Ok(address)
}

/// Answers one request; a page that went away mid-answer is not an error worth reporting.
fn serve(mut stream: TcpStream, preview: &Preview) {
    let timeouts = stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)));
    if timeouts.is_err() {
        return;
    }
    let path = match request_path(&mut BufReader::new((&stream).take(MAX_REQUEST))) {
        Ok(path) => path,
        Err(status) => {
            let _ = send(
                &mut stream,
                status,
                "text/plain",
                "no-store",
                status.as_bytes(),
            );
            return;
        }
    };
    let _ = match path.as_str() {
        "/" => send(
            &mut stream,
            "200 OK",
            "text/html; charset=utf-8",
            "no-store",
            PAGE.as_bytes(),
        ),
        "/state" => send(
            &mut stream,
            "200 OK",
            "application/json",
            "no-store",
            preview.current().to_json().as_bytes(),
        ),
        "/events" => stream_events(&mut stream, preview),
        _ => match image(&path, preview) {
            Some(bytes) => send(&mut stream, "200 OK", "image/png", "max-age=3600", &bytes),
            None => send(
                &mut stream,
                "404 Not Found",
                "text/plain",
                "no-store",
                b"not found",
            ),
        },
    };
}

/// The path of a GET request (query dropped), or the status line to refuse it with.
fn request_path(reader: &mut impl BufRead) -> Result<String, &'static str> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|_| "400 Bad Request")?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next(), parts.next());
    // The headers carry nothing this server needs; read past them.
    let mut header = String::new();
    while reader
        .read_line(&mut header)
        .map_err(|_| "400 Bad Request")?
        > 2
    {
        header.clear();
    }
    match (method, target) {
        (Some("GET"), Some(target)) => Ok(target.split('?').next().unwrap_or("").to_string()),
        (Some(_), Some(_)) => Err("405 Method Not Allowed"),
        _ => Err("400 Bad Request"),
    }
}

fn send(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    cache: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: {cache}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// `/image/RUN/INDEX`: the file of image INDEX of the current snapshot (RUN only busts caches).
fn image(path: &str, preview: &Preview) -> Option<Vec<u8>> {
    let mut parts = path.strip_prefix("/image/")?.split('/');
    let (_run, index) = (parts.next()?, parts.next()?.parse::<usize>().ok()?);
    let file = preview.current().images.get(index)?.path.clone();
    std::fs::read(file).ok()
}

/// Sends the snapshot now and after every update, until the page goes away.
fn stream_events(stream: &mut TcpStream, preview: &Preview) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
          Connection: close\r\n\r\n",
    )?;
    let mut snapshot = preview.current();
    loop {
        stream.write_all(format!("data: {}\n\n", snapshot.to_json()).as_bytes())?;
        stream.flush()?;
        loop {
            let newer = preview.wait_newer(snapshot.version, KEEPALIVE);
            if newer.version != snapshot.version {
                snapshot = newer;
                break;
            }
            stream.write_all(b": keepalive\n\n")?;
            stream.flush()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_path_of_a_get_and_refuses_other_requests() {
        let get = "GET /image/3/1?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n";
        assert_eq!(request_path(&mut get.as_bytes()), Ok("/image/3/1".into()));
        let post = "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            request_path(&mut post.as_bytes()),
            Err("405 Method Not Allowed")
        );
        assert_eq!(request_path(&mut "\r\n".as_bytes()), Err("400 Bad Request"));
        assert_eq!(request_path(&mut "".as_bytes()), Err("400 Bad Request"));
    }
}

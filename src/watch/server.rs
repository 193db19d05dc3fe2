//! The preview server, on 127.0.0.1 only: the page, its event stream (server-sent events carrying the
//! snapshot as JSON on every update) and the images of the latest run, read from the run's own files.
//! Plain HTTP/1.1 on a std listener: a thread per connection (at most [`MAX_CONNECTIONS`]) and one GET
//! per connection, so no request ever queues behind a page's long-lived event stream or another
//! page's idle connection. It answers only requests addressed to itself (the `Host` header names
//! 127.0.0.1, localhost or [::1] with its port), so a page on another site cannot read it through a
//! DNS-rebinding name.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::preview::{FileIdentity, Preview};
use super::studio::{Studio, parse_edit, parse_index};

const PAGE: &str = include_str!("page.html");

/// How often an idle event stream sends a comment, which also notices closed pages.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// How long a connection may take to send its whole request head, or to take a response.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 64;

/// The longest request head read.
const MAX_REQUEST: u64 = 16 * 1024;

/// The largest body of an edit request.
const MAX_BODY: u64 = 64 * 1024;

/// Starts serving `preview` and `studio`'s controls on 127.0.0.1:`port` (0 picks a free port);
/// returns the address.
pub fn start(port: u16, preview: Arc<Preview>, studio: Arc<Studio>) -> anyhow::Result<SocketAddr> {
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
    let open = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("preview-server".into())
        .spawn(move || {
            for mut stream in listener.incoming().flatten() {
                if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    open.fetch_sub(1, Ordering::SeqCst);
                    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
                    let _ = send(
                        &mut stream,
                        "503 Service Unavailable",
                        "text/plain",
                        "no-store",
                        b"busy",
                    );
                    continue;
                }
                let (preview, done) = (Arc::clone(&preview), Arc::clone(&open));
                let studio = Arc::clone(&studio);
                let port = address.port();
                let worker = std::thread::Builder::new().spawn(move || {
                    serve(stream, &preview, &studio, port);
                    done.fetch_sub(1, Ordering::SeqCst);
                });
                // A thread that cannot start drops its connection; the loop goes on.
                if worker.is_err() {
                    open.fetch_sub(1, Ordering::SeqCst);
                }
            }
        })?;
    Ok(address)
}

/// Reads from a connection until a deadline for the whole request, however slowly it trickles in.
struct Deadline<'a> {
    stream: &'a TcpStream,
    until: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        (&mut &*self.stream).read(buf)
    }
}

/// Answers one request; a page that went away mid-answer is not an error worth reporting.
fn serve(mut stream: TcpStream, preview: &Preview, studio: &Studio, port: u16) {
    if stream.set_write_timeout(Some(IO_TIMEOUT)).is_err() {
        return;
    }
    let head = Deadline {
        stream: &stream,
        until: Instant::now() + IO_TIMEOUT,
    };
    let mut reader = BufReader::new(head.take(MAX_REQUEST));
    let request = match read_head(&mut reader, port) {
        Ok(request) => request,
        Err(status) => return refuse(&mut stream, status),
    };
    if request.method == "POST" {
        if let Some(status) = refuse_post(&request, port, studio.token()) {
            return refuse(&mut stream, status);
        }
        // The body follows the head: allow its declared length (less what is buffered already).
        let length = request.content_length.unwrap_or(0);
        let buffered = reader.buffer().len() as u64;
        reader.get_mut().set_limit(length.saturating_sub(buffered));
        let mut body = vec![0; length as usize];
        if reader.read_exact(&mut body).is_err() {
            return refuse(&mut stream, "400 Bad Request");
        }
        let design = || {
            let index = parse_index(&body)?;
            served_file(index, preview).ok_or_else(|| format!("there is no image {index}"))
        };
        let result = match request.path.as_str() {
            "/edit" => parse_edit(&body)
                .and_then(|(target, value)| studio.edit(&target, &value))
                .map(|()| String::new()),
            "/undo" => studio.step(true).map(|()| String::new()),
            "/redo" => studio.step(false).map(|()| String::new()),
            "/keep" => design().and_then(|png| studio.keep(&png)),
            "/open" => design().and_then(|png| studio.open_as_graph(&png)),
            _ => return refuse(&mut stream, "404 Not Found"),
        };
        let (status, answer) = match result {
            Ok(done) => ("200 OK", serde_json::json!({ "ok": true, "done": done })),
            Err(error) => (
                "422 Unprocessable Content",
                serde_json::json!({ "error": error }),
            ),
        };
        let _ = send(
            &mut stream,
            status,
            "application/json",
            "no-store",
            answer.to_string().as_bytes(),
        );
        return;
    }
    let path = request.path;
    let _ = match path.as_str() {
        "/" => send(
            &mut stream,
            "200 OK",
            "text/html; charset=utf-8",
            "no-store",
            PAGE.replace("{{token}}", studio.token()).as_bytes(),
        ),
        "/state" => send(
            &mut stream,
            "200 OK",
            "application/json",
            "no-store",
            preview.current().to_json().as_bytes(),
        ),
        "/controls" => send(
            &mut stream,
            "200 OK",
            "application/json",
            "no-store",
            studio.controls().to_string().as_bytes(),
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

/// Answers `status` and closes gently: unread request bytes would otherwise turn the close into a
/// reset that can overtake the answer.
fn refuse(stream: &mut TcpStream, status: &str) {
    let _ = send(stream, status, "text/plain", "no-store", status.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = std::io::copy(&mut (&*stream).take(1 << 20), &mut std::io::sink());
}

/// A request head: what the server looks at.
#[derive(Debug, Default, PartialEq)]
struct Request {
    method: String,
    /// The target's path, query dropped.
    path: String,
    /// The `Origin` header, lower-cased.
    origin: Option<String>,
    content_type: Option<String>,
    content_length: Option<u64>,
    /// The `X-Drape-Token` header.
    token: Option<String>,
}

/// The head of a request addressed to this server, or the status line to refuse it with: only
/// requests whose `Host` is this server (`127.0.0.1`, `localhost` or `[::1]` with `port`) are
/// answered, and heads longer than [`MAX_REQUEST`] or slower than [`IO_TIMEOUT`] are refused.
fn read_head(reader: &mut impl BufRead, port: u16) -> Result<Request, &'static str> {
    // A line that does not end within the size limit is too long; one that does not arrive before
    // the deadline is too slow.
    let read_line =
        |reader: &mut dyn BufRead, line: &mut String, too_long: &'static str| match reader
            .read_line(line)
        {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err("408 Request Timeout"),
            Err(_) => Err("400 Bad Request"),
            Ok(0) => Err("400 Bad Request"),
            Ok(_) if !line.ends_with('\n') => Err(too_long),
            Ok(n) => Ok(n),
        };
    let mut line = String::new();
    read_line(reader, &mut line, "414 URI Too Long")?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next(), parts.next());
    let mut host = None;
    let mut request = Request::default();
    loop {
        let mut header = String::new();
        read_line(reader, &mut header, "431 Request Header Fields Too Large")?;
        if header.trim().is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "host" => host = Some(value.to_ascii_lowercase()),
            "origin" => request.origin = Some(value.to_ascii_lowercase()),
            "content-type" => request.content_type = Some(value.to_ascii_lowercase()),
            "content-length" => request.content_length = value.parse().ok(),
            "x-drape-token" => request.token = Some(value),
            _ => {}
        }
    }
    let (Some(method), Some(target)) = (method, target) else {
        return Err("400 Bad Request");
    };
    if !host.as_ref().is_some_and(|h| ours(port).contains(h)) {
        return Err("403 Forbidden");
    }
    if method != "GET" && method != "POST" {
        return Err("405 Method Not Allowed");
    }
    request.method = method.to_string();
    request.path = target.split('?').next().unwrap_or("").to_string();
    Ok(request)
}

/// The names this server answers to, with its port.
fn ours(port: u16) -> [String; 3] {
    ["127.0.0.1", "localhost", "[::1]"].map(|h| format!("{h}:{port}"))
}

/// Why a state-changing request is refused, if it is: it must come from this server's own page (an
/// `Origin` naming this server), carry the page's secret and a JSON body of a sane size.
fn refuse_post(request: &Request, port: u16, token: &str) -> Option<&'static str> {
    let own_origin = request.origin.as_ref().is_some_and(|origin| {
        ours(port)
            .iter()
            .any(|host| *origin == format!("http://{host}"))
    });
    if !own_origin {
        return Some("403 Forbidden");
    }
    if request.token.as_deref() != Some(token) {
        return Some("403 Forbidden");
    }
    if !request
        .content_type
        .as_ref()
        .is_some_and(|t| t.starts_with("application/json"))
    {
        return Some("415 Unsupported Media Type");
    }
    match request.content_length {
        Some(n) if n <= MAX_BODY => None,
        Some(_) => Some("413 Content Too Large"),
        None => Some("411 Length Required"),
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
    let image = preview.current().images.get(index)?.clone();
    read_recorded(&image)
}

/// The path of image `index` of the current snapshot while it is still the very file the run wrote.
fn served_file(index: usize, preview: &Preview) -> Option<std::path::PathBuf> {
    let image = preview.current().images.get(index)?.clone();
    read_recorded(&image).map(|_| image.path)
}

/// The bytes of `image`, only while it is the very file the run wrote: a link or another file put in
/// its place is not read.
fn read_recorded(image: &super::preview::Image) -> Option<Vec<u8>> {
    let recorded = image.identity?;
    // The name must still be a regular file, and the file opened must be the one recorded.
    FileIdentity::of_path(&image.path).filter(|now| *now == recorded)?;
    let mut file = std::fs::File::open(&image.path).ok()?;
    (FileIdentity::of(&file.metadata().ok()?) == recorded).then_some(())?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
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
    use std::path::Path;

    fn path_of(head: &str) -> Result<String, &'static str> {
        read_head(&mut head.as_bytes(), 7860).map(|r| r.path)
    }

    #[test]
    fn reads_the_path_of_a_request_and_refuses_other_methods() {
        let get = "GET /image/3/1?x=1 HTTP/1.1\r\nHost: 127.0.0.1:7860\r\nAccept: */*\r\n\r\n";
        assert_eq!(path_of(get), Ok("/image/3/1".into()));
        for host in ["localhost:7860", "[::1]:7860", "LOCALHOST:7860"] {
            let get = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(path_of(&get), Ok("/".into()), "{host}");
        }
        let put = "PUT / HTTP/1.1\r\nHost: 127.0.0.1:7860\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(path_of(put), Err("405 Method Not Allowed"));
        assert_eq!(path_of("\r\n"), Err("400 Bad Request"));
        assert_eq!(path_of(""), Err("400 Bad Request"));
    }

    #[test]
    fn only_requests_addressed_to_this_server_are_answered() {
        for host in [
            "Host: attacker.example:7860\r\n",
            "Host: 127.0.0.1:9999\r\n",
            "Host: 127.0.0.1\r\n",
            "",
        ] {
            let get = format!("GET /state HTTP/1.1\r\n{host}\r\n");
            assert_eq!(path_of(&get), Err("403 Forbidden"), "{host:?}");
        }
    }

    #[test]
    fn edits_come_only_from_the_own_page_with_its_secret_and_json() {
        let post = |headers: &str| {
            let head = format!("POST /edit HTTP/1.1\r\nHost: 127.0.0.1:7860\r\n{headers}\r\n");
            let request = read_head(&mut head.as_bytes(), 7860).unwrap();
            refuse_post(&request, 7860, "s3cret")
        };
        let good = "Origin: http://127.0.0.1:7860\r\nX-Drape-Token: s3cret\r\n\
                    Content-Type: application/json\r\nContent-Length: 10\r\n";
        assert_eq!(post(good), None);
        let cases = [
            (
                good.replace("http://127.0.0.1:7860", "https://evil.example"),
                "403 Forbidden",
            ),
            (
                good.replace("Origin: http://127.0.0.1:7860\r\n", ""),
                "403 Forbidden",
            ),
            (good.replace("s3cret", "guess"), "403 Forbidden"),
            (
                good.replace("X-Drape-Token: s3cret\r\n", ""),
                "403 Forbidden",
            ),
            (
                good.replace("application/json", "text/plain"),
                "415 Unsupported Media Type",
            ),
            (
                good.replace("Content-Length: 10", "Content-Length: 99999999"),
                "413 Content Too Large",
            ),
            (
                good.replace("Content-Length: 10\r\n", ""),
                "411 Length Required",
            ),
        ];
        for (headers, status) in cases {
            assert_eq!(post(&headers), Some(status), "{headers}");
        }
    }

    #[test]
    fn over_long_and_slow_requests_get_a_status_not_a_reset() {
        let preview = Arc::new(Preview::default());
        let studio = Arc::new(Studio::new(Path::new("graph.ron"), None));
        let address = start(0, preview, studio).unwrap();
        let ask = |request: &[u8]| {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let _ = stream.write_all(request);
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            answer
        };
        let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000));
        assert!(ask(long_target.as_bytes()).starts_with("HTTP/1.1 414"));
        let long_head = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX: {}\r\n\r\n",
            address.port(),
            "b".repeat(20_000)
        );
        assert!(ask(long_head.as_bytes()).starts_with("HTTP/1.1 431"));
        let rebinding = "GET /state HTTP/1.1\r\nHost: attacker.example\r\n\r\n";
        assert!(ask(rebinding.as_bytes()).starts_with("HTTP/1.1 403"));
        let good = format!(
            "GET /state HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
            address.port()
        );
        assert!(ask(good.as_bytes()).starts_with("HTTP/1.1 200"));
    }

    #[test]
    fn only_the_file_the_run_wrote_is_served() {
        use super::super::preview::Image;
        let dir = tempfile::tempdir().unwrap();
        let design = dir.path().join("design.png");
        std::fs::write(&design, b"the design").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"private").unwrap();
        let preview = Arc::new(Preview::default());
        preview.update(|s| {
            s.run = 1;
            s.images = vec![Image {
                node: "save".into(),
                path: design.clone(),
                identity: FileIdentity::of_path(&design),
            }];
        });
        let studio = Arc::new(Studio::new(&dir.path().join("graph.ron"), None));
        let address = start(0, Arc::clone(&preview), studio).unwrap();
        let get = || {
            let mut stream = TcpStream::connect(address).unwrap();
            let request = format!(
                "GET /image/1/0 HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
                address.port()
            );
            stream.write_all(request.as_bytes()).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        };
        let served = get();
        assert!(
            served.starts_with("HTTP/1.1 200") && served.ends_with("the design"),
            "{served}"
        );
        std::fs::remove_file(&design).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), &design).unwrap();
        let swapped = get();
        assert!(swapped.starts_with("HTTP/1.1 404"), "{swapped}");
        assert!(!swapped.contains("private"));
    }
}

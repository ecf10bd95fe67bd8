//! The backends against real servers: a local directory, SeaweedFS's signed S3 API
//! (`scripts/seaweedfs.sh`), moto's strictly checked S3 API (`scripts/moto.sh`), the
//! DVC-protocol HTTP test server with injected faults, nginx as an HTTP remote with
//! `method = PUT`, and WsgiDAV for `webdav://`.
mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{HttpServer, NginxServer, WebDavServer};
use ferry::remote::{
    self, ByteStream, ErrorKind, ReadBudget, Remote, RemoteError, RemoteSpec, RetryPolicy, Stack,
    StackConfig,
};
use futures::StreamExt;

const MIB: usize = 1 << 20;

fn spec(name: &str, url: &str, options: &[(&str, &str)]) -> RemoteSpec {
    RemoteSpec {
        name: name.into(),
        url: url.into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn s3_spec(prefix: &str, endpoint: &str, secret: &str) -> RemoteSpec {
    spec(
        "seaweed",
        &format!("s3://{}/{prefix}", common::s3_bucket()),
        &[
            ("endpointurl", endpoint),
            ("access_key_id", &common::s3_key()),
            ("secret_access_key", secret),
            ("connect_timeout", "5"),
            ("read_timeout", "30"),
        ],
    )
}

/// Deterministic pseudo-random bytes (xorshift), so big objects are not trivially compressible.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `bytes` as a stream of `chunk`-sized pieces, the way the transfer engine feeds a file.
fn body(bytes: &[u8], chunk: usize) -> ByteStream {
    let pieces: Vec<Result<Bytes, RemoteError>> = bytes
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(pieces))
}

async fn put(remote: &dyn Remote, key: &str, bytes: &[u8]) {
    remote
        .write(key, body(bytes, 256 * 1024), bytes.len() as u64)
        .await
        .unwrap_or_else(|e| panic!("write {key}: {e}"));
}

async fn get(remote: &dyn Remote, key: &str) -> Result<Vec<u8>, RemoteError> {
    let mut stream = remote.read(key).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Deletes everything under the remote's prefix: the SeaweedFS is shared and long-running.
async fn empty(remote: &dyn Remote) {
    for key in remote.list("").await.unwrap() {
        remote.delete(&key).await.unwrap();
    }
    assert_eq!(remote.list("").await.unwrap(), Vec::<String>::new());
}

const K_SMALL: &str = "files/md5/b1/946ac92492d2347c6235b4d2611184";
const K_EMPTY: &str = "files/md5/d4/1d8cd98f00b204e9800998ecf8427e";
const K_BIG: &str = "files/md5/b2/0000000000000000000000000000aa";
const K_DIR: &str = "files/md5/72/a46c8d3b34e1f561bb8d50eb2fd26c.dir";
const K_LEGACY: &str = "c1/93497a1a06b2c72230e6146ff47080";

/// The behaviour every backend must have (rclone's fstests idea): write, exists, read, list,
/// delete; empty objects; multi-MiB streamed objects; `.dir` keys.
async fn conformance(remote: Arc<dyn Remote>) {
    let r = remote.as_ref();
    assert!(
        !r.exists(K_SMALL).await.unwrap(),
        "fresh remote holds nothing"
    );
    let missing = get(r, K_SMALL).await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing}");

    put(r, K_SMALL, b"hello\n").await;
    put(r, K_EMPTY, b"").await;
    let big = data(5 * MIB + 123, 7);
    put(r, K_BIG, &big).await;
    let manifest = br#"[{"md5": "b1946ac92492d2347c6235b4d2611184", "relpath": "a"}]"#;
    put(r, K_DIR, manifest).await;
    put(r, K_LEGACY, b"legacy").await;

    for key in [K_SMALL, K_EMPTY, K_BIG, K_DIR, K_LEGACY] {
        assert!(r.exists(key).await.unwrap(), "{key} exists after write");
    }
    assert_eq!(get(r, K_SMALL).await.unwrap(), b"hello\n");
    assert_eq!(get(r, K_EMPTY).await.unwrap(), b"");
    assert!(
        get(r, K_BIG).await.unwrap() == big,
        "big object round-trips"
    );
    assert_eq!(get(r, K_DIR).await.unwrap(), manifest);

    // Overwrite keeps the object whole.
    put(r, K_SMALL, b"hello\n").await;
    assert_eq!(get(r, K_SMALL).await.unwrap(), b"hello\n");

    if r.capabilities().list {
        let all = r.list("files/md5/").await.unwrap();
        assert_eq!(all, vec![K_DIR, K_SMALL, K_BIG, K_EMPTY], "sorted");
        // DVC lists partial prefixes such as `files/md5/b` when estimating a remote's size.
        let partial = r.list("files/md5/b").await.unwrap();
        assert_eq!(partial, vec![K_SMALL, K_BIG]);
        assert_eq!(r.list("files/md5/ff/").await.unwrap(), Vec::<String>::new());
        let everything = r.list("").await.unwrap();
        assert!(everything.contains(&K_LEGACY.to_string()), "{everything:?}");
    } else {
        let e = r.list("files/md5/").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
    }

    r.delete(K_SMALL).await.unwrap();
    assert!(!r.exists(K_SMALL).await.unwrap(), "deleted");
    r.delete(K_SMALL).await.unwrap();
    assert!(r.exists(K_BIG).await.unwrap(), "others untouched");

    // A body that fails part-way, or ends short of its size, leaves no object behind.
    let failing: Vec<Result<Bytes, RemoteError>> = vec![
        Ok(Bytes::from(vec![1u8; 300_000])),
        Err(RemoteError::new(
            ErrorKind::Permanent,
            "src",
            "disk read failed",
        )),
    ];
    let e = r
        .write(K_SMALL, Box::pin(futures::stream::iter(failing)), 600_000)
        .await
        .unwrap_err();
    assert_eq!(
        e.message, "disk read failed",
        "the source's error is reported: {e}"
    );
    assert!(
        !r.exists(K_SMALL).await.unwrap(),
        "no partial object after a failed body"
    );
    let short = r.write(K_SMALL, body(&[7u8; 10], 4), 11).await.unwrap_err();
    assert!(
        short.message.contains("supplied 10 bytes, 11 expected"),
        "{short}"
    );
    assert!(!r.exists(K_SMALL).await.unwrap(), "no short object");

    let escape = r.exists("files/../../etc/passwd").await.unwrap_err();
    assert_eq!(escape.kind, ErrorKind::Permanent);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("remote");
    let remote = remote::open(&spec("loc", root.to_str().unwrap(), &[])).unwrap();
    conformance(remote).await;
    // DVC's mode for remote objects, and no temp files left behind.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.join(K_BIG))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o444);
    let leftovers: Vec<_> = std::fs::read_dir(root.join("files/md5/b2"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    let via_file_url = remote::open(&spec("loc", &format!("file://{}", root.display()), &[]));
    assert!(via_file_url.unwrap().exists(K_BIG).await.unwrap());
    let relative = remote::open(&spec("loc", "relative/dir", &[]))
        .err()
        .unwrap();
    assert_eq!(relative.kind, ErrorKind::Permanent);
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_conformance() {
    let prefix = common::unique_prefix("conformance");
    let remote = remote::open(&s3_spec(
        &prefix,
        &common::s3_endpoint(),
        &common::s3_secret(),
    ))
    .unwrap();
    conformance(remote.clone()).await;
    empty(remote.as_ref()).await;
}

fn moto_spec(prefix: &str, endpoint: &str, key: &str, secret: &str) -> RemoteSpec {
    spec(
        "moto",
        &format!("s3://{}/{prefix}", common::s3_bucket()),
        &[
            ("endpointurl", endpoint),
            ("access_key_id", key),
            ("secret_access_key", secret),
            ("connect_timeout", "5"),
            ("read_timeout", "30"),
        ],
    )
}

/// moto recomputes the signature over the query exactly as sent: every LIST, paged and
/// partial, must pass.
#[tokio::test(flavor = "multi_thread")]
async fn s3_conformance_on_strict_moto() {
    let prefix = format!("{}/nested path+x", common::unique_prefix("conformance"));
    let remote = remote::open(&moto_spec(
        &prefix,
        &common::moto_endpoint(),
        &common::moto_key(),
        &common::moto_secret(),
    ))
    .unwrap();
    conformance(remote.clone()).await;
    empty(remote.as_ref()).await;
}

/// The LIST request on the wire carries its prefix encoded as SigV4 signs it (`/` as `%2F`),
/// so a server that checks the query as sent accepts it.
#[tokio::test(flavor = "multi_thread")]
async fn s3_list_query_is_sent_as_signed() {
    let upstream = common::moto_endpoint()
        .trim_start_matches("http://")
        .to_string();
    let proxy = RecordingProxy::start(upstream).await;
    let prefix = common::unique_prefix("wire");
    let via_proxy = format!("http://127.0.0.1:{}", proxy.port);
    let r = remote::open(&moto_spec(
        &prefix,
        &via_proxy,
        &common::moto_key(),
        &common::moto_secret(),
    ))
    .unwrap();
    put(r.as_ref(), K_SMALL, b"hello\n").await;
    proxy.clear();
    assert_eq!(r.list("files/md5/b1/").await.unwrap(), vec![K_SMALL]);
    let wire = proxy.text();
    let request_line = wire
        .lines()
        .find(|l| l.starts_with("get ") && l.contains("list-type=2"))
        .unwrap_or_else(|| panic!("no ListObjectsV2 on the wire:\n{wire}"));
    let expected = format!(
        "prefix={}%2ffiles%2fmd5%2fb1%2f",
        prefix.to_ascii_lowercase()
    );
    assert!(request_line.contains(&expected), "{request_line}");
    let query = request_line
        .split_once('?')
        .and_then(|(_, rest)| rest.split_once(' '))
        .map(|(q, _)| q)
        .unwrap();
    assert!(!query.contains('/'), "raw '/' in the query: {request_line}");
    r.delete(K_SMALL).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn http_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let server = HttpServer::start(dir.path(), "bob", "s3cret-token");
    let url = server.url("store");
    let opts = [
        ("auth", "basic"),
        ("user", "bob"),
        ("password", "s3cret-token"),
    ];
    conformance(remote::open(&spec("dh", &url, &opts)).unwrap()).await;
    // Stored where DVC's HTTP remote puts them; uploads were POSTs, existence checks GETs.
    assert!(dir.path().join("store").join(K_BIG).is_file());
    let log = server.log();
    assert!(
        log.iter()
            .any(|r| r.method == "POST" && r.path == format!("/store/{K_DIR}"))
    );
    assert!(
        !log.iter().any(|r| r.method == "PUT" || r.status == 401),
        "{log:?}"
    );

    // `method = PUT` and custom-header auth, as for Artifactory-like servers.
    let dir2 = tempfile::tempdir().unwrap();
    let server2 = HttpServer::start_with(
        dir2.path(),
        &["--auth-header", "X-Token", "--password", "tok"],
    );
    let opts2 = [
        ("auth", "custom"),
        ("custom_auth_header", "X-Token"),
        ("password", "tok"),
        ("method", "PUT"),
    ];
    let put_remote = remote::open(&spec("art", &server2.url("r"), &opts2)).unwrap();
    put(put_remote.as_ref(), K_SMALL, b"hi").await;
    assert_eq!(get(put_remote.as_ref(), K_SMALL).await.unwrap(), b"hi");
    assert!(
        server2
            .log()
            .iter()
            .any(|r| r.method == "PUT" && r.status == 201)
    );
}

/// WsgiDAV answers 409 to a PUT into a missing collection: the backend makes them (MKCOL), lists
/// with PROPFIND, and refuses nothing but wrong credentials.
#[tokio::test(flavor = "multi_thread")]
async fn webdav_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let server = WebDavServer::start(dir.path(), "alice", "dav-s3cret");
    let opts = [
        ("user", "alice"),
        ("password", "dav-s3cret"),
        ("timeout", "30"),
    ];
    let r = remote::open(&spec("dav", &server.url("team/store"), &opts)).unwrap();
    conformance(r.clone()).await;
    assert!(dir.path().join("team/store").join(K_BIG).is_file());
    assert_eq!(r.list("files/md5/zz").await.unwrap(), Vec::<String>::new());
    empty(r.as_ref()).await;
    let certs = [
        ("user", "alice"),
        ("password", "dav-s3cret"),
        ("cert_path", "/c.pem"),
    ];
    let refused = remote::open(&spec("dav", &server.url("x"), &certs))
        .err()
        .unwrap();
    assert_eq!(refused.kind, ErrorKind::Permanent);
    assert!(refused.message.contains("cert_path"), "{refused}");

    let wrong = remote::open(&spec(
        "dav",
        &server.url("team/store"),
        &[("user", "alice"), ("password", "wrong-dav-Pw9")],
    ))
    .unwrap();
    for e in [
        wrong.exists(K_SMALL).await.unwrap_err(),
        wrong.list("files/").await.unwrap_err(),
        wrong.write(K_SMALL, body(b"x", 1), 1).await.unwrap_err(),
        get(wrong.as_ref(), K_SMALL).await.unwrap_err(),
    ] {
        assert_eq!(e.kind, ErrorKind::Auth, "{e}");
        assert!(!format!("{e:?}").contains("wrong-dav-Pw9"), "{e:?}");
    }

    // The same server as a plain HTTP remote: POST is refused (405), and PUT into a missing
    // collection too (409); both errors point at `method PUT` / webdav://.
    let http_url = server.url("team/plain").replace("webdav://", "http://");
    for (method, status) in [("POST", "405"), ("PUT", "409")] {
        let plain = remote::open(&spec(
            "plain",
            &http_url,
            &[
                ("auth", "basic"),
                ("user", "alice"),
                ("password", "dav-s3cret"),
                ("method", method),
            ],
        ))
        .unwrap();
        let e = plain.write(K_SMALL, body(b"x", 1), 1).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Permanent, "{e}");
        assert!(e.message.contains(status), "{e}");
        let hint = ferry::error::Hint::hint(&e).unwrap();
        assert!(hint.contains("webdav://"), "{hint}");
        if method == "POST" {
            assert!(hint.contains("method PUT"), "{hint}");
        }
    }
}

/// nginx as teams configure it for DVC (`dav_methods PUT DELETE`, `create_full_put_path on`,
/// `auth_basic`): the HTTP remote with `method = PUT` passes the suite; POST is refused with a
/// hint at `method PUT`; a wrong password is `Auth`.
#[tokio::test(flavor = "multi_thread")]
async fn http_conformance_on_nginx() {
    let Some(bin) = NginxServer::binary() else {
        eprintln!(
            "SKIPPED: nginx is not installed (scripts/test installs the Debian package nginx-light)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = NginxServer::start(&bin, dir.path(), "alice", "nginx-s3cret");
    let url = server.url("store");
    let auth = |password: &'static str, method: &'static str| {
        [
            ("auth", "basic"),
            ("user", "alice"),
            ("password", password),
            ("method", method),
        ]
    };
    let r = remote::open(&spec("ngx", &url, &auth("nginx-s3cret", "PUT"))).unwrap();
    conformance(r).await;
    assert!(dir.path().join("store").join(K_BIG).is_file());

    let post = remote::open(&spec("ngx", &url, &auth("nginx-s3cret", "POST"))).unwrap();
    let e = post.write(K_SMALL, body(b"x", 1), 1).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent, "{e}");
    // nginx answers a POST to a missing file 404 (to an existing one 405): neither is "missing".
    assert!(e.message.contains("HTTP 404"), "{e}");
    let hint = ferry::error::Hint::hint(&e).unwrap();
    assert!(
        hint.contains("ferry remote modify ngx method PUT"),
        "{hint}"
    );

    let wrong = remote::open(&spec("ngx", &url, &auth("wrong-ngx-Pw3", "PUT"))).unwrap();
    for e in [
        wrong.exists(K_BIG).await.unwrap_err(),
        wrong.write(K_SMALL, body(b"x", 1), 1).await.unwrap_err(),
    ] {
        assert_eq!(e.kind, ErrorKind::Auth, "{e}");
        assert!(!format!("{e:?}").contains("wrong-ngx-Pw3"), "{e:?}");
    }
}

/// A TCP relay in front of SeaweedFS that records every byte the client sends, so tests can
/// see the real requests (headers included) OpenDAL puts on the wire.
struct RecordingProxy {
    port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl RecordingProxy {
    async fn start(upstream: String) -> RecordingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let record = record.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            record.lock().unwrap().extend_from_slice(&buf[..n]);
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = sw.shutdown().await;
                    };
                    let down = tokio::io::copy(&mut sr, &mut cw);
                    let _ = tokio::join!(up, down);
                });
            }
        });
        RecordingProxy { port, sent }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap()).to_ascii_lowercase()
    }

    fn clear(&self) {
        self.sent.lock().unwrap().clear();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_multipart_streams_and_sends_no_checksum_headers() {
    let endpoint = common::s3_endpoint();
    let upstream = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let proxy = RecordingProxy::start(upstream).await;
    let prefix = common::unique_prefix("multipart");
    let via_proxy = format!("http://127.0.0.1:{}", proxy.port);
    let r = remote::open(&s3_spec(&prefix, &via_proxy, &common::s3_secret())).unwrap();

    let small = data(1000, 3);
    put(r.as_ref(), K_SMALL, &small).await;
    let single = proxy.text();
    assert!(
        single.contains(&format!(
            "put /{}/{prefix}/{K_SMALL} http/1.1",
            common::s3_bucket()
        )),
        "single PUT"
    );
    assert!(!single.contains("?uploads"), "small objects are one PUT");

    let big = data(2 * ferry::remote::MULTIPART_CHUNK + 5 * MIB, 11);
    put(r.as_ref(), K_BIG, &big).await;
    proxy.clear();
    assert!(
        get(r.as_ref(), K_BIG).await.unwrap() == big,
        "multipart object round-trips"
    );
    let reads = proxy.text();
    proxy.clear();
    assert!(r.exists(K_BIG).await.unwrap());
    assert_eq!(r.list("files/").await.unwrap().len(), 2);
    let checks = proxy.text();
    assert!(
        checks.contains("head /") && checks.contains("list-type=2"),
        "HEAD and ListObjectsV2"
    );
    assert!(
        !reads.contains("head /"),
        "a read is one GET, no HEAD (B2 bills both)"
    );
    assert_eq!(reads.matches("get /").count(), 1, "one GET per read");

    // Re-upload to capture the whole multipart exchange.
    proxy.clear();
    put(r.as_ref(), K_BIG, &big).await;
    let wire = proxy.text();
    assert!(wire.contains("?uploads"), "multipart upload started");
    assert_eq!(wire.matches("partnumber=").count(), 3, "three parts");
    for banned in ["x-amz-checksum", "x-amz-sdk-checksum-algorithm"] {
        for text in [&single, &reads, &checks, &wire] {
            assert!(!text.contains(banned), "{banned} sent (B2 rejects it)");
        }
    }
    assert!(
        wire.contains("authorization: aws4-hmac-sha256"),
        "SigV4 signed"
    );
    empty(r.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_auth_and_never_printed() {
    let secret = "wrong-secret-Zx9Qv7";
    let prefix = common::unique_prefix("badcreds");
    let s3 = remote::open(&s3_spec(&prefix, &common::s3_endpoint(), secret)).unwrap();
    let mut errors = vec![
        s3.exists(K_SMALL).await.unwrap_err(),
        get(s3.as_ref(), K_SMALL).await.unwrap_err(),
        s3.write(K_SMALL, body(b"x", 1), 1).await.unwrap_err(),
        s3.list("files/").await.unwrap_err(),
    ];

    let dir = tempfile::tempdir().unwrap();
    let server = HttpServer::start(dir.path(), "bob", "right-password");
    let password = "wrong-password-Qp4Lm2";
    let http = remote::open(&spec(
        "dh",
        &server.url("store"),
        &[("auth", "basic"), ("user", "bob"), ("password", password)],
    ))
    .unwrap();
    errors.push(http.exists(K_SMALL).await.unwrap_err());
    errors.push(get(http.as_ref(), K_SMALL).await.unwrap_err());
    errors.push(http.write(K_SMALL, body(b"x", 1), 1).await.unwrap_err());
    // Credentials in the URL count as basic auth and never show up either.
    let in_url = server
        .url("store")
        .replace("http://", &format!("http://bob:{password}@"));
    let http_userinfo = remote::open(&spec("dh", &in_url, &[])).unwrap();
    errors.push(http_userinfo.exists(K_SMALL).await.unwrap_err());

    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("bob:{password}"));
    for e in &errors {
        assert_eq!(e.kind, ErrorKind::Auth, "{e}");
        let shown = format!("{e} {e:?} {}", e.message);
        for secret in [secret, password, token.as_str()] {
            assert!(!shown.contains(secret), "secret leaked in: {shown}");
        }
    }
    assert!(errors[4].to_string().contains("401"), "{}", errors[4]);
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_remote_is_transient() {
    let url = format!("http://127.0.0.1:{}", dead_port());
    let s3 = remote::open(&s3_spec("x", &url, &common::s3_secret())).unwrap();
    let http = remote::open(&spec("h", &format!("{url}/store"), &[])).unwrap();
    for e in [
        s3.exists(K_SMALL).await.unwrap_err(),
        get(s3.as_ref(), K_SMALL).await.unwrap_err(),
        http.exists(K_SMALL).await.unwrap_err(),
        http.write(K_SMALL, body(b"x", 1), 1).await.unwrap_err(),
    ] {
        assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_bucket_is_permanent_not_missing_object() {
    let r = remote::open(&spec(
        "seaweed",
        "s3://no-such-bucket-ferry/x",
        &[
            ("endpointurl", &common::s3_endpoint()),
            ("access_key_id", &common::s3_key()),
            ("secret_access_key", &common::s3_secret()),
        ],
    ))
    .unwrap();
    let e = get(r.as_ref(), K_SMALL).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent, "{e}");
    assert!(e.to_string().contains("bucket does not exist"), "{e}");
}

fn http_remote(server: &HttpServer) -> Arc<dyn Remote> {
    remote::open(&spec("dh", &server.url("store"), &[])).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn http_cap_is_quota_and_uploads_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = HttpServer::start(dir.path(), "", "");
    let r = http_remote(&server);
    put(r.as_ref(), K_SMALL, b"hello\n").await;
    server.control(r#"{"cap": true}"#);
    // A bare 403 to a HEAD tells neither cap nor credentials: the backend says so, and the
    // one-byte GET the stack then sends carries the cap text.
    let on_head = r.exists(K_SMALL).await.unwrap_err();
    assert_eq!(on_head.kind, ErrorKind::Unsupported, "{on_head}");
    let on_exists = r.stat_by_range(K_SMALL).await.unwrap_err();
    let on_read = get(r.as_ref(), K_SMALL).await.unwrap_err();
    for e in [&on_exists, &on_read] {
        assert_eq!(e.kind, ErrorKind::Quota, "{e}");
        assert!(e.to_string().contains("cap exceeded"), "{e}");
    }
    // The retry layer does not hammer a capped remote, and once capped sends nothing more.
    server.control(r#"{"clear_log": true}"#);
    let retrying = stacked(&r, fast_policy(5));
    assert_eq!(
        retrying.exists(K_SMALL).await.unwrap_err().kind,
        ErrorKind::Quota
    );
    assert_eq!(server.log().len(), 2, "the HEAD and the one-byte GET");
    assert!(retrying.is_capped());
    let again = read_all(&retrying, K_SMALL).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::Quota, "{again}");
    assert_eq!(server.log().len(), 2, "no request after the cap answer");
    put(r.as_ref(), K_EMPTY, b"").await;
    server.control(r#"{"reset": true}"#);
    assert!(r.exists(K_EMPTY).await.unwrap());
    // 404 stays NotFound.
    assert_eq!(
        get(r.as_ref(), K_BIG).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
}

/// `r` in its layer stack, with no budget account.
fn stacked(r: &Arc<dyn Remote>, policy: RetryPolicy) -> Stack {
    Stack::new(
        r.clone(),
        StackConfig {
            jobs: 4,
            policy,
            account: None,
        },
    )
}

/// Reads `key` whole through the stack (retried from the start on a cut body).
async fn read_all(stack: &Stack, key: &str) -> Result<Vec<u8>, RemoteError> {
    let (result, _) = stack
        .read_with(key, ReadBudget::default(), |mut s| async move {
            let mut got = Vec::new();
            while let Some(chunk) = s.next().await {
                got.extend_from_slice(&chunk?);
            }
            Ok::<_, RemoteError>(got)
        })
        .await;
    result
}

fn fast_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_rides_out_500s_and_honours_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = HttpServer::start(dir.path(), "", "");
    let r = http_remote(&server);
    put(r.as_ref(), K_SMALL, b"hello\n").await;
    let retrying = stacked(&r, fast_policy(4));

    server.control(r#"{"fail_500": 2, "clear_log": true}"#);
    assert!(retrying.exists(K_SMALL).await.unwrap());
    let statuses: Vec<u16> = server.log().iter().map(|l| l.status).collect();
    assert_eq!(statuses, vec![500, 500, 200]);

    server.control(r#"{"throttle": 1, "retry_after": 1, "clear_log": true}"#);
    assert_eq!(read_all(&retrying, K_SMALL).await.unwrap(), b"hello\n");
    let log = server.log();
    assert_eq!(
        log.iter().map(|l| l.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
    // Honoured: the server saw the retry no sooner than it asked (its own clock).
    assert!(
        log[1].t - log[0].t >= 0.95,
        "retried after {}s",
        log[1].t - log[0].t
    );

    server.control(r#"{"fail_500": 10, "clear_log": true}"#);
    let e = retrying.exists(K_SMALL).await.unwrap_err();
    assert_eq!((e.kind, e.attempts), (ErrorKind::Transient, 4));
    assert!(e.to_string().contains("gave up after 4 attempts"), "{e}");
    assert_eq!(server.log().len(), 4);

    // Writes are retried by the stack, re-creating the body each time.
    server.control(r#"{"reset": true, "fail_500": 1, "clear_log": true}"#);
    retrying
        .write_with(K_EMPTY, 0, || body(b"", 1))
        .await
        .unwrap();
    assert_eq!(
        server.log().iter().map(|l| l.status).collect::<Vec<_>>(),
        vec![500, 201]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_and_dropped_bodies_are_transient() {
    let dir = tempfile::tempdir().unwrap();
    let server = HttpServer::start(dir.path(), "", "");
    let r = http_remote(&server);
    let big = data(3 * MIB, 5);
    put(r.as_ref(), K_BIG, &big).await;

    server.control(r#"{"truncate": true}"#);
    let e = get(r.as_ref(), K_BIG).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert!(e.to_string().contains("cut short"), "{e}");

    server.control(r#"{"reset": true, "die_after": 1000}"#);
    let e = get(r.as_ref(), K_BIG).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");

    // Corruption is not the backend's to see (same length): the caller's md5 check catches it.
    server.control(r#"{"reset": true, "corrupt": true}"#);
    let got = get(r.as_ref(), K_BIG).await.unwrap();
    assert_eq!(got.len(), big.len());
    assert_ne!(got, big);
}

#[tokio::test(flavor = "multi_thread")]
async fn open_picks_the_backend_and_checks_options() {
    let b2 = remote::open(&spec("bb", "b2://bucket/path", &[]))
        .err()
        .unwrap();
    assert_eq!(b2.kind, ErrorKind::Permanent);
    assert!(b2.to_string().contains("region"), "{b2}");
    assert!(
        remote::open(&spec(
            "bb",
            "b2://bucket/path",
            &[("region", "us-west-004")]
        ))
        .is_ok()
    );
    let basic = remote::open(&spec(
        "h",
        "https://h/x",
        &[("auth", "basic"), ("user", "u")],
    ))
    .err()
    .unwrap();
    assert!(
        basic
            .to_string()
            .contains("require both 'user' and 'password'"),
        "{basic}"
    );
    let digest = remote::open(&spec("h", "https://h/x", &[("auth", "digest")]))
        .err()
        .unwrap();
    assert_eq!(digest.kind, ErrorKind::Permanent);
    let scheme = remote::open(&spec("g", "gs://bucket", &[])).err().unwrap();
    assert_eq!(scheme.kind, ErrorKind::Unsupported);
    assert!(
        !remote::open(&spec("h", "https://h/x", &[]))
            .unwrap()
            .capabilities()
            .list
    );
}

/// An S3 remote on SeaweedFS seen through the fault-injecting proxy.
fn s3_through(proxy: &HttpServer, label: &str) -> Arc<dyn Remote> {
    let endpoint = proxy.url("");
    let prefix = common::unique_prefix(label);
    remote::open(&s3_spec(
        &prefix,
        endpoint.trim_end_matches('/'),
        &common::s3_secret(),
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_b2_cap_is_quota_even_on_a_bare_head_403() {
    let proxy = HttpServer::s3_proxy(&common::s3_endpoint());
    let r = s3_through(&proxy, "cap");
    put(r.as_ref(), K_SMALL, b"hello\n").await;
    let object = data(MIB, 9);
    put(r.as_ref(), K_BIG, &object).await;

    proxy.control(r#"{"cap": true, "clear_log": true}"#);
    // HEAD gets B2's bare 403; the LIST that follows still works, so this is the cap, not auth.
    let on_head = r.exists(K_SMALL).await.unwrap_err();
    assert_eq!(on_head.kind, ErrorKind::Quota, "{on_head}");
    let methods: Vec<String> = proxy
        .log()
        .iter()
        .map(|l| format!("{} {}", l.method, l.status))
        .collect();
    assert_eq!(methods, vec!["HEAD 403", "GET 200"], "HEAD, then one LIST");
    let on_get = get(r.as_ref(), K_SMALL).await.unwrap_err();
    assert_eq!(on_get.kind, ErrorKind::Quota, "{on_get}");
    assert!(on_get.to_string().contains("cap exceeded"), "{on_get}");
    assert!(r.list("files/").await.is_ok(), "listing is not capped");
    put(r.as_ref(), K_EMPTY, b"").await;

    // A cap reached part-way: the first two 1 MiB downloads fit under 1.5 MiB served, the third
    // is refused.
    proxy.control(r#"{"reset": true, "cap_after_bytes": 1572864}"#);
    assert!(get(r.as_ref(), K_BIG).await.unwrap() == object);
    assert!(get(r.as_ref(), K_BIG).await.unwrap() == object);
    assert_eq!(
        get(r.as_ref(), K_BIG).await.unwrap_err().kind,
        ErrorKind::Quota
    );
    proxy.control(r#"{"reset": true}"#);
    empty(r.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_slowdown_500s_and_cut_bodies() {
    let proxy = HttpServer::s3_proxy(&common::s3_endpoint());
    let r = s3_through(&proxy, "faults");
    let object = data(3 * MIB, 13);
    put(r.as_ref(), K_BIG, &object).await;

    proxy.control(r#"{"slowdown": 1, "retry_after": 2}"#);
    let e = r.exists(K_BIG).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Throttled, "{e}");
    assert_eq!(e.retry_after, Some(Duration::from_secs(2)));

    let retrying = stacked(&r, fast_policy(4));
    proxy.control(r#"{"fail_500": 2, "clear_log": true}"#);
    assert_eq!(read_all(&retrying, K_BIG).await.unwrap(), object);
    let statuses: Vec<u16> = proxy.log().iter().map(|l| l.status).collect();
    assert_eq!(statuses, vec![500, 500, 200]);

    proxy.control(r#"{"reset": true, "die_after": 100000}"#);
    let e = get(r.as_ref(), K_BIG).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");

    proxy.control(r#"{"reset": true, "corrupt": true}"#);
    let got = get(r.as_ref(), K_BIG).await.unwrap();
    assert_eq!(got.len(), object.len());
    assert!(
        got != object,
        "corrupted bytes arrive; the caller's md5 check rejects them"
    );
    proxy.control(r#"{"reset": true}"#);
    empty(r.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn read_timeout_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let server = HttpServer::start(dir.path(), "", "");
    let http = remote::open(&spec(
        "dh",
        &server.url("store"),
        &[("read_timeout", "0.3")],
    ))
    .unwrap();
    put(http.as_ref(), K_SMALL, b"x").await;
    server.control(r#"{"slow": 1.5}"#);
    let e = http.exists(K_SMALL).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");

    let proxy = HttpServer::s3_proxy(&common::s3_endpoint());
    let mut s3 = s3_spec(
        &common::unique_prefix("timeout"),
        proxy.url("").trim_end_matches('/'),
        &common::s3_secret(),
    );
    s3.options.insert("read_timeout".into(), "0.3".into());
    let s3 = remote::open(&s3).unwrap();
    proxy.control(r#"{"slow": 1.5}"#);
    let e = s3.exists(K_SMALL).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
}

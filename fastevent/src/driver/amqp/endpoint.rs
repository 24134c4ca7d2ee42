//! The broker's nodes as `RABBITMQ_URL` names them: one URL, or several
//! separated by commas (the nodes of a cluster, tried in turn). Each URL is
//! `amqp://` or `amqps://`; an `amqps://` one may carry RabbitMQ's URI query
//! parameters for TLS:
//!
//! - `cacertfile`: a PEM file of CA certificates trusted besides the
//!   system's roots (without it, the system's roots alone);
//! - `certfile` and `keyfile` (both or neither): a client certificate (PEM)
//!   and its unencrypted key (PKCS#8 or RSA PEM);
//! - `verify=verify_peer`: the default, and the only mode.
//!
//! What TLS cannot honour here is refused, never ignored: `verify_none`
//! (verification is always on), `password` (keys must be unencrypted),
//! `server_name_indication` (the URL's host is the name verified), a TLS
//! parameter on an `amqp://` URL, and any parameter nobody knows.

use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use std::time::Duration;

/// Query parameters lapin itself reads from the URL.
const LAPIN_PARAMETERS: [&str; 4] = ["frame_max", "channel_max", "heartbeat", "auth_mechanism"];

/// One node: where to connect, and with which TLS settings.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    /// The URL for lapin: the TLS parameters taken out.
    pub url: String,
    /// The URL as given, without its password: for messages.
    pub shown: String,
    /// TLS settings (`amqps://` only).
    pub tls: Option<OwnedTLSConfig>,
    /// The URL's `connection_timeout`, which lapin's async connect ignores.
    pub connect_timeout: Option<Duration>,
}

/// Every node of `urls` (comma separated), or why one of them is unusable.
pub(super) fn parse_list(urls: &str) -> Result<Vec<Endpoint>, String> {
    let endpoints = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    if endpoints.is_empty() {
        return Err("no URL given".into());
    }
    Ok(endpoints)
}

/// One node's URL.
pub(super) fn parse(url: &str) -> Result<Endpoint, String> {
    let shown = super::connection::redact(url);
    let fail = |why: String| format!("{shown}: {why}");
    let secure = match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("amqp") => false,
        Some("amqps") => true,
        _ => {
            return Err(fail(
                "not an AMQP URL: amqp://user:password@host:5672/vhost or amqps://...".into(),
            ));
        }
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut files = TlsFiles::default();
    let mut connect_timeout = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).map_err(&fail)?;
        match key {
            "cacertfile" => files.ca = Some(value),
            "certfile" => files.cert = Some(value),
            "keyfile" => files.key = Some(value),
            "verify" if value == "verify_peer" => files.named_verify = true,
            "verify" => {
                return Err(fail(format!(
                    "verify={value} is not supported: certificates are always verified (verify_peer)"
                )));
            }
            "password" => {
                return Err(fail(
                    "password (an encrypted key) is not supported: give keyfile an unencrypted key"
                        .into(),
                ));
            }
            "server_name_indication" => {
                return Err(fail(
                    "server_name_indication is not supported: the URL's host is the name sent and verified; \
                     connect with the name on the broker's certificate"
                        .into(),
                ));
            }
            "connection_timeout" => {
                let ms: u64 = value.parse().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                    fail(format!("connection_timeout={value}: expected milliseconds"))
                })?;
                connect_timeout = Some(Duration::from_millis(ms));
            }
            known if LAPIN_PARAMETERS.contains(&known) => kept.push(pair),
            unknown => {
                return Err(fail(format!(
                    "unknown query parameter `{unknown}` (accepted: cacertfile, certfile, keyfile, verify, \
                     connection_timeout, {})",
                    LAPIN_PARAMETERS.join(", ")
                )));
            }
        }
    }
    let tls = match secure {
        true => Some(files.load().map_err(&fail)?),
        false if files.any() => {
            return Err(fail(
                "TLS parameters (cacertfile, certfile, keyfile, verify) need an amqps:// URL"
                    .into(),
            ));
        }
        false => None,
    };
    let url = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    if url.parse::<lapin::uri::AMQPUri>().is_err() {
        return Err(fail(
            "not an AMQP URL: amqp://user:password@host:5672/vhost".into(),
        ));
    }
    Ok(Endpoint {
        url,
        shown,
        tls,
        connect_timeout,
    })
}

/// The TLS files a URL names.
#[derive(Default)]
struct TlsFiles {
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    named_verify: bool,
}

impl TlsFiles {
    fn any(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some() || self.named_verify
    }

    /// Reads the files. Each is checked here because rustls skips a CA file
    /// without certificates silently, and says only "no items found" of a
    /// key file it cannot use.
    fn load(&self) -> Result<OwnedTLSConfig, String> {
        let cert_chain = match &self.ca {
            Some(path) => Some(read_pem(path, "cacertfile", &["CERTIFICATE"])?),
            None => None,
        };
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let pem = read_pem(cert, "certfile", &["CERTIFICATE"])?;
                let key_pem = read_pem(key, "keyfile", &["PRIVATE KEY", "RSA PRIVATE KEY"])?;
                Some(OwnedIdentity::PKCS8 {
                    pem: pem.into_bytes(),
                    key: key_pem.into_bytes(),
                })
            }
            (None, None) => None,
            _ => return Err("certfile and keyfile go together: give both or neither".into()),
        };
        Ok(OwnedTLSConfig {
            identity,
            cert_chain,
        })
    }
}

/// The text of PEM file `path` (parameter `what`), which must hold a block
/// of one of `kinds`.
fn read_pem(path: &str, what: &str, kinds: &[&str]) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{what}={path}: cannot read it: {e}"))?;
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(format!(
            "{what}={path}: the key is encrypted; give an unencrypted key (password is not supported)"
        ));
    }
    let found = kinds
        .iter()
        .any(|kind| text.contains(&format!("-----BEGIN {kind}-----")));
    if !found {
        return Err(format!(
            "{what}={path}: no PEM block of kind {} in it",
            kinds.join(" or ")
        ));
    }
    Ok(text)
}

/// `%2F` -> `/`; `+` stays (RabbitMQ's parameters are not form-encoded).
fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in `{value}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{value}` is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(url: &str) -> String {
        parse_list(url).err().unwrap()
    }

    #[test]
    fn several_urls_are_several_nodes() {
        let nodes =
            parse_list("amqp://u:secret@a:5672/%2f, amqp://u:secret@b:5673/%2f?heartbeat=5")
                .unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].shown, "amqp://u:***@a:5672/%2f");
        assert_eq!(nodes[1].url, "amqp://u:secret@b:5673/%2f?heartbeat=5");
        assert!(nodes.iter().all(|n| n.tls.is_none()));
    }

    #[test]
    fn a_list_entry_that_is_not_a_url_is_named() {
        let message = error("amqp://u:secret@a/%2f,b:5672");
        assert!(message.starts_with("b:5672: not an AMQP URL"), "{message}");
    }

    #[test]
    fn what_tls_cannot_honour_is_refused() {
        for (query, expected) in [
            ("verify=verify_none", "always verified"),
            ("password=x", "unencrypted"),
            ("server_name_indication=mq", "URL's host"),
            ("certfile=/x.pem", "give both or neither"),
            ("cacertfile=/nonexistent/ca.pem", "cannot read it"),
            ("tls_version=1.2", "unknown query parameter `tls_version`"),
            ("connection_timeout=soon", "expected milliseconds"),
        ] {
            let message = error(&format!("amqps://u:secret@mq:5671/%2f?{query}"));
            assert!(message.contains(expected), "{query}: {message}");
            assert!(
                message.starts_with("amqps://u:***@mq:5671/%2f?"),
                "{message}"
            );
            assert!(!message.contains("secret"), "{message}");
        }
        let message = error("amqp://mq/%2f?cacertfile=/ca.pem");
        assert!(message.contains("need an amqps:// URL"), "{message}");
    }

    #[test]
    fn files_are_checked_for_what_they_hold() {
        let dir = std::env::temp_dir().join(format!("fastevent-endpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        let encrypted = dir.join("encrypted.key");
        std::fs::write(
            &encrypted,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let cert = dir.join("cert.pem");
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let message = error(&format!("amqps://mq?cacertfile={}", empty.display()));
        assert!(
            message.contains("no PEM block of kind CERTIFICATE"),
            "{message}"
        );
        let message = error(&format!(
            "amqps://mq?certfile={}&keyfile={}",
            cert.display(),
            encrypted.display()
        ));
        assert!(message.contains("the key is encrypted"), "{message}");
        let node = parse(&format!(
            "amqps://mq:5671/%2f?cacertfile={}&verify=verify_peer&heartbeat=5&connection_timeout=2500",
            cert.display().to_string().replace('/', "%2F")
        ))
        .unwrap();
        assert_eq!(node.url, "amqps://mq:5671/%2f?heartbeat=5");
        assert!(
            node.tls
                .unwrap()
                .cert_chain
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
        assert_eq!(node.connect_timeout, Some(Duration::from_millis(2500)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

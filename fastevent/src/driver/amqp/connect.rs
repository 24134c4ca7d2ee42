//! Opening one connection to one node, and saying plainly why it failed:
//! a TLS failure is a configuration problem (a CA, a certificate, a host
//! name), and the operator must see which one, not lapin's terse words.

use super::endpoint::Endpoint;
use lapin::{Connection, ConnectionProperties, DefaultConnectionBuilder};
use std::time::Duration;

/// Connects to `node` within `budget`; the error says what went wrong.
pub(super) async fn open(
    node: &Endpoint,
    name: String,
    budget: Duration,
) -> Result<Connection, String> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let builder = DefaultConnectionBuilder::new()
        .map_err(|e| e.to_string())?
        .with_uri_str(node.url.clone())
        .with_properties(properties)
        .with_tls_config(node.tls.clone().unwrap_or_default());
    match tokio::time::timeout(budget, builder.connect()).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(explain(&error.to_string(), node)),
        Err(_) => Err(format!("no answer within {}s", budget.as_secs_f64())),
    }
}

/// `error` with what it means, when it is a TLS failure lapin words tersely.
pub(super) fn explain(error: &str, node: &Endpoint) -> String {
    let trusted = match node.tls.as_ref().and_then(|t| t.cert_chain.as_ref()) {
        Some(_) => "the CA of cacertfile or the system's roots",
        None => "the system's roots (give the broker's CA with cacertfile=)",
    };
    let meaning = if error.contains("UnknownIssuer") {
        format!("TLS: the broker's certificate is not signed by a trusted CA ({trusted})")
    } else if error.contains("Expired") || error.contains("expired") {
        "TLS: the broker's certificate has expired".into()
    } else if error.contains("NotValidYet") || error.contains("not valid before") {
        "TLS: the broker's certificate is not valid yet (is this machine's clock right?)".into()
    } else if error.contains("not valid for name") || error.contains("NotValidForName") {
        "TLS: the broker's certificate is not valid for the host name in the URL".into()
    } else if error.contains("CertificateRequired") {
        "TLS: the broker requires a client certificate (certfile= and keyfile=)".into()
    } else if error.contains("InvalidContentType") || error.contains("corrupt message") {
        "TLS: the port did not answer in TLS (a plain amqp port? use amqp:// there)".into()
    } else if error.contains("invalid peer certificate") || error.contains("received fatal alert") {
        "TLS: the handshake failed".into()
    } else {
        return error.to_string();
    };
    format!("{meaning} ({error})")
}

//! The log filter of the CLI and the Lambda: `EGRESSWATCH_LOG` (or a default level), with the
//! targets that would print secrets capped whatever level is asked for.
//!
//! Secrets (sink tokens, webhook and Slack URLs read from `*_env` / `*_file`, the AWS secret key
//! and session token) must never be logged at any level. Our own code never logs them (they are
//! `Secret`s, printed `***`); but ureq and ureq-proto print each request's URL at debug/trace (a
//! webhook or Slack URL carries its token in the path; tests/secrets.rs catches it when this cap
//! is removed), and aws-sigv4 can print canonical requests, which hold the session token. Those
//! targets are capped at INFO, where they print nothing of a request; an explicit
//! `EGRESSWATCH_LOG=ureq=trace` is overridden too, on purpose. The AWS SDK's own targets are
//! left alone (tested at trace: they print no secret), so `-vv` still shows its retries.

use tracing_subscriber::EnvFilter;

/// Targets that log request lines, headers or canonical requests below INFO.
pub const SECRET_LEAKING_TARGETS: &[&str] = &["ureq", "ureq_proto", "aws_sigv4"];

/// `EGRESSWATCH_LOG` if set and valid, else `default`, with [`SECRET_LEAKING_TARGETS`] capped.
pub fn filter(default: &str) -> EnvFilter {
    let mut f =
        EnvFilter::try_from_env("EGRESSWATCH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    for t in SECRET_LEAKING_TARGETS {
        if let Ok(d) = format!("{t}=info").parse() {
            f = f.add_directive(d);
        }
    }
    f
}

/// Replaces the path and query of every `http(s)://` URL in `text` with `***` (keeping scheme,
/// host and port), for error messages that may repeat a URL whose path is a secret (webhook and
/// Slack URLs carry their token there).
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let at = ["http://", "https://"]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
            .min();
        let Some((i, plen)) = at else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i + plen]);
        let url = &rest[i + plen..];
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ','))
            .unwrap_or(url.len());
        let (authority, tail) =
            url[..end].split_at(url[..end].find(['/', '?', '#']).unwrap_or(end));
        // user:password@ in the authority is a secret too.
        let host = authority.rsplit('@').next().unwrap_or(authority);
        out.push_str(host);
        if !tail.is_empty() || host.len() != authority.len() {
            out.push_str("/***");
        }
        rest = &url[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_host_and_lose_their_path() {
        assert_eq!(
            redact_urls("io: http://127.0.0.1:9/hooks/T0K3N?x=1 failed"),
            "io: http://127.0.0.1:9/*** failed"
        );
        assert_eq!(
            redact_urls("(https://u:p@hooks.example/a) and https://h"),
            "(https://hooks.example/***) and https://h"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}

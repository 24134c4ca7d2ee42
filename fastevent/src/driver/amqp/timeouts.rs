//! RabbitMQ's delivery acknowledgement timeout (`consumer_timeout`, 30
//! minutes by default) against the listeners' timeouts. A job runs under
//! an unacked delivery; if it outlives the broker's timeout, the broker
//! closes the worker's channel and hands every job of that channel to
//! another worker while the first one may still be running them. So a
//! listener may not be allowed to run that long: at start-up, every
//! listener's timeouts (its own, or the `SOFT_TIMEOUT_S`/`HARD_TIMEOUT_S`
//! defaults) must be shorter than `RABBITMQ_CONSUMER_TIMEOUT_S`, which
//! states what the broker is configured with (AMQP gives a client no way
//! to read it). A listener with no timeout at all is allowed, with a
//! warning: nothing stops it at the broker's limit.

use crate::job::JobDefaults;
use std::time::Duration;

/// One listener's timeouts, as registered.
#[derive(Debug, Clone, Copy)]
pub(super) struct ListenerTimeouts<'a> {
    /// The event's name.
    pub event: &'a str,
    /// The listener's name.
    pub listener: &'a str,
    /// Its soft timeout.
    pub soft: Option<Duration>,
    /// Its hard timeout.
    pub hard: Option<Duration>,
}

/// Checks `listeners` against the broker's `consumer_timeout` (`None`: the
/// broker has it disabled). Returns the warnings, or why the configuration
/// is refused.
pub(super) fn check(
    consumer_timeout: Option<Duration>,
    defaults: &JobDefaults,
    listeners: impl IntoIterator<Item = ListenerTimeouts<'static>>,
) -> Result<Vec<String>, String> {
    let Some(limit) = consumer_timeout else {
        return Ok(Vec::new());
    };
    let mut too_long = Vec::new();
    let mut unbounded = Vec::new();
    for l in listeners {
        let soft = l.soft.or(defaults.timeout);
        let hard = l.hard.or(defaults.hard_timeout);
        let name = format!("`{}` (event `{}`)", l.listener, l.event);
        // Each timeout that is set must end the job before the broker does:
        // a soft timeout can fail to stop a listener that blocks, so a hard
        // timeout beyond the limit is a risk even under a short soft one.
        for (kind, timeout) in [("soft", soft), ("hard", hard)] {
            if let Some(timeout) = timeout.filter(|t| *t >= limit) {
                too_long.push(format!(
                    "{name} has a {kind} timeout of {}s",
                    timeout.as_secs_f64()
                ));
            }
        }
        if soft.is_none() && hard.is_none() {
            unbounded.push(name);
        }
    }
    if !too_long.is_empty() {
        return Err(format!(
            "RabbitMQ acknowledges a job's delivery within {}s (RABBITMQ_CONSUMER_TIMEOUT_S, the broker's \
             consumer_timeout), or takes the job back and gives it to another worker while this one still runs it; \
             these listeners may run longer: {}. Give them shorter timeouts, or raise consumer_timeout in \
             rabbitmq.conf and RABBITMQ_CONSUMER_TIMEOUT_S with it",
            limit.as_secs_f64(),
            too_long.join("; ")
        ));
    }
    Ok(unbounded
        .into_iter()
        .map(|name| {
            format!(
                "listener {name} has no timeout: if it runs longer than RabbitMQ's consumer_timeout ({}s), \
                 the broker redelivers its job to another worker while it still runs; set `timeout`/`hard_timeout` \
                 on it, or SOFT_TIMEOUT_S/HARD_TIMEOUT_S",
                limit.as_secs_f64()
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(
        name: &'static str,
        soft: Option<u64>,
        hard: Option<u64>,
    ) -> ListenerTimeouts<'static> {
        ListenerTimeouts {
            event: "e",
            listener: name,
            soft: soft.map(Duration::from_secs),
            hard: hard.map(Duration::from_secs),
        }
    }

    const LIMIT: Option<Duration> = Some(Duration::from_secs(1800));

    #[test]
    fn shorter_timeouts_pass_and_missing_ones_warn() {
        let warnings = check(
            LIMIT,
            &JobDefaults::default(),
            [
                listener("quick", Some(60), None),
                listener("bounded", None, Some(1799)),
                listener("open", None, None),
            ],
        )
        .unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("`open`"), "{warnings:?}");
    }

    #[test]
    fn a_timeout_not_shorter_than_the_brokers_is_refused() {
        let error = check(
            LIMIT,
            &JobDefaults::default(),
            [
                listener("report", Some(60), Some(3600)),
                listener("exact", Some(1800), None),
                listener("fine", Some(10), None),
            ],
        )
        .unwrap_err();
        assert!(
            error.contains("`report` (event `e`) has a hard timeout of 3600s"),
            "{error}"
        );
        assert!(
            error.contains("`exact` (event `e`) has a soft timeout of 1800s"),
            "{error}"
        );
        assert!(!error.contains("fine"), "{error}");
        assert!(error.contains("RABBITMQ_CONSUMER_TIMEOUT_S"), "{error}");
    }

    #[test]
    fn defaults_apply_to_listeners_without_their_own() {
        let defaults = JobDefaults {
            hard_timeout: Some(Duration::from_secs(7200)),
            ..JobDefaults::default()
        };
        assert!(check(LIMIT, &defaults, [listener("open", None, None)]).is_err());
        let defaults = JobDefaults {
            timeout: Some(Duration::from_secs(600)),
            ..JobDefaults::default()
        };
        assert_eq!(
            check(LIMIT, &defaults, [listener("open", None, None)]),
            Ok(vec![])
        );
    }

    #[test]
    fn a_disabled_broker_timeout_checks_nothing() {
        assert_eq!(
            check(
                None,
                &JobDefaults::default(),
                [listener("x", None, Some(99_999))]
            ),
            Ok(vec![])
        );
    }
}

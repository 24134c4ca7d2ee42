//! Context: task-local, isolated between concurrent requests, refused when it
//! cannot travel, and visible in the listeners of events dispatched under it.

use fastevent::context::{self, ContextError, ContextKey, ContextSnapshot, LocalContextKey};
use fastevent::{Event, listener};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

static USER_ID: ContextKey<u64> = ContextKey::new("user_id");
static LOCALE: ContextKey<String> = ContextKey::new("locale");
static DB_HANDLE: LocalContextKey<std::sync::Arc<str>> = LocalContextKey::new("db_handle");

#[tokio::test]
async fn set_outside_a_scope_is_refused() {
    let error = context::set(&USER_ID, 1).unwrap_err();
    assert_eq!(error, ContextError::NoScope { key: "user_id" });
    assert!(error.to_string().contains("fastevent::context::scope"));
    assert_eq!(context::get(&USER_ID), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scopes_never_see_each_others_values() {
    let tasks: Vec<_> = (0..50u64)
        .map(|user| {
            tokio::spawn(context::scope(async move {
                context::set(&USER_ID, user).unwrap();
                for _ in 0..20 {
                    tokio::task::yield_now().await;
                    assert_eq!(context::get(&USER_ID), Some(user));
                }
            }))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn a_nested_scope_inherits_but_does_not_leak_back() {
    context::scope(async {
        context::set(&LOCALE, "de".to_string()).unwrap();
        context::scope(async {
            assert_eq!(context::get(&LOCALE).as_deref(), Some("de"));
            context::set(&LOCALE, "fr".to_string()).unwrap();
        })
        .await;
        assert_eq!(context::get(&LOCALE).as_deref(), Some("de"));
        context::remove(&LOCALE);
        assert_eq!(context::get(&LOCALE), None);
    })
    .await;
}

#[tokio::test]
async fn a_value_that_cannot_be_serialized_is_refused_at_set() {
    // JSON object keys must be strings: serde_json refuses tuple keys.
    static PAIRS: ContextKey<HashMap<(u8, u8), u8>> = ContextKey::new("pairs");
    context::scope(async {
        let error = context::set(&PAIRS, HashMap::from([((1, 2), 3)])).unwrap_err();
        assert!(
            matches!(&error, ContextError::NotSerializable { key: "pairs", .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("cannot be serialized"),
            "{error}"
        );
        assert_eq!(context::get(&PAIRS), None);
    })
    .await;
}

#[tokio::test]
async fn a_snapshot_survives_json_and_decodes_to_the_key_type() {
    let json = context::scope(async {
        context::set(&USER_ID, 42).unwrap();
        context::set(&LOCALE, "sk".to_string()).unwrap();
        context::set(&DB_HANDLE, "conn-1".into()).unwrap();
        ContextSnapshot::capture().to_json()
    })
    .await;
    // The local key does not travel.
    assert_eq!(
        json,
        BTreeMap::from([
            ("locale".to_string(), "\"sk\"".to_string()),
            ("user_id".to_string(), "42".to_string()),
        ])
    );
    ContextSnapshot::from_json(json)
        .scope(async {
            assert_eq!(context::get(&USER_ID), Some(42));
            assert_eq!(context::get(&LOCALE).as_deref(), Some("sk"));
            assert_eq!(context::get(&DB_HANDLE), None);
        })
        .await;
}

#[tokio::test]
async fn a_propagated_value_of_the_wrong_shape_is_reported_not_panicked() {
    let snapshot = ContextSnapshot::from_json(BTreeMap::from([(
        "user_id".into(),
        "\"not a number\"".into(),
    )]));
    snapshot
        .scope(async {
            let error = context::try_get(&USER_ID).unwrap_err();
            assert!(matches!(
                error,
                ContextError::Undecodable { key: "user_id", .. }
            ));
            assert_eq!(context::get(&USER_ID), None);
        })
        .await;
}

// --- listeners see the context of their dispatch --------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct ProfileViewed {
    profile: u64,
}

type Seen = (Option<u64>, Option<String>, Option<std::sync::Arc<str>>);
static SEEN: Mutex<Vec<(&str, u64, Seen)>> = Mutex::new(Vec::new());

#[derive(Default)]
struct RecordView;

#[listener(on = ProfileViewed)]
impl RecordView {
    async fn handle(&self, event: &ProfileViewed) {
        let seen = (
            context::get(&USER_ID),
            context::get(&LOCALE),
            context::get(&DB_HANDLE),
        );
        // A listener's own change must not reach its dispatcher.
        let _ = context::set(&LOCALE, "changed-by-listener".to_string());
        SEEN.lock()
            .unwrap()
            .push(("record_view", event.profile, seen));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_see_the_context_where_the_event_was_dispatched() {
    let requests: Vec<_> = (1..=20u64)
        .map(|user| {
            tokio::spawn(context::scope(async move {
                context::set(&USER_ID, user).unwrap();
                context::set(&LOCALE, format!("locale-{user}")).unwrap();
                context::set(&DB_HANDLE, format!("conn-{user}").into()).unwrap();
                let _ = ProfileViewed { profile: user }.dispatch().await.unwrap();
                ProfileViewed {
                    profile: 100 + user,
                }
                .dispatch_now()
                .await
                .unwrap();
                assert_eq!(context::get(&USER_ID), Some(user));
                // The listener set LOCALE too, in its own copy of the context.
                assert_eq!(context::get(&LOCALE), Some(format!("locale-{user}")));
            }))
        })
        .collect();
    for request in requests {
        request.await.unwrap();
    }
    fastevent::drain().await;
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen.len(), 40);
    for (_, profile, (user, locale, db)) in seen {
        if profile > 100 {
            // dispatch_now runs on the dispatching task: it sees everything.
            let user_id = profile - 100;
            assert_eq!(user, Some(user_id));
            assert_eq!(db.as_deref(), Some(format!("conn-{user_id}").as_str()));
        } else {
            // A queued job carries the propagating keys only.
            assert_eq!(user, Some(profile));
            assert_eq!(locale, Some(format!("locale-{profile}")));
            assert_eq!(db, None);
        }
    }
}

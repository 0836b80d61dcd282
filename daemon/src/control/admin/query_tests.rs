use std::cell::Cell;

use serde_json::json;

use super::*;

fn answers(reload_status: u16, reloads: Rc<Cell<u32>>) -> Answers {
    Answers {
        status: Box::new(|| json!({"peers": [{"name": "laptop"}]})),
        metrics: Box::new(|| "m 1\n".to_string()),
        reload: Box::new(move || {
            reloads.set(reloads.get() + 1);
            Box::pin(async move {
                match reload_status {
                    200 => (200, json!({"ok": true})),
                    s => (s, json!({"error": "the config does not parse"})),
                }
            })
        }),
    }
}

fn local(test: impl Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, test);
}

#[test]
fn the_status_comes_back_as_a_value_and_as_json_text() {
    local(async {
        let dp = answer_on_data_plane(answers(200, Rc::default()));
        assert_eq!(
            dp.status().await,
            Some(json!({"peers": [{"name": "laptop"}]}))
        );
        let reply = dp.ask(Query::Status).await;
        assert_eq!(reply.status, 200);
        let text: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(text["peers"][0]["name"], "laptop");
        assert_eq!(dp.ask(Query::Metrics).await.body, "m 1\n");
    });
}

#[test]
fn the_dashboard_reloads_as_post_reload_does() {
    use crate::control::dashboard::DaemonLink;
    local(async {
        let reloads = Rc::new(Cell::new(0));
        let dp = answer_on_data_plane(answers(200, reloads.clone()));
        assert_eq!(DaemonLink::reload(&dp).await, Ok(()));
        let refused = answer_on_data_plane(answers(400, reloads.clone()));
        let e = DaemonLink::reload(&refused).await.unwrap_err();
        assert_eq!(e, "reload refused (400): the config does not parse");
        assert_eq!(reloads.get(), 2);
        assert!(DaemonLink::status(&dp).await.is_some());
    });
}

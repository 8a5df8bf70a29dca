//! Parts of the cluster failing mid-run, met through the balancer: a replica killed, and
//! Redis killed and started again empty. Clients of the failed part are told at once; the
//! rest carry on, and recover by themselves.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::{Instant, timeout};

use super::{
    Cluster,
    pushback::{list_issues, succeeded},
};
use crate::common::cluster::{answer, open, post, wait_for_metric};

/// What "within 5 s" means in the issue: for an outage to be noticed, for a request to be
/// answered during one, and for the cluster to recover after it.
const WITHIN: Duration = Duration::from_secs(5);

fn tools_list(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"})
}

/// `kill -9` of the last replica, whose session is the last of `sessions` (one per replica):
/// a client opening a new session through the balancer is served within a second; the
/// killed replica's session answers 404 through the others, every time, at once; the other
/// sessions carry on, every call answered. The balancer sends a request whose connection the
/// dead replica refused to another one (deploy/haproxy.cfg does the same).
pub async fn a_replica_killed(cluster: &mut Cluster, sessions: &[String]) {
    let killed = cluster.replicas.len() - 1;
    cluster.replicas[killed].process.kill();
    let at = Instant::now();
    let balancer = &cluster.balancer.server;
    let session = open(balancer).await;
    answer(post(balancer, Some(&session), &tools_list(1)).await).await;
    assert!(at.elapsed() < Duration::from_secs(1), "{:?}", at.elapsed());
    // Round-robin: six rounds reach each replica, the dead one included, twice.
    for n in 0..6 {
        let gone = timeout(
            WITHIN,
            post(balancer, Some(&sessions[killed]), &tools_list(n)),
        )
        .await
        .expect("answered at once");
        assert_eq!(gone.status(), 404);
        for live in &sessions[..killed] {
            let listed = answer(post(balancer, Some(live), &list_issues(n)).await).await;
            assert!(succeeded(&listed), "{listed}");
        }
    }
}

/// Redis killed, then started again, empty. Meanwhile every replica still knows where the
/// others are, so the live sessions' calls are all answered, each within 5 s, and new
/// sessions open; within 5 s of its return every replica is connected again and all goes on.
pub async fn redis_restarted(cluster: &mut Cluster, sessions: &[String]) {
    let live = &cluster.replicas[..sessions.len()];
    cluster.redis.stop();
    for replica in live {
        wait_for_metric(&replica.server, "cluster_redis_up", 0, WITHIN).await;
    }
    let balancer = &cluster.balancer.server;
    for n in 0..3 {
        for session in sessions {
            let request = list_issues(n);
            let call = post(balancer, Some(session), &request);
            let listed = answer(timeout(WITHIN, call).await.expect("answered")).await;
            assert!(succeeded(&listed), "{listed}");
        }
    }
    let session = timeout(WITHIN, open(balancer)).await.expect("opened");

    cluster.redis.restart().await;
    for replica in live {
        wait_for_metric(&replica.server, "cluster_redis_up", 1, WITHIN).await;
    }
    for n in 0..3 {
        for session in sessions.iter().chain([&session]) {
            let listed = answer(post(balancer, Some(session), &list_issues(n)).await).await;
            assert!(succeeded(&listed), "{listed}");
        }
    }
}

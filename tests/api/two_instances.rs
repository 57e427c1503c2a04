//! Several instances, proven: two real `candor serve` processes on one
//! fresh PostgreSQL database behind a local nginx (loopback only), which
//! runs `deploy/nginx/candor.conf` as shipped but for plain HTTP on a
//! loopback port. It checks that
//!
//! 1. a write through the proxy, or on either instance, is on the other
//!    instance's page within 1 s;
//! 2. timed work that comes due while both run is done once (counted:
//!    owner reminders and overdue notices);
//! 3. one update fans out to 5,000 subscribers while one instance is
//!    killed with SIGKILL in the middle: every subscriber gets the mail, and
//!    fewer than one batch get it twice;
//! 4. a rolling restart (SIGTERM one, start it, then the other) under
//!    steady writes and reads through the proxy fails no request, loses no
//!    mail and sends none twice; timed work due during it is done once.
//!
//! It runs only when `CANDOR_TWO_INSTANCES` is set and the tests run on
//! PostgreSQL (`benches/two_instances.sh` sets both; CI runs it), and
//! prints what it measured. `CANDOR_TWO_INSTANCES_SUBSCRIBERS` changes the
//! fan-out's size (default 5,000).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use candor::delivery::worker::BATCH;
use serde_json::json;

use crate::helpers::mailbox::{free_port, Mailbox};
use crate::helpers::{id_of, TestDatabase, ADMIN_TOKEN};
use crate::processes::{admin_get, admin_post, client, without_colours, Process};

/// The sink holds each mail this long, like a relay: the fan-out takes
/// seconds, and the kill lands in its middle.
const SINK_DELAY_MS: u64 = 2;
/// Short, so that the survivor takes the killed instance's batch back in
/// seconds (a graceful stop gives its batch back without waiting for it).
const LEASE: &str = "3s";
/// Incidents whose promised update comes due while both instances run,
/// and again during the rolling restart.
const TIMED: usize = 12;
/// Readers of the component the steady updates of the rolling restart are on.
const STEADY_READERS: usize = 10;

#[tokio::test]
async fn two_instances_behind_nginx_share_pages_mail_and_timed_work_through_kill_and_restarts() {
    if std::env::var_os("CANDOR_TWO_INSTANCES").is_none() {
        eprintln!("two instances: skipped (benches/two_instances.sh runs it)");
        return;
    }
    if !std::env::var("CANDOR_TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres")) {
        eprintln!("two instances: skipped (several instances need PostgreSQL)");
        return;
    }
    let db = TestDatabase::create().await;
    let subscribers: usize = std::env::var("CANDOR_TWO_INSTANCES_SUBSCRIBERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let started = Instant::now();
    let mailbox = Mailbox::start_bulk(SINK_DELAY_MS);
    let ports = [free_port(), free_port()];
    let env = |port: u16| {
        vec![
            ("CANDOR_LISTEN".to_string(), format!("127.0.0.1:{port}")),
            ("CANDOR_DELIVERY_LEASE".to_string(), LEASE.to_string()),
            ("CANDOR_OVERDUE_GRACE".to_string(), "1s".to_string()),
            (
                "CANDOR_TRUSTED_PROXIES".to_string(),
                "127.0.0.1".to_string(),
            ),
            (
                "CANDOR_BASE_URL".to_string(),
                "http://status.example.test".to_string(),
            ),
        ]
    };
    let start = |port: u16| {
        let env = env(port);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Process::start(&db, &mailbox, &env)
    };
    let mut instances = [start(ports[0]), start(ports[1])];
    let direct = ports.map(|port| format!("http://127.0.0.1:{port}"));
    let nginx = Nginx::start(&db.dir.join("nginx"), ports);
    let proxy = nginx.url.clone();
    let client = client();

    // --- 1. A write on one instance is on the other's page within 1 s.
    let mut slowest = Duration::ZERO;
    let component = id_of(
        &admin_post(
            &client,
            &format!("{proxy}/api/v1/components"),
            &json!({"name": "Outbound SMTP"}),
        )
        .await,
    );
    for n in 0..6 {
        // Through the proxy, then on each instance in turn.
        let (writer, reader) = match n % 3 {
            0 => (&proxy, &direct[n % 2]),
            1 => (&direct[0], &direct[1]),
            _ => (&direct[1], &direct[0]),
        };
        let title = format!("Relay queue backlog {n}");
        let incident = admin_post(
            &client,
            &format!("{writer}/api/v1/incidents"),
            &json!({"title": title, "impact": "minor", "status": "investigating",
                    "owner": {"name": "Dana (IT Ops)", "email": "dana@acme.test"},
                    "next_update_in": 60, "components": {&component: "degraded_performance"},
                    "message": "Looking into it."}),
        )
        .await;
        let posted = Instant::now();
        loop {
            let page = client
                .get(format!("{reader}/"))
                .send()
                .await
                .expect("GET /")
                .text()
                .await
                .expect("page");
            if page.contains(&title) {
                break;
            }
            assert!(
                posted.elapsed() < Duration::from_secs(1),
                "{title} (written on {writer}) not on {reader}'s page after 1 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        slowest = slowest.max(posted.elapsed());
        admin_post(
            &client,
            &format!("{proxy}/api/v1/incidents/{}/updates", id_of(&incident)),
            &json!({"status": "resolved", "message": "Cleared."}),
        )
        .await;
    }
    eprintln!(
        "two instances: a write was on the other instance's page within {slowest:?} (slowest of 6)"
    );

    // --- 2. Timed work that comes due while both instances run.
    let timed_component = id_of(
        &admin_post(
            &client,
            &format!("{proxy}/api/v1/components"),
            &json!({"name": "Timed work"}),
        )
        .await,
    );
    let first_set = open_timed(&client, &proxy, &timed_component, "early", 3).await;

    // --- 3. 5,000 subscribers, one update, one instance killed midway.
    let mail_component = id_of(
        &admin_post(
            &client,
            &format!("{proxy}/api/v1/components"),
            &json!({"name": "Webmail"}),
        )
        .await,
    );
    // Two through the API, on each instance; the rest written at once, as
    // the API writes them (a few thousand POSTs take a minute here).
    for (i, url) in direct.iter().enumerate() {
        admin_post(
            &client,
            &format!("{url}/api/v1/subscribers"),
            &json!({"email": format!("reader{i:05}@example.test"), "confirmed": true,
                    "components": [&mail_component]}),
        )
        .await;
    }
    insert_subscribers(&db.url, 2..subscribers, &mail_component).await;
    let jobs_done = timed_work_done(&client, &proxy, &mailbox, &first_set, "early").await;
    eprintln!("two instances: {TIMED} promises came due while both ran: {jobs_done}");

    let mail_incident = id_of(
        &admin_post(
            &client,
            &format!("{proxy}/api/v1/incidents"),
            &json!({"title": "Webmail sign-in fails", "impact": "major",
                    "status": "investigating",
                    "owner": {"name": "Dana (IT Ops)", "email": "dana@acme.test"},
                    "next_update_in": 60, "components": {&mail_component: "major_outage"},
                    "message": "Sign-in to webmail fails for everyone."}),
        )
        .await,
    );
    let kill_after = subscribers * 2 / 5;
    let fan_out = Instant::now();
    let deadline = fan_out + Duration::from_secs(60);
    while mailbox.count() < kill_after {
        assert!(
            Instant::now() < deadline,
            "only {} mails arrived:\n{}",
            mailbox.count(),
            instances[0].output()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    instances[0].kill();
    let at_kill = mailbox.count();
    let report = format!("{}/api/v1/incidents/{mail_incident}/deliveries", direct[1]);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let totals = admin_get(&client, &report).await["totals"].clone();
        if totals["sent"] == subscribers && totals["pending"] == 0 && totals["failed"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the surviving instance did not finish the fan-out: {totals}\n{}",
            instances[1].output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fan_out_took = fan_out.elapsed();
    let got = mails_per_address(&mailbox);
    let missing = (0..subscribers)
        .filter(|i| !got.contains_key(&format!("reader{i:05}@example.test")))
        .count();
    let twice: usize = (0..subscribers)
        .filter_map(|i| got.get(&format!("reader{i:05}@example.test")))
        .map(|n| n.saturating_sub(1))
        .sum();
    eprintln!(
        "two instances: fan-out to {subscribers}: one instance killed after {at_kill} mails; \
         all sent in {fan_out_took:?}; {missing} missing, {twice} sent twice (a batch is {BATCH})"
    );
    assert_eq!(missing, 0, "subscribers got no mail");
    assert!(
        (twice as i64) < BATCH,
        "{twice} mails sent twice, a batch is {BATCH}"
    );
    // The work done before the kill was not done again.
    let jobs_after = timed_work_done(&client, &proxy, &mailbox, &first_set, "early").await;
    assert_eq!(jobs_after, jobs_done, "timed work ran again after the kill");
    instances[0] = start(ports[0]);

    // --- 4. A rolling restart under steady writes and reads.
    let steady_component = id_of(
        &admin_post(
            &client,
            &format!("{proxy}/api/v1/components"),
            &json!({"name": "VPN"}),
        )
        .await,
    );
    for i in 0..STEADY_READERS {
        admin_post(
            &client,
            &format!("{proxy}/api/v1/subscribers"),
            &json!({"email": format!("steady{i:02}@example.test"), "confirmed": true,
                    "components": [&steady_component]}),
        )
        .await;
    }
    let steady_incident = id_of(
        &admin_post(
            &client,
            &format!("{proxy}/api/v1/incidents"),
            &json!({"title": "VPN drops connections", "impact": "minor",
                    "status": "investigating",
                    "owner": {"name": "Dana (IT Ops)", "email": "dana@acme.test"},
                    "next_update_in": 60, "components": {&steady_component: "partial_outage"},
                    "message": "Some VPN sessions drop."}),
        )
        .await,
    );
    let traffic = Traffic::start(&client, &proxy, &steady_incident);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Promises that come due while the instances restart.
    let second_set = open_timed(&client, &proxy, &timed_component, "rolling", 2).await;
    let mut stops = Vec::new();
    for which in 0..2 {
        let (status, took) = instances[which].terminate(Duration::from_secs(30)).await;
        assert!(
            status.success(),
            "instance {which} exited with {status}:\n{}",
            instances[which].output()
        );
        let given_back = instances[which]
            .lines_with("deliveries_given_back")
            .concat();
        let given_back = without_colours(&given_back);
        let given_back = given_back
            .split("deliveries_given_back=")
            .nth(1)
            .unwrap_or("?");
        stops.push(format!(
            "{took:?}, given back {}",
            given_back.split(' ').next().unwrap_or("?")
        ));
        instances[which] = start(ports[which]);
        // Back in nginx's rotation before the other one goes: nginx took
        // it out after failed connections, for `fail_timeout`.
        nginx.wait_until_serving(&client, ports[which]).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (writes, reads, failures, served_by) = traffic.stop().await;
    eprintln!(
        "two instances: rolling restart: stops took {stops:?}; {writes} writes and {reads} \
         reads through the proxy, {} failed; served by {served_by:?}",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "requests failed at the proxy: {failures:?}"
    );

    // Every steady reader gets the opening and each update, once.
    let report = format!("{proxy}/api/v1/incidents/{steady_incident}/deliveries");
    let expected = writes + 1;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let totals = admin_get(&client, &report).await["totals"].clone();
        if totals["sent"] == expected * STEADY_READERS as u64
            && totals["pending"] == 0
            && totals["failed"] == 0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the steady updates' mail did not all go: {totals}, {expected} each expected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = mails_per_address(&mailbox);
    let per_reader: Vec<u64> = (0..STEADY_READERS)
        .map(|i| {
            got.get(&format!("steady{i:02}@example.test"))
                .copied()
                .unwrap_or(0) as u64
        })
        .collect();
    let lost: u64 = per_reader.iter().map(|n| expected.saturating_sub(*n)).sum();
    let repeated: u64 = per_reader.iter().map(|n| n.saturating_sub(expected)).sum();
    let rolling_jobs = timed_work_done(&client, &proxy, &mailbox, &second_set, "rolling").await;
    eprintln!(
        "two instances: {STEADY_READERS} readers of the steady updates expected {expected} mails \
         each: {lost} lost, {repeated} sent twice; promises due during the restart: {rolling_jobs}; \
         whole run {:?}",
        started.elapsed()
    );
    assert_eq!(lost, 0, "mail lost in the rolling restart: {per_reader:?}");
    assert_eq!(
        repeated, 0,
        "mail sent twice in the rolling restart: {per_reader:?}"
    );
    let again = timed_work_done(&client, &proxy, &mailbox, &first_set, "early").await;
    assert_eq!(again, jobs_done, "timed work ran again during the restart");

    drop(nginx);
    drop(instances);
}

/// Opens `TIMED` incidents on `component` whose promised update is
/// `in_secs` from now; their owners are `{tag}-owner{i}@acme.test`.
async fn open_timed(
    client: &reqwest::Client,
    proxy: &str,
    component: &str,
    tag: &str,
    in_secs: i64,
) -> Vec<String> {
    // Whole milliseconds, as Candor keeps times.
    let due = jiff::Timestamp::from_millisecond(
        jiff::Timestamp::now().as_millisecond() + in_secs * 1_000,
    )
    .expect("a time");
    let mut ids = Vec::new();
    for i in 0..TIMED {
        let incident = admin_post(
            client,
            &format!("{proxy}/api/v1/incidents"),
            &json!({"title": format!("Printing fails {tag} {i}"), "impact": "minor",
                    "status": "investigating",
                    "owner": {"name": format!("Owner {i}"),
                              "email": format!("{tag}-owner{i}@acme.test")},
                    "next_update_at": due.to_string(),
                    "components": {component: "degraded_performance"},
                    "message": "Printers are slow."}),
        )
        .await;
        ids.push(id_of(&incident));
    }
    ids
}

/// Owners' mails per promise that came due: the reminder at the due time,
/// and another when the grace ends and Candor posts the overdue notice.
const OWNER_MAILS: usize = 2;

/// Waits (up to 30 s) until each of `incidents` has its overdue notice and
/// its owner both mails; then says how many there are, and fails if any
/// was done twice.
async fn timed_work_done(
    client: &reqwest::Client,
    proxy: &str,
    mailbox: &Mailbox,
    incidents: &[String],
    tag: &str,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut notices = Vec::new();
        for id in incidents {
            let incident = admin_get(client, &format!("{proxy}/api/v1/incidents/{id}")).await;
            let count = (incident["entries"].as_array())
                .expect("entries")
                .iter()
                .filter(|e| {
                    (e["classes"].as_array())
                        .is_some_and(|c| c.iter().any(|c| c == "overdue_notice"))
                })
                .count();
            notices.push(count);
        }
        let got = mails_per_address(mailbox);
        let reminders: Vec<usize> = (0..incidents.len())
            .map(|i| {
                got.get(&format!("{tag}-owner{i}@acme.test"))
                    .copied()
                    .unwrap_or(0)
            })
            .collect();
        assert!(
            notices.iter().all(|n| *n <= 1),
            "an overdue notice posted twice: {notices:?}"
        );
        assert!(
            reminders.iter().all(|n| *n <= OWNER_MAILS),
            "an owner reminded twice: {reminders:?}"
        );
        if notices.iter().all(|n| *n == 1) && reminders.iter().all(|n| *n == OWNER_MAILS) {
            return format!(
                "{} overdue notices and {} owners' reminders ({OWNER_MAILS} each), each once",
                notices.len(),
                reminders.len()
            );
        }
        assert!(
            Instant::now() < deadline,
            "timed work not done: overdue notices {notices:?}, reminders {reminders:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Confirmed subscribers `reader{i:05}@example.test` of `component`, with
/// the values Candor's own API writes (as `benches/mail_fanout.sh` does).
async fn insert_subscribers(url: &str, range: std::ops::Range<usize>, component: &str) {
    use sqlx::Connection as _;
    let mut db = sqlx::PgConnection::connect(url)
        .await
        .expect("the database");
    let now = jiff::Timestamp::now().as_millisecond();
    let (first, last) = (range.start as i64, range.end as i64 - 1);
    let inserted = sqlx::query(
        "INSERT INTO subscribers (id, channel, address, state, all_components, created_at, \
         confirm_sent_at, confirmed_at, unsubscribed_at) \
         SELECT substr(md5(n::text), 1, 8) || lpad(n::text, 7, '0'), 'email', \
           'reader' || lpad(n::text, 5, '0') || '@example.test', 'confirmed', FALSE, $1, NULL, \
           $1, NULL FROM generate_series($2::bigint, $3::bigint) AS n",
    )
    .bind(now)
    .bind(first)
    .bind(last)
    .execute(&mut db)
    .await
    .expect("insert subscribers");
    assert_eq!(inserted.rows_affected() as usize, range.len());
    sqlx::query(
        "INSERT INTO subscriber_components (subscriber_id, component_id) \
         SELECT substr(md5(n::text), 1, 8) || lpad(n::text, 7, '0'), $1 \
         FROM generate_series($2::bigint, $3::bigint) AS n",
    )
    .bind(component)
    .bind(first)
    .bind(last)
    .execute(&mut db)
    .await
    .expect("subscribe them to the component");
    sqlx::query("VACUUM ANALYZE subscribers")
        .execute(&mut db)
        .await
        .expect("vacuum");
    db.close().await.expect("close");
}

/// How many mails each address received.
fn mails_per_address(mailbox: &Mailbox) -> HashMap<String, usize> {
    let mut got: HashMap<String, usize> = HashMap::new();
    for mail in mailbox.mails() {
        for to in mail.to {
            *got.entry(to).or_default() += 1;
        }
    }
    got
}

/// nginx on a loopback port, running `deploy/nginx/candor.conf` for plain
/// HTTP, in front of the two instances; it names the instance that
/// answered in `X-Candor-Upstream`.
struct Nginx {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Nginx {
    fn start(dir: &Path, ports: [u16; 2]) -> Self {
        std::fs::create_dir_all(dir.join("logs")).expect("nginx folder");
        std::fs::create_dir_all(dir.join("tmp")).expect("nginx folder");
        let shipped = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/nginx/candor.conf"
        ))
        .expect("deploy/nginx/candor.conf");
        let port = free_port();
        let conf = plain_http(&shipped, port, ports);
        std::fs::write(dir.join("candor.conf"), conf).expect("write nginx config");
        let d = dir.display();
        std::fs::write(
            dir.join("nginx.conf"),
            format!(
                "pid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\nworker_processes 1;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n    access_log off;\n    client_body_temp_path {d}/tmp/body;\n\
                 proxy_temp_path {d}/tmp/proxy;\n    fastcgi_temp_path {d}/tmp/fastcgi;\n\
                 uwsgi_temp_path {d}/tmp/uwsgi;\n    scgi_temp_path {d}/tmp/scgi;\n\
                 include {d}/candor.conf;\n}}\n"
            ),
        )
        .expect("write nginx.conf");
        let child = Command::new("nginx")
            .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx runs (Debian: apt-get install nginx)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
        }
    }

    /// Waits (up to 30 s) until nginx sends requests to the instance on
    /// `port` again.
    async fn wait_until_serving(&self, client: &reqwest::Client, port: u16) {
        let upstream = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = client
                .get(format!("{}/", self.url))
                .send()
                .await
                .expect("GET / through nginx");
            if answer
                .headers()
                .get("x-candor-upstream")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.ends_with(&upstream))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx sent nothing to {upstream} within 30 s:\n{}",
                std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers too (SIGKILL would not).
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: a signal to our own child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shipped configuration for plain HTTP on `127.0.0.1:port`: no TLS
/// (its lines and the redirect from port 80 go), the two instances on
/// loopback, and the answering instance named in a header. The proxying
/// itself (balancing, retries, keep-alive, timeouts) is as shipped.
fn plain_http(shipped: &str, port: u16, instances: [u16; 2]) -> String {
    let mut out = String::new();
    let mut skipping_redirect = false;
    for line in shipped.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("#") {
            continue;
        }
        if trimmed == "listen 80;" {
            // The redirect's server block: dropped whole.
            skipping_redirect = true;
            out.truncate(out.rfind("server {").expect("the redirect's server block"));
            continue;
        }
        if skipping_redirect {
            if trimmed == "}" {
                skipping_redirect = false;
            }
            continue;
        }
        if trimmed.starts_with("ssl_") {
            continue;
        }
        let line = match trimmed {
            "listen 443 ssl http2;" => format!("    listen 127.0.0.1:{port};"),
            t if t.starts_with("location / {") => {
                format!("{line}\n        add_header X-Candor-Upstream $upstream_addr always;")
            }
            _ => line
                .replace("candor-a:8080", &format!("127.0.0.1:{}", instances[0]))
                .replace("candor-b:8080", &format!("127.0.0.1:{}", instances[1])),
        };
        out.push_str(&line);
        out.push('\n');
    }
    assert!(
        out.contains(&format!("listen 127.0.0.1:{port};"))
            && out.contains(&format!("127.0.0.1:{}", instances[1]))
            && !out.contains("ssl"),
        "deploy/nginx/candor.conf changed shape; update this test:\n{out}"
    );
    out
}

/// Steady writes (an update every 100 ms) and reads (the page and, twice,
/// the summary, each every 20 ms) through the proxy, each request's
/// outcome kept.
struct Traffic {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<String>>>,
    writes: Arc<AtomicU64>,
    reads: Arc<AtomicU64>,
    served_by: Arc<std::sync::Mutex<HashMap<String, u64>>>,
}

impl Traffic {
    fn start(client: &reqwest::Client, proxy: &str, incident: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (writes, reads) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let served_by: Arc<std::sync::Mutex<HashMap<String, u64>>> = Arc::default();
        let writer = {
            let (client, stop, writes, served_by) = (
                client.clone(),
                stop.clone(),
                writes.clone(),
                served_by.clone(),
            );
            let url = format!("{proxy}/api/v1/incidents/{incident}/updates");
            tokio::spawn(async move {
                let mut failures = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Acquire) {
                    n += 1;
                    let answer = client
                        .post(&url)
                        .bearer_auth(ADMIN_TOKEN)
                        .json(&json!({"status": "identified",
                                      "message": format!("Still working on it ({n})."),
                                      "next_update_in": 60}))
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status() == 201 => {
                            writes.fetch_add(1, Ordering::AcqRel);
                            count_upstream(&served_by, &answer);
                        }
                        Ok(answer) => failures.push(format!(
                            "POST {n}: {} {}",
                            answer.status(),
                            answer.text().await.unwrap_or_default()
                        )),
                        Err(err) => failures.push(format!("POST {n}: {err}")),
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                failures
            })
        };
        let reader = |path: &str| {
            let (client, stop, reads, served_by) = (
                client.clone(),
                stop.clone(),
                reads.clone(),
                served_by.clone(),
            );
            let url = format!("{proxy}{path}");
            tokio::spawn(async move {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Acquire) {
                    match client.get(&url).send().await {
                        Ok(answer) if answer.status() == 200 => {
                            count_upstream(&served_by, &answer);
                            let _ = answer.bytes().await;
                            reads.fetch_add(1, Ordering::AcqRel);
                        }
                        Ok(answer) => failures.push(format!("GET {url}: {}", answer.status())),
                        Err(err) => failures.push(format!("GET {url}: {err}")),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                failures
            })
        };
        let tasks = vec![
            writer,
            reader("/"),
            reader("/api/v2/summary.json"),
            reader("/api/v2/summary.json"),
        ];
        Self {
            stop,
            tasks,
            writes,
            reads,
            served_by,
        }
    }

    /// Stops; (writes that succeeded, reads that succeeded, failures, how
    /// many answers each instance gave).
    async fn stop(self) -> (u64, u64, Vec<String>, HashMap<String, u64>) {
        self.stop.store(true, Ordering::Release);
        let mut failures = Vec::new();
        for task in self.tasks {
            failures.extend(task.await.expect("traffic task"));
        }
        let served_by = self.served_by.lock().unwrap().clone();
        (
            self.writes.load(Ordering::Acquire),
            self.reads.load(Ordering::Acquire),
            failures,
            served_by,
        )
    }
}

fn count_upstream(served_by: &std::sync::Mutex<HashMap<String, u64>>, answer: &reqwest::Response) {
    let upstream = (answer.headers().get("x-candor-upstream"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_string();
    *served_by.lock().unwrap().entry(upstream).or_default() += 1;
}
